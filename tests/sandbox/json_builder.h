// JsonBuilder: compact JSON output in field order, which the fakes need to print
// bodies shaped like the recorded ones (RapidJSON's Writer underneath).
#pragma once

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace eca::sandbox {

class JsonBuilder {
 public:
  JsonBuilder() : writer_(buffer_) {}

  JsonBuilder& begin_object() { return ok(writer_.StartObject()); }
  JsonBuilder& end_object() { return ok(writer_.EndObject()); }
  JsonBuilder& begin_array() { return ok(writer_.StartArray()); }
  JsonBuilder& end_array() { return ok(writer_.EndArray()); }
  JsonBuilder& key(std::string_view k) {
    return ok(writer_.Key(k.data(), static_cast<rapidjson::SizeType>(k.size())));
  }
  JsonBuilder& string(std::string_view v) {
    return ok(writer_.String(v.data(), static_cast<rapidjson::SizeType>(v.size())));
  }
  JsonBuilder& integer(std::int64_t v) { return ok(writer_.Int64(v)); }
  JsonBuilder& boolean(bool v) { return ok(writer_.Bool(v)); }
  JsonBuilder& null() { return ok(writer_.Null()); }
  // Embeds already-serialised JSON.
  JsonBuilder& raw(std::string_view json) {
    return ok(writer_.RawValue(json.data(), json.size(), rapidjson::kObjectType));
  }

  // key + value in one call; the names differ so a string literal can never
  // silently pick the bool overload.
  JsonBuilder& field_string(std::string_view k, std::string_view v) { return key(k).string(v); }
  JsonBuilder& field_int(std::string_view k, std::int64_t v) { return key(k).integer(v); }
  JsonBuilder& field_bool(std::string_view k, bool v) { return key(k).boolean(v); }
  JsonBuilder& field_null(std::string_view k) { return key(k).null(); }
  JsonBuilder& field_string_or_null(std::string_view k, const std::optional<std::string>& v) {
    return v ? field_string(k, *v) : field_null(k);
  }

  std::string str() const { return std::string(buffer_.GetString(), buffer_.GetSize()); }

 private:
  JsonBuilder& ok(bool) { return *this; }

  rapidjson::StringBuffer buffer_;
  rapidjson::Writer<rapidjson::StringBuffer> writer_;
};

}  // namespace eca::sandbox
