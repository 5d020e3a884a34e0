// A small strict JSON reader for the one-object files fsh writes and reads back (fsh-eval
// --shard parts, fsh-bench --shard parts): objects, arrays, strings, numbers, true, false, null
// (RFC 8259 syntax), nesting limited so that no input can exhaust the stack; every failure one
// line (format_error) naming the file and the byte or the field.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace fsh {

struct Json {
  enum Type { null, boolean, number, string, array, object } type = null;
  bool b = false;
  std::string text;  // a string's value, or a number as written
  std::vector<Json> items;
  std::vector<std::pair<std::string, Json>> members;
};

// Parses one JSON document. format_error "<where>: not valid JSON at byte B: ... (expected
// <expected>)" when it is not one.
Json parse_json(const std::string& text, const std::string& where, const std::string& expected);

// Parses a one-object file of an fsh JSON format and checks its header: an object whose
// fsh_format is `format` and whose fsh_format_version is in [1, max_version]. `kind` ("fsh-eval
// shard") and `writer` (the command that writes such files) name it in the one-line errors.
Json parse_json_format(const std::string& text, const std::string& where, const std::string& format,
                       int64_t max_version, const std::string& kind, const std::string& writer);

// Typed access to the members of an object, each failure one line naming the field.
class JsonFields {
 public:
  JsonFields(const Json& o, const std::string& where) : o_(o), where_(where) {}

  // The member called name, or nullptr; format_error when it is given twice.
  const Json* find(const std::string& name) const;
  // The member, which must exist and be of `type` (`kind` names it in the message).
  const Json& get(const std::string& name, Json::Type type, const char* kind) const;
  std::string str(const std::string& name) const;
  int64_t integer(const std::string& name) const;
  bool boolean(const std::string& name) const;
  // A plain decimal integer (no fraction or exponent) within int64 with room to spare;
  // `what` names it in the message.
  int64_t to_int(const std::string& t, const std::string& what) const;

 private:
  const Json& o_;
  std::string where_;
};

}  // namespace fsh
