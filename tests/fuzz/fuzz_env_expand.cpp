// Fuzzes ${VAR} expansion of configuration string values (agent/env_expand.h).
// Input: the string value as written in the TOML file.
#include <cstdint>
#include <optional>
#include <string>

#include "agent/env_expand.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

// A fixed environment: a few set names (one empty, one holding expansion syntax
// that must not be expanded again); everything else unset.
std::optional<std::string> fake_env(const std::string& name) {
  if (name == "HOME") return std::string("/home/eca");
  if (name == "EMPTY") return std::string();
  if (name == "A") return std::string("a");
  if (name == "NESTED") return std::string("${HOME}$$");
  if (name == "LONG") return std::string(300, 'x');
  return std::nullopt;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in = eca::fuzz::as_view(data, size);
  std::string out, error;
  const bool ok = eca::expand_env(in, fake_env, out, error);
  const bool acts = eca::has_expansion(in);

  ECA_FUZZ_CHECK(ok == error.empty());
  if (!ok) ECA_FUZZ_CHECK(out.empty());  // nothing half-expanded is handed back
  if (!acts) ECA_FUZZ_CHECK(ok && out == in);
  // A pure reference stores no literal: it always acts, and expanding it yields
  // exactly a variable's value (or an error).
  if (eca::is_pure_reference(in)) {
    ECA_FUZZ_CHECK(acts);
    if (ok) {
      ECA_FUZZ_CHECK(out == "/home/eca" || out == "a" || out == "${HOME}$$" || out.empty() ||
                     out == std::string(300, 'x'));
    }
  }
  return 0;
}
