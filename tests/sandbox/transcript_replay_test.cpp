// Replays every recorded exchange in tests/data/infisical-transcripts against the fake
// Infisical, in recording order, and checks that it answers as the real server
// did: same status, same fields in the same order with the same JSON types, and
// the same values except for ids, timestamps, tokens and request ids. Lists the
// server returns in no particular order (folders, secrets, metadata) are compared
// after sorting both sides. Exchanges recorded in parallel are sent in parallel.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <future>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "tests/sandbox/fake_infisical.h"
#include "tests/sandbox/test_http.h"

namespace eca::sandbox {
namespace {

namespace fs = std::filesystem;
using rapidjson::Value;

const fs::path kTranscripts = ECA_TEST_DATA_DIR "/infisical-transcripts";
constexpr const char* kProject = "c8ea361a-dfc2-474b-9280-2eded4cb3adf";
constexpr const char* kClientId = "ecdfc85d-b7aa-4025-849f-fb6ae1e1fa29";
constexpr const char* kClientSecret = "transcript-client-secret";
constexpr const char* kOutsider = "0dd5a1c0-0000-4000-8000-0000000000aa";
// Recordings 110-164: a second project and the identities that made them.
constexpr const char* kProject2 = "c59b0644-b006-472a-9f73-c640b8bc5589";
constexpr const char* kViewer = "0dd5a1c0-0000-4000-8000-000000000119";
constexpr const char* kStagingRole = "0dd5a1c0-0000-4000-8000-000000000124";
constexpr const char* kPathRole = "0dd5a1c0-0000-4000-8000-000000000127";
constexpr const char* kShortTtl = "aaa7fef4-4299-4dba-9371-1a2bfde2a1b9";  // 148

// Values that differ on every run.
const std::set<std::string> kVolatile = {"id",        "_id",         "createdAt",
                                         "updatedAt", "envId",       "parentId",
                                         "reqId",     "accessToken", "lastSecretModified"};

std::string to_json(const Value& v) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  v.Accept(writer);
  return buffer.GetString();
}

const char* type_name(const Value& v) {
  if (v.IsNull()) return "null";
  if (v.IsBool()) return "bool";
  if (v.IsNumber()) return "number";
  if (v.IsString()) return "string";
  if (v.IsArray()) return "array";
  return "object";
}

// The non-volatile content of a value, as a sort key for unordered lists.
std::string canonical(const Value& v) {
  if (v.IsObject()) {
    std::string out = "{";
    for (const auto& m : v.GetObject()) {
      if (kVolatile.count(m.name.GetString()) > 0) continue;
      out += std::string(m.name.GetString()) + ":" + canonical(m.value) + ",";
    }
    return out + "}";
  }
  if (v.IsArray()) {
    std::vector<std::string> items;
    for (const auto& item : v.GetArray()) items.push_back(canonical(item));
    std::sort(items.begin(), items.end());
    std::string out = "[";
    for (const auto& item : items) out += item + ",";
    return out + "]";
  }
  return to_json(v);
}

std::vector<const Value*> sorted(const Value& list) {
  std::vector<const Value*> out;
  for (const auto& item : list.GetArray()) out.push_back(&item);
  std::stable_sort(out.begin(), out.end(),
                   [](const Value* a, const Value* b) { return canonical(*a) < canonical(*b); });
  return out;
}

void expect_like(const Value& want, const Value& got, const std::string& where, bool compare,
                 bool unordered = false) {
  ASSERT_STREQ(type_name(want), type_name(got)) << where;
  if (want.IsObject()) {
    std::vector<std::string> want_keys;
    std::vector<std::string> got_keys;
    for (const auto& m : want.GetObject()) want_keys.emplace_back(m.name.GetString());
    for (const auto& m : got.GetObject()) got_keys.emplace_back(m.name.GetString());
    ASSERT_EQ(want_keys, got_keys) << where << ": field names or order differ";
    for (const auto& m : want.GetObject()) {
      const std::string key = m.name.GetString();
      expect_like(m.value, got[key.c_str()], where + "." + key,
                  compare && kVolatile.count(key) == 0,
                  key == "folders" || key == "secrets" || key == "secretMetadata");
    }
  } else if (want.IsArray()) {
    ASSERT_EQ(want.Size(), got.Size()) << where;
    const auto want_items = unordered ? sorted(want) : std::vector<const Value*>();
    const auto got_items = unordered ? sorted(got) : std::vector<const Value*>();
    for (rapidjson::SizeType i = 0; i < want.Size(); ++i) {
      expect_like(unordered ? *want_items[i] : want[i], unordered ? *got_items[i] : got[i],
                  where + "[" + std::to_string(i) + "]", compare);
    }
  } else if (compare) {
    EXPECT_EQ(to_json(want), to_json(got)) << where;
  }
}

struct Reply {
  int status = 0;
  std::string content_type;
  std::string body;
  std::string error;
};

struct Exchange {
  int number = 0;
  fs::path path;
  rapidjson::Document t;
};

FakeInfisicalOptions replay_options() {
  FakeInfisicalOptions options;
  options.legacy_routes_only = true;  // the recorded build (60, 61, 159-162)
  // Wide enough that a request started 50 ms after another one lands in its window.
  options.folder_race_window = std::chrono::milliseconds(300);
  return options;
}

class TranscriptReplay : public ::testing::Test {
 protected:
  void SetUp() override {
    inf_.add_identity(kClientId, kClientSecret);
    inf_.add_identity(kOutsider, kClientSecret);
    inf_.add_project(kProject, "verify-project", {"dev", "prod"});
    inf_.add_member(kProject, kClientId);

    inf_.add_identity(kViewer, kClientSecret);
    inf_.add_identity(kStagingRole, kClientSecret);
    inf_.add_identity(kPathRole, kClientSecret);
    inf_.add_identity(kShortTtl, kClientSecret, std::chrono::seconds(30), std::chrono::seconds(60));
    inf_.add_project(kProject2, "recording-project", {"dev", "staging", "prod"});
    inf_.add_member(kProject2, kClientId);
    inf_.add_member(kProject2, kShortTtl);
    inf_.add_member(kProject2, kViewer, {ProjectRole::Kind::Viewer, {}});
    inf_.add_member(kProject2, kStagingRole, {ProjectRole::Kind::Custom, {{"staging", ""}}});
    inf_.add_member(kProject2, kPathRole,
                    {ProjectRole::Kind::Custom, {{"dev", "/rec-allowed/**"}}});
    // What the recording session had set up before 110 (seen in the answers).
    inf_.put_secret(kProject2, "dev", "/rec/perm", "SF_KEY", "v1");
    inf_.put_secret(kProject2, "dev", "/rec-allowed/app-1", "SF_KEY", "v1");
    inf_.put_secret(kProject2, "dev", "/rec-allowed/app-1", "SF_KEY", "v2");
    for (const auto& [app, generation] : {std::pair{"app-1", "1"}, {"app-2", "2"}}) {
      put_pair("/rec-tree/" + std::string(app), app, generation);
    }
    put_pair("/rec-tree/group/app-3", "app-3", "1");
    inf_.start();
  }

  void put_pair(const std::string& path, const std::string& app, const std::string& generation) {
    const SecretMetadata metadata = {{"eca-rotator.generation", generation},
                                     {"eca-rotator.rotation", app}};
    inf_.put_secret(kProject2, "prod", path, "SALESFORCE_CONSUMER_KEY",
                    "k" + generation + "-" + app, metadata);
    inf_.put_secret(kProject2, "prod", path, "SALESFORCE_CONSUMER_SECRET",
                    "s" + generation + "-" + app, metadata);
  }

  std::string login(const std::string& client_id) {
    testing::TestHttp http(inf_.base_url());
    const auto reply = http.post(
        "/api/v1/auth/universal-auth/login",
        R"({"clientId":")" + client_id + R"(","clientSecret":")" + kClientSecret + R"("})");
    EXPECT_EQ(reply.status, 200) << reply.body;
    return reply.json()["accessToken"].GetString();
  }

  // A single-secret write in staging (these set a folder's lastSecretModified).
  void single_write(const std::string& method, const std::string& name, const std::string& path,
                    const std::string& token) {
    httplib::Client client(inf_.base_url());
    const httplib::Headers headers = {{"Authorization", "Bearer " + token}};
    const std::string body = std::string(R"({"workspaceId":")") + kProject2 +
                             R"(","environment":"staging","secretPath":")" + path +
                             R"(","secretValue":"k-a"})";
    const auto result =
        method == "POST"
            ? client.Post("/api/v3/secrets/raw/" + name, headers, body, "application/json")
            : client.Delete("/api/v3/secrets/raw/" + name, headers, body, "application/json");
    ASSERT_TRUE(result && result->status == 200) << name << " " << path;
  }

  // The recorded request with stand-ins for what the recording redacted.
  Reply send(const Exchange& x, const std::string& token, const std::string& body_token) {
    const Value& req = x.t["request"];
    httplib::Headers headers;
    for (const auto& h : req["headers"].GetObject()) {
      std::string value = h.value.GetString();
      if (std::string(h.name.GetString()) == "Authorization") value = "Bearer " + token;
      headers.emplace(h.name.GetString(), value);
    }
    std::string body = req["body"].IsNull() ? "" : to_json(req["body"]);
    const bool good_secret = x.number == 8 || x.number == 148;
    body = std::regex_replace(body, std::regex("<REDACTED_CLIENT_SECRET>"),
                              good_secret ? kClientSecret : "wrong-secret");
    body = std::regex_replace(body, std::regex("<REDACTED_ACCESS_TOKEN>"), body_token);
    std::string target = req["url"].GetString();
    target = target.substr(std::string("{INFISICAL_URL}").size());
    const std::string method = req["method"].GetString();
    httplib::Client client(inf_.base_url());
    httplib::Result result =
        method == "GET"     ? client.Get(target.c_str(), headers)
        : method == "POST"  ? client.Post(target.c_str(), headers, body, "application/json")
        : method == "PATCH" ? client.Patch(target.c_str(), headers, body, "application/json")
                            : client.Delete(target.c_str(), headers, body, "application/json");
    if (!result) return Reply{0, "", "", httplib::to_string(result.error())};
    return Reply{result->status, result->get_header_value("Content-Type"), result->body, ""};
  }

  void check(const Exchange& x, const Reply& reply) {
    SCOPED_TRACE(x.path.filename().string());
    ASSERT_TRUE(reply.error.empty()) << reply.error;
    EXPECT_EQ(reply.status, x.t["status"].GetInt()) << reply.body;
    EXPECT_EQ(reply.content_type, x.t["responseHeaders"]["content-type"].GetString());
    rapidjson::Document got;
    got.Parse(reply.body.c_str());
    ASSERT_FALSE(got.HasParseError()) << reply.body;
    expect_like(x.t["response"], got, "response", true);
    static const std::regex req_id("^req-[A-Za-z0-9]{14}$");
    if (got.IsObject() && got.HasMember("reqId")) {
      EXPECT_TRUE(std::regex_match(std::string(got["reqId"].GetString()), req_id));
    }
  }

  std::shared_ptr<FakeClock> clock_ = std::make_shared<FakeClock>();
  FakeInfisical inf_{replay_options(), clock_};
};

TEST_F(TranscriptReplay, EveryRecordedExchangeAnswersTheSame) {
  std::vector<Exchange> exchanges;
  for (const auto& entry : fs::directory_iterator(kTranscripts)) {
    if (entry.path().extension() != ".json") continue;
    Exchange x;
    x.number = std::stoi(entry.path().filename().string());
    x.path = entry.path();
    std::ifstream in(entry.path());
    std::stringstream text;
    text << in.rdbuf();
    x.t.Parse(text.str().c_str());
    ASSERT_FALSE(x.t.HasParseError()) << entry.path();
    exchanges.push_back(std::move(x));
  }
  std::sort(exchanges.begin(), exchanges.end(),
            [](const Exchange& a, const Exchange& b) { return a.number < b.number; });
  ASSERT_GE(exchanges.size(), 115u) << kTranscripts;
  ASSERT_EQ(exchanges.back().number, 164);

  std::string member_token = login(kClientId);
  const std::string outsider_token = login(kOutsider);
  const std::string viewer_token = login(kViewer);
  const std::string staging_token = login(kStagingRole);
  const std::string path_role_token = login(kPathRole);
  std::string short_token;  // 148-153: the identity with a 30 s TTL and a 60 s max TTL
  // Recorded as parallel pairs: the second starts while the first is in its window.
  const std::set<int> parallel_first = {132, 141, 144};

  for (std::size_t i = 0; i < exchanges.size(); ++i) {
    const Exchange& x = exchanges[i];
    const int n = x.number;
    std::string token = member_token;
    if (n == 26 || n == 54) token = "not-a-jwt";
    if (n == 28) {
      token = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJmb3JnZWQiOnRydWV9.c2lnbmF0dXJlLW5vdA";
    }
    if (n >= 84 && n <= 86) token = outsider_token;
    if (n >= 119 && n <= 123) token = viewer_token;
    if (n >= 124 && n <= 126) token = staging_token;
    if (n >= 127 && n <= 131) token = path_role_token;
    std::string body_token = member_token;
    // The clock as the recording session saw it (148: login; 149 at 20 s; 150 at 41 s;
    // 152, 153: a fresh token after its 30 s).
    if (n == 149) clock_->advance(std::chrono::seconds(20));
    if (n == 150) clock_->advance(std::chrono::seconds(21));
    if (n == 152) {
      short_token = login(kShortTtl);
      clock_->advance(std::chrono::seconds(31));
    }
    if (n >= 149 && n <= 153) token = body_token = short_token;
    // Writes outside the recordings: staging /rec/perm (seen in 147), k-a (seen in
    // 137) and single-secret writes in /rec-race-1/{a,b} that left k-a and k-b alone
    // (their folders' lastSecretModified in 147 but not 138, 139).
    if (n == 110) {
      inf_.put_folder(kProject2, "staging", "/rec/perm");
      single_write("POST", "SF_KEY", "/rec/perm", member_token);
    }
    if (n == 137) {
      inf_.put_secret(kProject2, "staging", "/rec-race-1/a", "SALESFORCE_CONSUMER_KEY", "k-a");
    }
    if (n == 147) {
      for (const char* path : {"/rec-race-1/a", "/rec-race-1/b"}) {
        single_write("POST", "UNRECORDED", path, member_token);
        single_write("DELETE", "UNRECORDED", path, member_token);
      }
    }

    if (parallel_first.count(n) > 0) {
      ASSERT_LT(i + 1, exchanges.size());
      const Exchange& y = exchanges[i + 1];
      auto first = std::async(std::launch::async, [&] { return send(x, token, body_token); });
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      const Reply second = send(y, token, body_token);
      check(x, first.get());
      check(y, second);
      ++i;
      continue;
    }
    const Reply reply = send(x, token, body_token);
    check(x, reply);
    // A refused renewal deletes the token (107, as 150-151 show): log in again.
    if (n == 107) member_token = login(kClientId);
    if ((n == 148 || n == 149) && reply.status == 200) {
      rapidjson::Document got;
      got.Parse(reply.body.c_str());
      short_token = got["accessToken"].GetString();
    }
  }
}

}  // namespace
}  // namespace eca::sandbox
