#include "agent/env_expand.h"

#include <sodium.h>

namespace eca {
namespace {

bool name_start(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}
bool name_char(char c) {
  return name_start(c) || (c >= '0' && c <= '9');
}

void wipe(std::string& s) {
  if (!s.empty()) sodium_memzero(s.data(), s.size());
  s.clear();
}

class Expander {
 public:
  Expander(std::string_view in, EnvLookupFn env) : in_(in), env_(env) {}

  // Expands until end of input (top level) or an unmatched '}' (nested default).
  bool run(bool nested, std::string& out, std::string& error) {
    while (pos_ < in_.size()) {
      char c = in_[pos_];
      if (nested && c == '}') return true;
      if (c != '$') {
        out.push_back(c);
        ++pos_;
        continue;
      }
      if (pos_ + 1 < in_.size() && in_[pos_ + 1] == '$') {
        out.push_back('$');
        pos_ += 2;
        continue;
      }
      if (pos_ + 1 >= in_.size() || in_[pos_ + 1] != '{') {
        out.push_back('$');
        ++pos_;
        continue;
      }
      pos_ += 2;  // past "${"
      if (!reference(out, error)) return false;
    }
    if (nested) {
      error = "unterminated ${...}: missing '}'";
      return false;
    }
    return true;
  }

 private:
  bool reference(std::string& out, std::string& error) {
    std::size_t start = pos_;
    if (pos_ >= in_.size() || !name_start(in_[pos_])) {
      error = "invalid ${...}: expected a variable name ([A-Za-z_][A-Za-z0-9_]*) after '${'";
      return false;
    }
    while (pos_ < in_.size() && name_char(in_[pos_])) ++pos_;
    std::string name(in_.substr(start, pos_ - start));
    if (pos_ >= in_.size()) {
      error = "unterminated ${" + name + ": missing '}'";
      return false;
    }
    std::optional<std::string> value = env_(name);
    char c = in_[pos_];
    if (c == '}') {
      ++pos_;
      if (!value) {
        error = "environment variable " + name + " is not set (use ${" + name +
                ":-default} to give a default)";
        return false;
      }
      out += *value;
      wipe(*value);
      return true;
    }
    if (c == ':' && pos_ + 1 < in_.size() && (in_[pos_ + 1] == '-' || in_[pos_ + 1] == '?')) {
      bool is_default = in_[pos_ + 1] == '-';
      pos_ += 2;
      // Nested defaults recurse: bound the depth so a hostile value is an error, not a
      // stack overflow.
      if (++depth_ > kMaxNesting) {
        error = "${...} nested more than " + std::to_string(kMaxNesting) + " levels deep";
        return false;
      }
      std::string word;
      const std::size_t word_start = pos_;
      bool ok = run(true, word, error);
      --depth_;
      if (!ok) {
        wipe(word);
        return false;
      }
      // The message as written, not expanded: a reference in it (`${A:?no ${B}}`) could
      // otherwise put B's value, perhaps a secret, into the error.
      const std::string_view message = in_.substr(word_start, pos_ - word_start);
      ++pos_;  // past '}'
      bool usable = value && !value->empty();
      if (usable) {
        out += *value;
      } else if (is_default) {
        out += word;
      } else {
        error = "environment variable " + name + (value ? " is empty" : " is not set") +
                (message.empty() ? std::string() : ": " + std::string(message));
      }
      if (value) wipe(*value);
      wipe(word);
      return error.empty();
    }
    if (value) wipe(*value);
    error = "invalid ${" + name + "...}: expected '}', ':-' or ':?' after the variable name";
    return false;
  }

  static constexpr int kMaxNesting = 32;
  std::string_view in_;
  EnvLookupFn env_;
  std::size_t pos_ = 0;
  int depth_ = 0;
};

}  // namespace

bool expand_env(std::string_view in, EnvLookupFn env, std::string& out, std::string& error) {
  out.clear();
  error.clear();
  if (!has_expansion(in)) {
    out.assign(in);
    return true;
  }
  Expander x(in, env);
  if (!x.run(false, out, error)) {
    wipe(out);
    return false;
  }
  return true;
}

bool has_expansion(std::string_view s) {
  return s.find("${") != std::string_view::npos || s.find("$$") != std::string_view::npos;
}

bool is_pure_reference(std::string_view s) {
  if (s.size() < 4 || s.substr(0, 2) != "${" || s.back() != '}') return false;
  std::size_t i = 2;
  if (!name_start(s[i])) return false;
  while (i < s.size() && name_char(s[i])) ++i;
  if (i == s.size() - 1) return true;  // ${VAR}
  if (s.substr(i, 2) != ":?") return false;
  // ${VAR:?message}: the message must not contain another reference or a '}'.
  std::string_view msg = s.substr(i + 2, s.size() - 1 - (i + 2));
  return msg.find('}') == std::string_view::npos && msg.find('$') == std::string_view::npos;
}

}  // namespace eca
