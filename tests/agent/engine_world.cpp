#include "tests/agent/engine_world.h"

#include <chrono>

#include "agent/rotation_engine.h"

namespace eca::enginetest {
namespace {

// Salesforce keeps a Rotated credential valid for about 30 days after the promote.
constexpr auto kRotatedLifetime = std::chrono::hours(24 * 30);

bool slot_live(const World& w) {
  return w.slot && (w.slot->state != StagedState::Rotated || w.now < w.slot->expires);
}

SfStaged to_staged(const SlotCredential& s) {
  SfStaged out;
  out.id = s.id;
  out.key = Secret(s.pair.key);
  out.secret = Secret(s.pair.secret);
  out.state = s.state;
  out.created_date = format_utc(s.created);
  if (s.state == StagedState::Rotated) out.expiration_date = format_utc(s.expires);
  return out;
}

}  // namespace

World::World()
    : now(std::chrono::sys_days(std::chrono::year{2026} / 11 / 2) + std::chrono::hours(3)) {
  connection = new_pair();
  primary = new_pair();
}

Pair World::new_pair() {
  ++counter_;
  return {"3MVG-key-" + std::to_string(counter_), "secret-" + std::to_string(counter_)};
}

std::string World::new_id(const char* prefix) {
  std::string n = std::to_string(++counter_);
  return prefix + std::string(15 - n.size(), '0') + n;  // 18 characters
}

bool World::authenticates(const Pair& p) const {
  if (p.key == primary.key) return p.secret == primary.secret;
  return slot_live(*this) && slot->pair.key == p.key && slot->pair.secret == p.secret;
}

std::set<std::string> World::valid_keys() const {
  std::set<std::string> keys{primary.key};
  if (slot_live(*this)) keys.insert(slot->pair.key);
  return keys;
}

std::optional<Pair> World::held() const {
  auto folder = secrets.find(secret_path);
  if (folder == secrets.end()) return std::nullopt;
  auto k = folder->second.find("SALESFORCE_CONSUMER_KEY");
  auto s = folder->second.find("SALESFORCE_CONSUMER_SECRET");
  if (k == folder->second.end() || s == folder->second.end()) return std::nullopt;
  return Pair{k->second.value, s->second.value};
}

std::map<std::string, std::string> World::held_metadata() const {
  auto folder = secrets.find(secret_path);
  if (folder == secrets.end()) return {};
  auto k = folder->second.find("SALESFORCE_CONSUMER_KEY");
  return k == folder->second.end() ? std::map<std::string, std::string>{} : k->second.metadata;
}

JournalEntry copy_entry(const JournalEntry& e) {
  JournalEntry c;
  c.rotation = e.rotation;
  c.generation = e.generation;
  c.app_id = e.app_id;
  c.consumer_id = e.consumer_id;
  c.staged_id = e.staged_id;
  c.key = e.key.clone();
  c.secret = e.secret.clone();
  c.phase = e.phase;
  c.written_at = e.written_at;
  c.manual = e.manual;
  c.config_fingerprint = e.config_fingerprint;
  return c;
}

// --- Salesforce ---

SfFake::SfFake(World& w) : w_(w) {
  ep_.name = "acme";
  ep_.my_domain_url = "https://acme.my.salesforce.com";
  ep_.client_id = w.connection.key;
  ep_.client_secret = Secret(w.connection.secret);
}

Result<std::vector<SfConsumer>> SfFake::consumers(const std::string& app_id) {
  return w_.operation("sf.consumers", [&]() -> Result<std::vector<SfConsumer>> {
    if (app_id != w_.app_id) return Error::permanent("404 NOT_FOUND: no such app");
    std::vector<SfConsumer> out(1);
    out[0].id = w_.consumer_id;
    out[0].key = Secret(w_.primary.key);
    out[0].name = "Billing";
    return out;
  });
}

Result<SfPair> SfFake::read_primary(const std::string&, const std::string&) {
  return w_.operation("sf.read_primary", [&]() -> Result<SfPair> {
    return SfPair{Secret(w_.primary.key), Secret(w_.primary.secret)};
  });
}

Result<std::vector<SfStaged>> SfFake::staged(const std::string&, const std::string&) {
  return w_.operation("sf.staged_list", [&]() -> Result<std::vector<SfStaged>> {
    std::vector<SfStaged> out;
    if (slot_live(w_)) out.push_back(to_staged(*w_.slot));
    return out;
  });
}

Result<SfStaged> SfFake::stage(const std::string&, const std::string&) {
  return w_.operation("sf.stage", [&]() -> Result<SfStaged> {
    if (slot_live(w_)) {
      return Error::permanent("400 INVALID_INPUT: A staged credential already exists");
    }
    SlotCredential s;
    s.id = w_.new_id("0Ls");
    s.pair = w_.new_pair();
    s.created = w_.now;
    w_.slot = s;
    return to_staged(s);
  });
}

Status SfFake::promote(const std::string&, const std::string&, const std::string& staged_id) {
  return w_.operation("sf.promote", [&]() -> Status {
    if (!w_.slot || w_.slot->id != staged_id || w_.slot->state != StagedState::Active) {
      return Error::permanent("404 NOT_FOUND: no Active staged credential " + staged_id);
    }
    SlotCredential rotated;
    rotated.id = w_.new_id("0Ls");
    rotated.pair = w_.primary;
    rotated.state = StagedState::Rotated;
    rotated.created = w_.now;
    rotated.expires = w_.now + kRotatedLifetime;
    w_.primary = w_.slot->pair;
    w_.slot = rotated;
    ++w_.promotes;
    return ok_status();
  });
}

Status SfFake::revoke(const std::string&, const std::string&, const std::string& staged_id) {
  return w_.operation("sf.revoke", [&]() -> Status {
    if (!w_.slot || w_.slot->id != staged_id) return ok_status();  // 404: already gone
    if (auto held = w_.held(); held && held->key == w_.slot->pair.key) {
      w_.violations.push_back("revoked the credential Infisical holds (" + staged_id + ")");
    }
    w_.slot.reset();
    return ok_status();
  });
}

Status SfFake::verify(const Secret& key, const Secret& secret) {
  return w_.operation("sf.token", [&]() -> Status {
    if (w_.authenticates({std::string(key.view()), std::string(secret.view())})) {
      return ok_status();
    }
    return Error::auth("400 invalid_client: invalid client credentials");
  });
}

// --- Infisical ---

Result<std::vector<StoredSecret>> InfisicalFake::list(const std::string& path) {
  return w_.operation("inf.list", [&]() -> Result<std::vector<StoredSecret>> {
    std::vector<StoredSecret> out;
    auto folder = w_.secrets.find(path);
    if (folder == w_.secrets.end()) return out;
    for (const auto& [name, v] : folder->second) {
      StoredSecret s;
      s.name = name;
      s.value = Secret(v.value);
      s.metadata = v.metadata;
      out.push_back(std::move(s));
    }
    return out;
  });
}

Status InfisicalFake::upsert(const std::string& path, std::vector<SecretWrite>& writes,
                             std::vector<StoredSecret>* echoed) {
  // The engine's write check (a batch of the one check secret) is told apart from the
  // publish so that tests can crash at either.
  const bool check = writes.size() == 1 && writes[0].name == kWriteCheckSecret;
  return w_.operation(check ? "inf.write_check" : "inf.upsert", [&]() -> Status {
    if (w_.writes == World::Writes::Forbidden) {
      return Error::permanent("writing Infisical secrets at " + path +
                              " failed: You are not allowed to create on secrets");
    }
    if (w_.writes == World::Writes::NeedApproval) {
      return Error::permanent("Infisical answered with an approval request for " + path +
                              ": nothing was written");
    }
    // The real client creates a missing folder and retries; one batch lands as a whole.
    w_.folders.insert(path);
    for (const auto& wr : writes) {
      w_.secrets[path][wr.name] = StoredValue{std::string(wr.value.view()), wr.metadata};
      if (echoed != nullptr) {
        StoredSecret s;
        s.name = wr.name;
        s.value = wr.value.clone();
        echoed->push_back(std::move(s));  // the answer carries values, not metadata
      }
    }
    return ok_status();
  });
}

Status InfisicalFake::create_folder(const std::string& path) {
  return w_.operation("inf.folder_create", [&]() -> Status {
    if (w_.writes == World::Writes::Forbidden) {
      return Error::permanent("creating Infisical folder " + path +
                              " failed: You are not allowed to create on secret-folders");
    }
    w_.folders.insert(path);
    return ok_status();
  });
}

Status InfisicalFake::probe_environment() {
  return w_.operation("inf.folder_list", [&]() -> Status { return ok_status(); });
}

// --- local disk ---

Status JournalFake::write(const JournalEntry& entry) {
  return w_.operation("journal.write", [&]() -> Status {
    w_.journal[entry.rotation] = copy_entry(entry);
    return ok_status();
  });
}

Result<std::optional<JournalEntry>> JournalFake::read(const std::string& rotation) {
  auto it = w_.journal.find(rotation);
  if (it == w_.journal.end()) return std::optional<JournalEntry>();
  return std::optional<JournalEntry>(copy_entry(it->second));
}

Status JournalFake::clear(const std::string& rotation) {
  return w_.operation("journal.clear", [&]() -> Status {
    w_.journal.erase(rotation);
    return ok_status();
  });
}

Result<std::optional<RotationRecord>> RecordsFake::load(const std::string& name) const {
  auto it = w_.records.find(name);
  if (it == w_.records.end()) return std::optional<RotationRecord>();
  return std::optional<RotationRecord>(it->second);
}

Status RecordsFake::save(const RotationRecord& record) {
  return w_.operation("records.save", [&]() -> Status {
    w_.records[record.name] = record;
    return ok_status();
  });
}

}  // namespace eca::enginetest
