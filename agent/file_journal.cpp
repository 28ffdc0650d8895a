#include "agent/file_journal.h"

#include <sys/stat.h>

#include <cstdlib>

#include "agent/atomic_file.h"
#include "common/json.h"
#include "crypto/journal_seal.h"

namespace eca {
namespace {

const char* phase_name(JournalPhase p) {
  switch (p) {
    case JournalPhase::Intent:
      return "intent";
    case JournalPhase::Staged:
      return "staged";
    case JournalPhase::Promoted:
      return "promoted";
  }
  return "staged";
}

}  // namespace

FileJournal::FileJournal(std::filesystem::path state_dir)
    : dir_(state_dir / "journal"), state_dir_(std::move(state_dir)) {}

Status FileJournal::open() {
  if (auto st = ensure_private_dir(state_dir_); !st) return st;
  if (auto st = ensure_private_dir(dir_); !st) return st;
  std::filesystem::path key_path;
  if (const char* cred = std::getenv("CREDENTIALS_DIRECTORY"); cred != nullptr) {
    std::filesystem::path p = std::filesystem::path(cred) / "journal-key";
    std::error_code ec;
    if (std::filesystem::exists(p, ec)) key_path = p;
  }
  if (key_path.empty()) {
    key_path = state_dir_ / "journal.key";
    std::error_code ec;
    if (!std::filesystem::exists(key_path, ec)) {
      Secret raw = journal_seal::new_key();
      if (auto st = write_file_atomically(key_path, raw.view()); !st) return st;
      ::chmod(key_path.c_str(), 0400);
    }
  }
  struct stat st {};
  if (::stat(key_path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
    return Error::permanent("journal key " + key_path.string() +
                            " is accessible by group or others; run: chmod 400 " +
                            key_path.string());
  }
  auto key = read_file_secret(key_path, 256);
  if (!key) return key.error();
  if (key->size() != journal_seal::kKeyBytes) {
    return Error::permanent("journal key " + key_path.string() + " must be exactly 32 bytes");
  }
  key_ = std::move(key.value());
  return ok_status();
}

std::filesystem::path FileJournal::path_for(const std::string& rotation) const {
  return dir_ / (rotation + ".rec");
}

Status FileJournal::write(const JournalEntry& e) {
  if (key_.empty()) return Error::permanent("journal used before open()");
  Secret plain;
  plain.append("{\"rotation\":\"" + json::escape(e.rotation) +
               "\",\"generation\":" + std::to_string(e.generation) + ",\"app_id\":\"" +
               json::escape(e.app_id) + "\",\"consumer_id\":\"" + json::escape(e.consumer_id) +
               "\",\"staged_id\":\"" + json::escape(e.staged_id) + "\",\"phase\":\"" +
               phase_name(e.phase) + "\",\"manual\":" + (e.manual ? "true" : "false") +
               ",\"config\":\"" + json::escape(e.config_fingerprint) + "\",\"written_at\":\"" +
               json::escape(e.written_at) + "\",\"key\":\"");
  json::append_escaped(plain, e.key.view());
  plain.append("\",\"secret\":\"");
  json::append_escaped(plain, e.secret.view());
  plain.append("\"}");

  return write_file_atomically(path_for(e.rotation),
                               journal_seal::seal(key_, e.rotation, e.generation, plain));
}

Result<std::optional<JournalEntry>> FileJournal::read(const std::string& rotation) {
  auto path = path_for(rotation);
  auto raw = read_file_secret(path, 64 * 1024);
  if (!raw) {
    if (raw.error().code == "ENOENT") return std::optional<JournalEntry>();
    return raw.error();
  }
  const std::string what = "journal record " + path.string();
  auto opened = journal_seal::open(key_, rotation, raw->view(), what);
  if (!opened) return opened.error();
  Secret& plain = opened->plain;
  rapidjson::Document doc;
  auto p = json::parse_in_place(plain, doc, what);
  if (!p || !doc.IsObject()) return Error::permanent(what + " decrypted to malformed content");
  JournalEntry e;
  e.rotation = rotation;
  e.generation = opened->generation;
  auto get = [&](const char* k) { return std::string(json::str(doc, k).value_or("")); };
  e.app_id = get("app_id");
  e.consumer_id = get("consumer_id");
  e.staged_id = get("staged_id");
  e.config_fingerprint = get("config");
  std::string phase = get("phase");
  e.phase = phase == "promoted" ? JournalPhase::Promoted
            : phase == "intent" ? JournalPhase::Intent
                                : JournalPhase::Staged;
  e.written_at = get("written_at");
  auto m = doc.FindMember("manual");
  e.manual = m != doc.MemberEnd() && m->value.IsBool() && m->value.GetBool();
  e.key = Secret(json::str(doc, "key").value_or(""));
  e.secret = Secret(json::str(doc, "secret").value_or(""));
  const bool needs_pair = e.phase != JournalPhase::Intent;
  if ((needs_pair && (e.key.empty() || e.secret.empty())) || get("rotation") != rotation) {
    return Error::permanent(what + " decrypted to an incomplete record");
  }
  return std::optional<JournalEntry>(std::move(e));
}

Status FileJournal::clear(const std::string& rotation) {
  // Not fsynced: if a power loss undoes the removal, the entry of a completed rotation comes
  // back and its roll-forward finds the pair promoted and published, and only commits.
  // (Any later journal write for this directory makes the removal durable anyway.)
  return remove_file(path_for(rotation), Durability::Content);
}

std::vector<std::string> FileJournal::pending() const {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
    auto name = entry.path().filename().string();
    if (name.size() > 4 && name.substr(name.size() - 4) == ".rec" && name[0] != '.') {
      out.push_back(name.substr(0, name.size() - 4));
    }
  }
  return out;
}

}  // namespace eca
