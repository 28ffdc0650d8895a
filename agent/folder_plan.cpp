#include "agent/folder_plan.h"

#include <algorithm>

namespace eca {
namespace {

// Whether `path` lies strictly below folder `parent`.
bool below(const std::string& path, const std::string& parent) {
  if (parent == "/") return path != "/";
  return path.size() > parent.size() && path.compare(0, parent.size(), parent) == 0 &&
         path[parent.size()] == '/';
}

}  // namespace

std::string common_folder(const std::vector<std::string>& paths) {
  if (paths.empty()) return "/";
  std::string prefix = paths.front();
  for (const auto& p : paths) {
    while (prefix != "/" && p != prefix && !below(p, prefix)) {
      const auto slash = prefix.rfind('/');
      prefix = slash == 0 ? "/" : prefix.substr(0, slash);
    }
  }
  return prefix;
}

std::string common_parent(const std::vector<std::string>& paths) {
  std::string prefix = common_folder(paths);
  // A folder the rotations use itself may not exist either: list from its parent.
  if (prefix != "/" && std::find(paths.begin(), paths.end(), prefix) != paths.end()) {
    const auto slash = prefix.rfind('/');
    prefix = slash == 0 ? "/" : prefix.substr(0, slash);
  }
  return prefix;
}

std::vector<std::string> folders_to_create(const std::vector<std::string>& wanted,
                                           const std::set<std::string>& existing) {
  // Every missing folder above a wanted one (a wanted folder counts when another lies
  // below it): those are what parallel creates of the wanted folders would share.
  std::set<std::string> shared;
  for (const auto& w : wanted) {
    for (auto slash = w.rfind('/'); slash != std::string::npos && slash > 0;
         slash = w.rfind('/', slash - 1)) {
      const std::string parent = w.substr(0, slash);
      if (existing.count(parent) == 0) shared.insert(parent);
    }
  }
  std::vector<std::string> out;
  for (const auto& m : shared) {
    const bool has_deeper = std::any_of(shared.begin(), shared.end(),
                                        [&](const std::string& other) { return below(other, m); });
    if (!has_deeper) out.push_back(m);
  }
  return out;  // sorted: "/a/b" before "/a/c", the "/a" they share created by the first
}

void prepare_folders(InfisicalApi& infisical, const std::vector<const RotationSettings*>& todo,
                     Logger& log) {
  if (todo.size() < 2) return;
  std::vector<std::string> wanted;
  for (const auto* r : todo) wanted.push_back(r->secret_path);
  const std::string parent = common_parent(wanted);
  auto listed = infisical.list_folders_recursive(parent);
  if (!listed) {
    log.info("", "folders",
             "could not list the Infisical folders under " + parent + " (" +
                 listed.error().describe() + "); each rotation creates its own folder");
    return;
  }
  std::set<std::string> existing(listed->begin(), listed->end());
  // The listed folder holds something, so it exists (an empty answer cannot tell: a
  // missing folder lists as empty too).
  if (!listed->empty()) existing.insert(parent);
  for (const auto& path : folders_to_create(wanted, existing)) {
    // One at a time: each create finds the parents the previous one made.
    if (auto st = infisical.create_folder(path); !st) {
      log.info("", "folders",
               "creating Infisical folder " + path + " failed (" + st.error().describe() +
                   "); the rotations under it try again");
      return;
    }
    log.info("", "folders", "created Infisical folder " + path + " for the rotations under it");
  }
}

}  // namespace eca
