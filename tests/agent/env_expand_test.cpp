// expand_env: the ${VAR} subset applied to config string values. What an operator sees
// is the expanded value or an error naming the variable, never a value that was secret.
#include "agent/env_expand.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace eca {
namespace {

const std::string kSecret = "s3cr3t-VALUE-never-printed";

std::optional<std::string> env(const std::string& name) {
  static const std::map<std::string, std::string> vars = {{"HOST", "acme.example.com"},
                                                          {"EMPTY", ""},
                                                          {"SECRET", kSecret},
                                                          {"PORT", "8443"},
                                                          {"DOLLARS", "$$ and ${HOST}"}};
  auto it = vars.find(name);
  if (it == vars.end()) return std::nullopt;
  return it->second;
}

struct Expanded {
  bool ok;
  std::string out;
  std::string error;
};

Expanded expand(std::string_view in) {
  Expanded e{false, "", ""};
  e.ok = expand_env(in, env, e.out, e.error);
  return e;
}

TEST(EnvExpand, SubstitutesVariablesAndKeepsTheRest) {
  auto e = expand("https://${HOST}:${PORT}/path");
  ASSERT_TRUE(e.ok) << e.error;
  EXPECT_EQ(e.out, "https://acme.example.com:8443/path");
  EXPECT_EQ(expand("no references at all").out, "no references at all");
  EXPECT_EQ(expand("${EMPTY}").out, "") << "set but empty is fine for ${VAR}";
}

TEST(EnvExpand, DollarsThatAreNotReferencesStay) {
  EXPECT_EQ(expand("cost: $5, $$HOME, ${HOST}$").out, "cost: $5, $HOME, acme.example.com$");
  EXPECT_EQ(expand("trailing $").out, "trailing $");
}

TEST(EnvExpand, ExpandedTextIsNeverExpandedAgain) {
  auto e = expand("${DOLLARS}");
  ASSERT_TRUE(e.ok) << e.error;
  EXPECT_EQ(e.out, "$$ and ${HOST}");
}

TEST(EnvExpand, DefaultsApplyWhenUnsetOrEmptyAndAreThemselvesExpanded) {
  EXPECT_EQ(expand("${NOPE:-fallback}").out, "fallback");
  EXPECT_EQ(expand("${EMPTY:-fallback}").out, "fallback");
  EXPECT_EQ(expand("${HOST:-fallback}").out, "acme.example.com");
  EXPECT_EQ(expand("${NOPE:-${HOST}:${PORT}}").out, "acme.example.com:8443");
  EXPECT_EQ(expand("${NOPE:-}").out, "");
}

TEST(EnvExpand, UnsetVariableIsAnErrorNamingItAndSuggestingADefault) {
  auto e = expand("id-${MISSING_ID}");
  EXPECT_FALSE(e.ok);
  EXPECT_EQ(e.error,
            "environment variable MISSING_ID is not set (use ${MISSING_ID:-default} to "
            "give a default)");
  EXPECT_TRUE(e.out.empty()) << "no half-expanded value is handed back";
}

TEST(EnvExpand, RequiredVariableCarriesTheOperatorsMessage) {
  auto unset = expand("${TOKEN:?set TOKEN in /etc/default/eca-rotator}");
  EXPECT_FALSE(unset.ok);
  EXPECT_EQ(unset.error,
            "environment variable TOKEN is not set: set TOKEN in /etc/default/eca-rotator");
  auto empty = expand("${EMPTY:?needed}");
  EXPECT_FALSE(empty.ok);
  EXPECT_EQ(empty.error, "environment variable EMPTY is empty: needed");
  EXPECT_EQ(expand("${SECRET:?needed}").out, kSecret);
}

TEST(EnvExpand, MalformedReferencesAreErrors) {
  struct Case {
    const char* in;
    const char* error_part;
  };
  for (const Case& c :
       {Case{"${", "expected a variable name"}, Case{"${1ABC}", "expected a variable name"},
        Case{"${HOST", "unterminated ${HOST"}, Case{"${HOST:-x", "unterminated ${...}"},
        Case{"${HOST-x}", "expected '}', ':-' or ':?'"}}) {
    auto e = expand(c.in);
    EXPECT_FALSE(e.ok) << c.in;
    EXPECT_NE(e.error.find(c.error_part), std::string::npos) << c.in << " -> " << e.error;
  }
}

TEST(EnvExpand, HostileNestingIsAnErrorNotACrash) {
  std::string deep;
  for (int i = 0; i < 10000; ++i) deep += "${NOPE:-";
  deep += "x";
  for (int i = 0; i < 10000; ++i) deep += "}";
  auto e = expand(deep);
  EXPECT_FALSE(e.ok);
  EXPECT_NE(e.error.find("nested more than"), std::string::npos) << e.error;
}

// Errors name variables; they never carry a value, also not one reached through a nested
// reference in a message or a default.
TEST(EnvExpand, NoErrorContainsAVariablesValue) {
  for (const char* in :
       {"${SECRET}${MISSING}", "${SECRET:-x}${", "${EMPTY:?${SECRET}}", "${MISSING:?got ${SECRET}}",
        "${SECRET:-${MISSING}}${MISSING}", "${SECRET"}) {
    auto e = expand(in);
    EXPECT_FALSE(e.ok) << in;
    EXPECT_EQ(e.error.find(kSecret), std::string::npos) << in << " -> " << e.error;
    EXPECT_TRUE(e.out.empty()) << in;
  }
}

TEST(EnvExpand, RecognisesWhatItActsUponAndPureReferences) {
  EXPECT_TRUE(has_expansion("a ${B}"));
  EXPECT_TRUE(has_expansion("$$"));
  EXPECT_FALSE(has_expansion("$B and $"));
  EXPECT_TRUE(is_pure_reference("${SECRET}"));
  EXPECT_TRUE(is_pure_reference("${SECRET:?set it}"));
  EXPECT_FALSE(is_pure_reference("${SECRET:-inline-default}")) << "stores a literal";
  EXPECT_FALSE(is_pure_reference("x${SECRET}"));
  EXPECT_FALSE(is_pure_reference("${A}${B}"));
  EXPECT_FALSE(is_pure_reference("${A:?${B}}"));
  EXPECT_FALSE(is_pure_reference("${}"));
}

}  // namespace
}  // namespace eca
