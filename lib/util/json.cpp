// The strict JSON reader (see json.hpp).
#include "util/json.hpp"

#include "util/error.hpp"

namespace fsh {

namespace {

class Parser {
 public:
  Parser(const std::string& t, const std::string& where, const std::string& expected)
      : t_(t), where_(where), expected_(expected) {}

  Json document() {
    Json v = value(0);
    space();
    if (p_ != t_.size()) fail("unexpected text after the object");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw format_error(where_ + ": not valid JSON at byte " + std::to_string(p_) + ": " + what +
                       " (expected " + expected_ + ")");
  }
  void space() {
    while (p_ < t_.size() && (t_[p_] == ' ' || t_[p_] == '\t' || t_[p_] == '\n' || t_[p_] == '\r'))
      ++p_;
  }
  bool eat(char c) {
    space();
    if (p_ < t_.size() && t_[p_] == c) {
      ++p_;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!eat(c)) fail(std::string("expected '") + c + "'");
  }
  bool word(const char* w) {
    const std::string s(w);
    if (t_.compare(p_, s.size(), s) != 0) return false;
    p_ += s.size();
    return true;
  }

  Json value(int depth) {
    if (depth > 32) fail("nested too deeply");
    space();
    if (p_ >= t_.size()) fail("unexpected end");
    Json v;
    const char c = t_[p_];
    if (c == '{') {
      ++p_;
      v.type = Json::object;
      if (eat('}')) return v;
      do {
        space();
        if (p_ >= t_.size() || t_[p_] != '"') fail("expected a member name");
        std::string name = string();
        expect(':');
        v.members.emplace_back(std::move(name), value(depth + 1));
      } while (eat(','));
      expect('}');
    } else if (c == '[') {
      ++p_;
      v.type = Json::array;
      if (eat(']')) return v;
      do v.items.push_back(value(depth + 1));
      while (eat(','));
      expect(']');
    } else if (c == '"') {
      v.type = Json::string;
      v.text = string();
    } else if (word("true")) {
      v.type = Json::boolean;
      v.b = true;
    } else if (word("false")) {
      v.type = Json::boolean;
    } else if (word("null")) {
      v.type = Json::null;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      v.type = Json::number;
      v.text = number();
    } else {
      fail(std::string("unexpected character '") + c + "'");
    }
    return v;
  }

  std::string number() {
    const std::size_t start = p_;
    auto digits = [&] {
      const std::size_t s = p_;
      while (p_ < t_.size() && t_[p_] >= '0' && t_[p_] <= '9') ++p_;
      return p_ - s;
    };
    if (t_[p_] == '-') ++p_;
    if (p_ < t_.size() && t_[p_] == '0')
      ++p_;
    else if (digits() == 0)
      fail("malformed number");
    if (p_ < t_.size() && t_[p_] == '.') {
      ++p_;
      if (digits() == 0) fail("malformed number");
    }
    if (p_ < t_.size() && (t_[p_] == 'e' || t_[p_] == 'E')) {
      ++p_;
      if (p_ < t_.size() && (t_[p_] == '+' || t_[p_] == '-')) ++p_;
      if (digits() == 0) fail("malformed number");
    }
    return t_.substr(start, p_ - start);
  }

  std::string string() {
    ++p_;  // the opening quote
    std::string out;
    while (true) {
      if (p_ >= t_.size()) fail("unterminated string");
      const char c = t_[p_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) fail("control character in a string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (p_ >= t_.size()) fail("unterminated string");
      const char e = t_[p_++];
      switch (e) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          if (p_ + 4 > t_.size()) fail("malformed \\u escape");
          unsigned u = 0;
          for (int k = 0; k < 4; ++k) {
            const char h = t_[p_++];
            u <<= 4;
            if (h >= '0' && h <= '9')
              u |= unsigned(h - '0');
            else if (h >= 'a' && h <= 'f')
              u |= unsigned(h - 'a' + 10);
            else if (h >= 'A' && h <= 'F')
              u |= unsigned(h - 'A' + 10);
            else
              fail("malformed \\u escape");
          }
          // The names this format holds are ASCII; anything else is kept as UTF-8 of the code
          // unit (surrogate pairs are not joined: no field here needs them).
          if (u < 0x80) {
            out += char(u);
          } else if (u < 0x800) {
            out += char(0xC0 | (u >> 6));
            out += char(0x80 | (u & 0x3F));
          } else {
            out += char(0xE0 | (u >> 12));
            out += char(0x80 | ((u >> 6) & 0x3F));
            out += char(0x80 | (u & 0x3F));
          }
          break;
        }
        default:
          fail(std::string("unknown escape '\\") + e + "'");
      }
    }
  }

  const std::string& t_;
  std::string where_, expected_;
  std::size_t p_ = 0;
};

}  // namespace

Json parse_json(const std::string& text, const std::string& where, const std::string& expected) {
  return Parser(text, where, expected).document();
}

const Json* JsonFields::find(const std::string& name) const {
  const Json* found = nullptr;
  for (const auto& [k, v] : o_.members)
    if (k == name) {
      if (found) throw format_error(where_ + ": field \"" + name + "\" given twice");
      found = &v;
    }
  return found;
}

const Json& JsonFields::get(const std::string& name, Json::Type type, const char* kind) const {
  const Json* v = find(name);
  if (!v) throw format_error(where_ + ": missing field \"" + name + "\"");
  if (v->type != type) throw format_error(where_ + ": field \"" + name + "\" must be " + kind);
  return *v;
}

std::string JsonFields::str(const std::string& name) const {
  return get(name, Json::string, "a string").text;
}

int64_t JsonFields::integer(const std::string& name) const {
  return to_int(get(name, Json::number, "an integer").text, "field \"" + name + "\"");
}

bool JsonFields::boolean(const std::string& name) const {
  return get(name, Json::boolean, "true or false").b;
}

int64_t JsonFields::to_int(const std::string& t, const std::string& what) const {
  // Plain decimal integers only (no fraction or exponent), within int64 with room to spare.
  const std::size_t digits = t.size() - (t[0] == '-' ? 1 : 0);
  if (t.find_first_of(".eE") != std::string::npos || digits > 18)
    throw format_error(where_ + ": " + what + " must be an integer, got " + t);
  return std::stoll(t);
}

Json parse_json_format(const std::string& text, const std::string& where, const std::string& format,
                       int64_t max_version, const std::string& kind, const std::string& writer) {
  Json doc = parse_json(text, where, "the output of " + writer);
  if (doc.type != Json::object)
    throw format_error(where + ": not an " + kind + " (a JSON object expected, as " + writer +
                       " writes)");
  const JsonFields f(doc, where);
  const Json* fmt = f.find("fsh_format");
  if (!fmt || fmt->type != Json::string || fmt->text != format)
    throw format_error(where + ": not an " + kind + " (fsh_format is not \"" + format +
                       "\": write shards with " + writer + ")");
  const int64_t version = f.integer("fsh_format_version");
  if (version < 1 || version > max_version)
    throw format_error(where + ": this file is " + format + " version " +
                       std::to_string(version) + "; this build reads up to " +
                       std::to_string(max_version));
  return doc;
}

}  // namespace fsh
