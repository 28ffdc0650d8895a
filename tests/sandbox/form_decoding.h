// Decoding of application/x-www-form-urlencoded bodies (the OAuth token request,
// and Infisical's form-encoded login).
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace eca::sandbox {

std::string url_decode(std::string_view text);  // '+' is a space, %XX a byte

// Later duplicates win; names and values are URL-decoded.
std::map<std::string, std::string> parse_form(std::string_view body);

}  // namespace eca::sandbox
