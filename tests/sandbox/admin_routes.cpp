#include "tests/sandbox/admin_routes.h"

#include <rapidjson/document.h>

#include "tests/sandbox/json_builder.h"
#include "tests/sandbox/time_format.h"

namespace eca::sandbox {

bool handle_clock_route(FakeClock& clock, const HttpRequest& request, HttpResponse& response) {
  if (request.path != "/__sandbox/clock") return false;
  if (request.method == "POST") {
    rapidjson::Document doc;
    doc.Parse(request.body.c_str(), request.body.size());
    if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("advance_seconds") ||
        !doc["advance_seconds"].IsNumber()) {
      response.set_json(400, R"({"error":"expected {\"advance_seconds\": N}"})");
      return true;
    }
    const auto ms = static_cast<std::int64_t>(doc["advance_seconds"].GetDouble() * 1000.0);
    // Listeners (invariant checks) run here, on this request's thread.
    clock.advance(std::chrono::milliseconds(ms));
  } else if (request.method != "GET") {
    response.set_json(405, R"({"error":"use GET or POST"})");
    return true;
  }
  JsonBuilder json;
  json.begin_object()
      .field_int("offset_seconds", clock.offset().count() / 1000)
      .field_string("now", iso8601_utc(clock.now()))
      .end_object();
  response.set_json(200, json.str());
  return true;
}

std::string key_fingerprint(const std::string& key) {
  return key.substr(0, 8) + "\xE2\x80\xA6";
}

}  // namespace eca::sandbox
