#include "agent/state_store.h"

#include "agent/atomic_file.h"
#include "common/json.h"

namespace eca {
namespace {

std::string time_or_empty(const std::optional<TimePoint>& t) {
  return t ? format_utc(*t) : "";
}

std::optional<TimePoint> parse_optional(const rapidjson::Value& doc, const char* name) {
  auto s = json::str(doc, name);
  TimePoint t;
  if (s && !s->empty() && parse_timestamp(*s, t)) return t;
  return std::nullopt;
}

}  // namespace

StateStore::StateStore(std::filesystem::path state_dir) : dir_(std::move(state_dir)) {}

Status StateStore::init() {
  if (auto st = ensure_private_dir(dir_); !st) return st;
  return ensure_private_dir(dir_ / "rotations");
}

Result<std::optional<RotationRecord>> StateStore::load(const std::string& name) const {
  auto path = dir_ / "rotations" / (name + ".json");
  auto content = read_file_secret(path, 64 * 1024);
  if (!content) {
    if (content.error().code == "ENOENT") return std::optional<RotationRecord>();
    return content.error();
  }
  rapidjson::Document doc;
  auto p = json::parse_in_place(content.value(), doc, "state file " + path.string());
  if (!p || !doc.IsObject()) {
    return Error::permanent("state file " + path.string() +
                            " is corrupt; move it away and the agent will rebuild it from "
                            "Infisical's metadata");
  }
  RotationRecord r;
  r.name = name;
  r.last_rotated = parse_optional(doc, "last_rotated");
  r.last_attempt = parse_optional(doc, "last_attempt");
  r.retry_at = parse_optional(doc, "retry_at");
  if (auto v = json::str(doc, "last_manual")) r.last_manual = *v == "true";
  if (auto v = json::integer(doc, "generation")) r.generation = static_cast<long>(*v);
  if (auto v = json::str(doc, "fingerprint")) r.fingerprint = std::string(*v);
  if (auto v = json::str(doc, "app_id")) r.app_id = std::string(*v);
  if (auto v = json::str(doc, "consumer_id")) r.consumer_id = std::string(*v);
  if (auto v = json::str(doc, "last_error")) r.last_error = std::string(*v);
  if (auto v = json::str(doc, "sealed_for")) r.sealed_for = std::string(*v);
  if (auto v = json::integer(doc, "consecutive_failures")) {
    r.consecutive_failures = static_cast<int>(*v);
  }
  return std::optional<RotationRecord>(std::move(r));
}

Status StateStore::save(const RotationRecord& r) {
  std::string out =
      "{\"name\":\"" + json::escape(r.name) + "\",\"last_rotated\":\"" +
      time_or_empty(r.last_rotated) + "\",\"last_manual\":\"" + (r.last_manual ? "true" : "false") +
      "\",\"generation\":" + std::to_string(r.generation) + ",\"fingerprint\":\"" +
      json::escape(r.fingerprint) + "\",\"app_id\":\"" + json::escape(r.app_id) +
      "\",\"consumer_id\":\"" + json::escape(r.consumer_id) + "\",\"last_attempt\":\"" +
      time_or_empty(r.last_attempt) + "\",\"last_error\":\"" + json::escape(r.last_error) +
      "\",\"retry_at\":\"" + time_or_empty(r.retry_at) + "\",\"sealed_for\":\"" +
      json::escape(r.sealed_for) +
      "\",\"consecutive_failures\":" + std::to_string(r.consecutive_failures) + "}\n";
  // A record lost to a power loss is harmless: the shared schedule lives in Infisical's
  // metadata and the engine's due check reads it from there.
  return write_file_atomically(dir_ / "rotations" / (r.name + ".json"), out, Durability::Content);
}

}  // namespace eca
