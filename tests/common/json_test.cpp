// clients/json: parsing answers in place inside their Secret buffer, typed field access
// that tolerates what servers actually send, and the escaping and encoding every request
// body and the status --json output go through.
#include "common/json.h"

#include <gtest/gtest.h>

#include <string>

namespace eca {
namespace {

TEST(Json, ParsesInPlaceSoStringsPointIntoTheSecretBuffer) {
  Secret body(R"({"access_token":"tok-123","expires_in":7200,"scope":"api"})");
  rapidjson::Document doc;
  auto parsed = json::parse_in_place(body, doc, "Salesforce token answer");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  auto token = json::str(**parsed, "access_token");
  ASSERT_TRUE(token.has_value());
  EXPECT_EQ(*token, "tok-123");
  // No copy on the ordinary heap: the view lies inside the guarded buffer.
  const char* begin = body.data();
  EXPECT_GE(token->data(), begin);
  EXPECT_LT(token->data(), begin + body.size());
  EXPECT_EQ(json::integer(**parsed, "expires_in"), 7200);
}

TEST(Json, ParseErrorsNameTheAnswerAndTheOffsetButNotTheBody) {
  Secret body(R"({"client_secret":"hunter2-secret" oops})");
  rapidjson::Document doc;
  auto parsed = json::parse_in_place(body, doc, "Salesforce R4 answer");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().kind, ErrorKind::Permanent);
  const std::string& m = parsed.error().message;
  EXPECT_EQ(m.rfind("Salesforce R4 answer is not valid JSON (", 0), 0u) << m;
  EXPECT_NE(m.find("at offset 34"), std::string::npos) << m;
  EXPECT_EQ(m.find("hunter2"), std::string::npos) << m;
}

TEST(Json, EmptyAndInvalidUtf8AnswersAreRefused) {
  Secret empty;
  rapidjson::Document doc;
  auto e = json::parse_in_place(empty, doc, "Infisical answer");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().message, "Infisical answer was empty where JSON was expected");
  Secret bad(std::string("{\"a\":\"\xff\xfe\"}"));
  rapidjson::Document doc2;
  EXPECT_FALSE(json::parse_in_place(bad, doc2, "answer").ok()) << "UTF-8 is validated";
}

// A recursive parser would overflow the stack (and crash the agent) on this answer.
TEST(Json, HostileNestingParsesWithoutRecursion) {
  Secret body(std::string(200000, '[') + std::string(200000, ']'));
  rapidjson::Document doc;
  auto r = json::parse_in_place(body, doc, "hostile answer");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE((*r)->IsArray());
}

TEST(Json, FieldAccessToleratesMissingAndMistypedFields) {
  Secret body(R"({"s":"text","n":42,"big":12345678901,"d":3.0,"huge":1e300,
                 "neg":-7,"arr":[1,2],"obj":{"k":"v"},"nul":null})");
  rapidjson::Document doc;
  auto p = json::parse_in_place(body, doc, "answer");
  ASSERT_TRUE(p.ok()) << p.error().message;
  const rapidjson::Value& v = **p;
  EXPECT_EQ(json::str(v, "s"), "text");
  EXPECT_FALSE(json::str(v, "n").has_value()) << "a number is not a string";
  EXPECT_FALSE(json::str(v, "nul").has_value());
  EXPECT_FALSE(json::str(v, "missing").has_value());
  EXPECT_EQ(json::integer(v, "n"), 42);
  EXPECT_EQ(json::integer(v, "big"), 12345678901LL);
  EXPECT_EQ(json::integer(v, "neg"), -7);
  EXPECT_EQ(json::integer(v, "d"), 3) << "some servers send whole numbers as doubles";
  EXPECT_FALSE(json::integer(v, "huge").has_value()) << "out of range is not a number to us";
  EXPECT_FALSE(json::integer(v, "s").has_value());
  ASSERT_NE(json::array(v, "arr"), nullptr);
  EXPECT_EQ(json::array(v, "arr")->Size(), 2u);
  EXPECT_EQ(json::array(v, "obj"), nullptr);
  ASSERT_NE(json::object(v, "obj"), nullptr);
  EXPECT_EQ(json::str(*json::object(v, "obj"), "k"), "v");
  EXPECT_EQ(json::object(v, "arr"), nullptr);
  // Asking a non-object for a field is an absent field, not a crash.
  EXPECT_FALSE(json::str(*json::array(v, "arr"), "x").has_value());
  EXPECT_FALSE(json::integer(*json::array(v, "arr"), "x").has_value());
  EXPECT_EQ(json::object(*json::array(v, "arr"), "x"), nullptr);
}

TEST(Json, EscapedTextRoundTripsThroughAParser) {
  const std::string nasty =
      std::string("quote \" backslash \\ newline \n tab \t cr \r bell \x07 nul ") + '\0' +
      " end \xc3\xa9";
  const std::string escaped = json::escape(nasty);
  EXPECT_EQ(escaped.find('\n'), std::string::npos) << "no raw control characters";
  EXPECT_NE(escaped.find("\\u0007"), std::string::npos);
  EXPECT_NE(escaped.find("\\u0000"), std::string::npos);
  Secret doc_text("{\"v\":\"" + escaped + "\"}");
  rapidjson::Document doc;
  auto p = json::parse_in_place(doc_text, doc, "round trip");
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(json::str(**p, "v"), nasty);
  // The Secret flavour writes the same bytes.
  Secret out;
  json::append_escaped(out, nasty);
  EXPECT_EQ(out.view(), escaped);
}

TEST(Json, FormEncodingKeepsOnlyUnreservedCharacters) {
  EXPECT_EQ(json::url_encode("AZaz09-_.~"), "AZaz09-_.~");
  EXPECT_EQ(json::url_encode("a b+c/d?e=f&g%"), "a%20b%2Bc%2Fd%3Fe%3Df%26g%25");
  EXPECT_EQ(json::url_encode("\xc3\xa9"), "%C3%A9");
  Secret out;
  json::append_form_encoded(out, "s3cr3t+/=");
  EXPECT_EQ(out.view(), "s3cr3t%2B%2F%3D");
}

}  // namespace
}  // namespace eca
