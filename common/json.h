// JSON helpers over RapidJSON.
//
// Responses are parsed in situ inside their Secret buffer: parsed strings point
// into that (guarded, zeroed-on-release) memory rather than being copied to the
// ordinary heap. Parsing is iterative, so hostile nesting cannot exhaust the stack,
// and validates UTF-8.
#pragma once

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "common/secret.h"

namespace eca::json {

// Parses `buffer` in place; `what` names the answer in the error ("Salesforce R4 answer").
// The returned document must not outlive the buffer.
Result<rapidjson::Document*> parse_in_place(Secret& buffer, rapidjson::Document& doc,
                                            const std::string& what);

std::optional<std::string_view> str(const rapidjson::Value& obj, const char* name);
std::optional<long long> integer(const rapidjson::Value& obj, const char* name);
const rapidjson::Value* array(const rapidjson::Value& obj, const char* name);
const rapidjson::Value* object(const rapidjson::Value& obj, const char* name);

// Escapes `s` as a JSON string body (without quotes) onto a Secret.
void append_escaped(Secret& out, std::string_view s);
// The same for ordinary (non-secret) strings.
std::string escape(std::string_view s);

// Percent-encodes for application/x-www-form-urlencoded and URL query values.
void append_form_encoded(Secret& out, std::string_view s);
std::string url_encode(std::string_view s);

}  // namespace eca::json
