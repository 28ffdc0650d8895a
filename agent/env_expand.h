// Environment expansion inside configuration string values.
//
// Applied to each string value AFTER the TOML document is parsed, so a value
// (even one holding quotes or newlines) can never change the document's
// structure. Syntax, a small shell subset:
//   ${VAR}            value of VAR; an error when VAR is unset (empty is fine)
//   ${VAR:-default}   VAR when set and non-empty, else default (itself expanded)
//   ${VAR:?message}   VAR when set and non-empty, else an error carrying message
//   $$                a literal '$'
// A '$' followed by anything else is kept as is. VAR is [A-Za-z_][A-Za-z0-9_]*.
// Expanded text is never expanded again.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace eca {

using EnvLookupFn = std::optional<std::string> (*)(const std::string& name);

// Expands `in` into `out`. On failure returns false and sets `error` to a
// message that names the variable but never contains the value being expanded.
bool expand_env(std::string_view in, EnvLookupFn env, std::string& out, std::string& error);

// True when `s` contains something expand_env would act upon ("${" or "$$").
bool has_expansion(std::string_view s);

// True when the whole of `s` is a single reference without inline default,
// i.e. "${VAR}" or "${VAR:?message}": such a value stores no literal in the file.
bool is_pure_reference(std::string_view s);

}  // namespace eca
