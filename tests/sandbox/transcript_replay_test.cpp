// Replays every recorded exchange in tests/data/infisical-transcripts against the fake
// Infisical, in recording order, and checks that it answers as the real server
// did: same status, same fields in the same order with the same JSON types, and
// the same values except for ids, timestamps, tokens and request ids.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

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

// Values that differ on every run.
const std::set<std::string> kVolatile = {"id",    "_id",      "createdAt", "updatedAt",
                                         "envId", "parentId", "reqId",     "accessToken"};

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

void expect_like(const Value& want, const Value& got, const std::string& where, bool compare) {
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
                  compare && kVolatile.count(key) == 0);
    }
  } else if (want.IsArray()) {
    ASSERT_EQ(want.Size(), got.Size()) << where;
    for (rapidjson::SizeType i = 0; i < want.Size(); ++i) {
      expect_like(want[i], got[i], where + "[" + std::to_string(i) + "]", compare);
    }
  } else if (compare) {
    EXPECT_EQ(to_json(want), to_json(got)) << where;
  }
}

class TranscriptReplay : public ::testing::Test {
 protected:
  void SetUp() override {
    inf_.add_identity(kClientId, kClientSecret);
    inf_.add_identity(kOutsider, kClientSecret);
    inf_.add_project(kProject, "verify-project", {"dev", "prod"});
    inf_.add_member(kProject, kClientId);
    inf_.start();
  }

  std::string login(const std::string& client_id) {
    testing::TestHttp http(inf_.base_url());
    const auto reply = http.post(
        "/api/v1/auth/universal-auth/login",
        R"({"clientId":")" + client_id + R"(","clientSecret":")" + kClientSecret + R"("})");
    EXPECT_EQ(reply.status, 200) << reply.body;
    return reply.json()["accessToken"].GetString();
  }

  FakeInfisical inf_;
};

TEST_F(TranscriptReplay, EveryRecordedExchangeAnswersTheSame) {
  std::vector<std::pair<int, fs::path>> files;
  for (const auto& entry : fs::directory_iterator(kTranscripts)) {
    if (entry.path().extension() != ".json") continue;
    // Recordings 110 and later (a second project) are replayed from a later commit on.
    if (std::stoi(entry.path().filename().string()) >= 110) continue;
    files.emplace_back(std::stoi(entry.path().filename().string()), entry.path());
  }
  std::sort(files.begin(), files.end());
  ASSERT_GE(files.size(), 60u) << kTranscripts;

  const std::string member_token = login(kClientId);
  const std::string outsider_token = login(kOutsider);
  const std::regex req_id("^req-[A-Za-z0-9]{14}$");
  httplib::Client client(inf_.base_url());

  for (const auto& [number, path] : files) {
    SCOPED_TRACE(path.filename().string());
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    rapidjson::Document t;
    t.Parse(text.str().c_str());
    ASSERT_FALSE(t.HasParseError());
    const Value& req = t["request"];

    // Stand-ins for what the recording redacted, chosen per exchange.
    std::string token = member_token;
    if (number == 26 || number == 54) token = "not-a-jwt";
    if (number == 28) {
      token = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJmb3JnZWQiOnRydWV9.c2lnbmF0dXJlLW5vdA";
    }
    if (number >= 84 && number <= 86) token = outsider_token;

    httplib::Headers headers;
    for (const auto& h : req["headers"].GetObject()) {
      std::string value = h.value.GetString();
      if (std::string(h.name.GetString()) == "Authorization") value = "Bearer " + token;
      headers.emplace(h.name.GetString(), value);
    }
    std::string body = req["body"].IsNull() ? "" : to_json(req["body"]);
    const std::string secret = number == 8 ? kClientSecret : "wrong-secret";
    body = std::regex_replace(body, std::regex("<REDACTED_CLIENT_SECRET>"), secret);
    body = std::regex_replace(body, std::regex("<REDACTED_ACCESS_TOKEN>"), member_token);

    std::string target = req["url"].GetString();
    target = target.substr(std::string("{INFISICAL_URL}").size());
    const std::string method = req["method"].GetString();
    httplib::Result result =
        method == "GET"     ? client.Get(target.c_str(), headers)
        : method == "POST"  ? client.Post(target.c_str(), headers, body, "application/json")
        : method == "PATCH" ? client.Patch(target.c_str(), headers, body, "application/json")
                            : client.Delete(target.c_str(), headers, body, "application/json");
    ASSERT_TRUE(result) << httplib::to_string(result.error());
    EXPECT_EQ(result->status, t["status"].GetInt()) << result->body;
    EXPECT_EQ(result->get_header_value("Content-Type"),
              t["responseHeaders"]["content-type"].GetString());

    rapidjson::Document got;
    got.Parse(result->body.c_str());
    ASSERT_FALSE(got.HasParseError()) << result->body;
    expect_like(t["response"], got, "response", true);
    if (got.IsObject() && got.HasMember("reqId")) {
      EXPECT_TRUE(std::regex_match(std::string(got["reqId"].GetString()), req_id));
    }
  }
}

}  // namespace
}  // namespace eca::sandbox
