#include "agent/config_merge.h"

#include <fcntl.h>
#include <sodium.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

namespace eca {
namespace {

constexpr std::size_t kMaxConfigFileSize = 16 * 1024 * 1024;

void wipe(std::string& s) {
  if (!s.empty()) sodium_memzero(s.data(), s.size());
  s.clear();
}

MergedNode make_node(const toml::node& n, const ConfigDocument* doc, int key_line);

void merge_table(MergedNode& dst, const toml::table& src, const ConfigDocument* doc) {
  for (auto&& [k, v] : src) {
    std::string key(k.str());
    int key_line = static_cast<int>(k.source().begin.line);
    auto it = dst.members.find(key);
    if (it != dst.members.end()) {
      MergedNode& cur = it->second;
      if (v.is_table() && cur.node->is_table()) {
        merge_table(cur, *v.as_table(), doc);
        continue;
      }
      if (v.is_array() && cur.node->is_array()) {
        for (const auto& e : *v.as_array())
          cur.items.push_back(make_node(e, doc, static_cast<int>(e.source().begin.line)));
        continue;
      }
      it->second = make_node(v, doc, key_line);
      continue;
    }
    dst.members.emplace(std::move(key), make_node(v, doc, key_line));
  }
}

MergedNode make_node(const toml::node& n, const ConfigDocument* doc, int key_line) {
  MergedNode m;
  m.node = &n;
  m.doc = doc;
  m.key_line = key_line;
  if (const auto* t = n.as_table()) {
    merge_table(m, *t, doc);
  } else if (const auto* a = n.as_array()) {
    m.items.reserve(a->size());
    for (const auto& e : *a)
      m.items.push_back(make_node(e, doc, static_cast<int>(e.source().begin.line)));
  }
  return m;
}

void wipe_in(toml::node& n, const std::vector<std::string>& keys, bool named) {
  if (auto* t = n.as_table()) {
    for (auto&& [k, v] : *t) {
      bool match = std::find(keys.begin(), keys.end(), k.str()) != keys.end();
      wipe_in(v, keys, match);
    }
  } else if (auto* a = n.as_array()) {
    for (auto& e : *a) wipe_in(e, keys, named);
  } else if (named) {
    if (auto* s = n.as_string()) wipe(s->get());
  }
}

}  // namespace

bool ConfigSources::add_file(const std::filesystem::path& file, std::vector<SyntaxError>& errors) {
  std::string shown = file.string();
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    errors.push_back({shown, 0, 0, std::string("cannot open: ") + std::strerror(errno)});
    return false;
  }
  std::string text;
  char buf[8192];
  bool ok = true;
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      errors.push_back({shown, 0, 0, std::string("cannot read: ") + std::strerror(errno)});
      ok = false;
      break;
    }
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > kMaxConfigFileSize) {
      errors.push_back({shown, 0, 0, "file is too large (over 16 MiB)"});
      ok = false;
      break;
    }
  }
  sodium_memzero(buf, sizeof buf);
  ::close(fd);
  if (!ok) {
    wipe(text);
    return false;
  }
  auto doc = std::make_unique<ConfigDocument>();
  doc->path = shown;
  try {
    doc->table = toml::parse(text, std::string(shown));
  } catch (const toml::parse_error& e) {
    errors.push_back({shown, static_cast<int>(e.source().begin.line),
                      static_cast<int>(e.source().begin.column), std::string(e.description())});
    ok = false;
  } catch (const std::exception& e) {
    errors.push_back({shown, 0, 0, std::string("cannot parse: ") + e.what()});
    ok = false;
  }
  wipe(text);
  if (ok) docs_.push_back(std::move(doc));
  return ok;
}

std::vector<std::filesystem::path> ConfigSources::drop_ins(const std::filesystem::path& main_file,
                                                           std::vector<SyntaxError>& errors) {
  std::vector<std::filesystem::path> out;
  std::filesystem::path dir = main_file.parent_path() / "conf.d";
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec)) return out;
  if (!std::filesystem::is_directory(dir, ec)) {
    errors.push_back({dir.string(), 0, 0, "is not a directory"});
    return out;
  }
  std::filesystem::directory_iterator it(dir, ec), end;
  if (ec) {
    errors.push_back({dir.string(), 0, 0, "cannot list: " + ec.message()});
    return out;
  }
  for (; it != end; it.increment(ec)) {
    if (ec) {
      errors.push_back({dir.string(), 0, 0, "cannot list: " + ec.message()});
      break;
    }
    const auto& p = it->path();
    std::string name = p.filename().string();
    if (name.empty() || name[0] == '.' || p.extension() != ".toml") continue;
    std::error_code ec2;
    if (!std::filesystem::is_regular_file(p, ec2)) continue;
    out.push_back(p);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.filename().string() < b.filename().string();
  });
  return out;
}

MergedNode ConfigSources::merge() const {
  MergedNode root;
  for (const auto& d : docs_) {
    if (root.node == nullptr) {
      root = make_node(d->table, d.get(), 0);
    } else {
      merge_table(root, d->table, d.get());
    }
  }
  return root;
}

void ConfigSources::wipe_strings_named(const std::vector<std::string>& keys) {
  for (auto& d : docs_) wipe_in(d->table, keys, false);
}

}  // namespace eca
