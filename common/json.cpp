#include "common/json.h"

#include <rapidjson/error/en.h>

namespace eca::json {

Result<rapidjson::Document*> parse_in_place(Secret& buffer, rapidjson::Document& doc,
                                            const std::string& what) {
  if (buffer.empty()) return Error::permanent(what + " was empty where JSON was expected");
  constexpr unsigned kFlags = rapidjson::kParseInsituFlag | rapidjson::kParseIterativeFlag |
                              rapidjson::kParseValidateEncodingFlag |
                              rapidjson::kParseStopWhenDoneFlag;
  doc.ParseInsitu<kFlags>(buffer.data());
  if (doc.HasParseError()) {
    return Error::permanent(what + " is not valid JSON (" +
                            rapidjson::GetParseError_En(doc.GetParseError()) + " at offset " +
                            std::to_string(doc.GetErrorOffset()) + ")");
  }
  return &doc;
}

std::optional<std::string_view> str(const rapidjson::Value& obj, const char* name) {
  if (!obj.IsObject()) return std::nullopt;
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || !it->value.IsString()) return std::nullopt;
  return std::string_view(it->value.GetString(), it->value.GetStringLength());
}

std::optional<long long> integer(const rapidjson::Value& obj, const char* name) {
  if (!obj.IsObject()) return std::nullopt;
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd()) return std::nullopt;
  if (it->value.IsInt64()) return it->value.GetInt64();
  if (it->value.IsDouble()) {
    double d = it->value.GetDouble();
    if (d >= -9e15 && d <= 9e15) return static_cast<long long>(d);
  }
  return std::nullopt;
}

const rapidjson::Value* array(const rapidjson::Value& obj, const char* name) {
  if (!obj.IsObject()) return nullptr;
  auto it = obj.FindMember(name);
  return it != obj.MemberEnd() && it->value.IsArray() ? &it->value : nullptr;
}

const rapidjson::Value* object(const rapidjson::Value& obj, const char* name) {
  if (!obj.IsObject()) return nullptr;
  auto it = obj.FindMember(name);
  return it != obj.MemberEnd() && it->value.IsObject() ? &it->value : nullptr;
}

namespace {
template <class Out>
void escape_into(Out& out, std::string_view s) {
  static const char* hex = "0123456789abcdef";
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      default:
        if (c < 0x20) {
          char buf[7] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0};
          out.append(std::string_view(buf, 6));
        } else {
          out.append(std::string_view(&ch, 1));
        }
    }
  }
}
template <class Out>
void percent_into(Out& out, std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out.append(std::string_view(&ch, 1));
    } else {
      char buf[3] = {'%', hex[c >> 4], hex[c & 15]};
      out.append(std::string_view(buf, 3));
    }
  }
}
}  // namespace

void append_escaped(Secret& out, std::string_view s) {
  escape_into(out, s);
}
std::string escape(std::string_view s) {
  std::string out;
  escape_into(out, s);
  return out;
}
void append_form_encoded(Secret& out, std::string_view s) {
  percent_into(out, s);
}
std::string url_encode(std::string_view s) {
  std::string out;
  percent_into(out, s);
  return out;
}

}  // namespace eca::json
