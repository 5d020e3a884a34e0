// fsh's one HDF5 layer: every fsh file (fsh-dataset, fsh-split, fsh-episodes, and later
// fsh-model, fsh-adapted, fsh-eval) is read and written through io::Reader and io::Writer.
//
// What it guarantees:
// - Paths: "-" reads a whole HDF5 file from stdin (opened in memory as a file image) or writes
//   one to stdout (refused when that is a terminal). Anything else is a file path.
// - Every file carries root attributes fsh_format (string) and fsh_format_version (integer), and
//   a /provenance group (tool, version, command_line, seed, inputs): man 5 fsh-formats.
// - Writes are atomic: the file is built under a temporary name in the destination folder and
//   renamed over the destination only by commit(); a Writer destroyed without commit (an
//   exception on the way) removes the temporary, and so does SIGINT/SIGTERM/SIGHUP: no
//   half-written output is ever left.
// - Output is deterministic byte for byte: no object timestamps, no times in provenance, fixed
//   compression settings. The same content written twice gives identical files.
// - HDF5's own error printing is silenced; every failure becomes one fsh::io_error (could not
//   open/read/write) or fsh::format_error (the content does not follow the format), whose
//   message names the file and the dataset or attribute.
//
// Threads: Debian's HDF5 is the serial (not thread-safe) build; use Readers and Writers from
// one thread at a time (read everything up front, then work in parallel).
//
// Names are HDF5 paths relative to the root ("images", "provenance/inputs"); parent groups are
// created on demand by the Writer. Arrays are row-major; a shape is a vector of extents.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace fsh {

// How a file was made (stored in every file's /provenance group; see man 5 fsh-formats).
struct Provenance {
  std::string tool;          // e.g. "fsh-episodes import"
  std::string version;       // fsh version
  std::string command_line;  // full command line, "" with --no-provenance
  uint64_t seed = 0;
  std::vector<std::string> inputs;  // input paths (and their fingerprints where known)
};

// A Provenance for `tool` (e.g. "fsh-episodes sample") with this build's version.
// command_line: the full command line, or "" under --no-provenance.
Provenance make_provenance(const std::string& tool, const std::string& command_line, uint64_t seed,
                           const std::vector<std::string>& inputs);

namespace io {

using Shape = std::vector<int64_t>;
// In an expected shape, `any` matches every extent.
constexpr int64_t any = -1;

// "(600, 5)" -- for messages.
std::string shape_string(const Shape& s);

// A file being written. Construct, put(...) the content, commit(). See the header comment.
class Writer {
 public:
  // Starts writing `path` ("-" = stdout) as format `format`, version `version`; writes the
  // root attributes and the /provenance group from `prov`.
  Writer(const std::string& path, const std::string& format, int64_t version,
         const Provenance& prov);
  ~Writer();  // without commit(): closes and removes the temporary file
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // Typed arrays. data.size() must equal the product of shape. `compress` stores the array
  // deflated in chunks (use it for images and other large arrays).
  void put(const std::string& name, const std::vector<uint8_t>& data, const Shape& shape,
           bool compress = false);
  void put(const std::string& name, const std::vector<int8_t>& data, const Shape& shape,
           bool compress = false);
  void put(const std::string& name, const std::vector<int32_t>& data, const Shape& shape,
           bool compress = false);
  void put(const std::string& name, const std::vector<int64_t>& data, const Shape& shape,
           bool compress = false);
  void put(const std::string& name, const std::vector<float>& data, const Shape& shape,
           bool compress = false);
  void put(const std::string& name, const std::vector<double>& data, const Shape& shape,
           bool compress = false);
  // 1-D array of variable-length UTF-8 strings.
  void put_strings(const std::string& name, const std::vector<std::string>& data);
  // Creates an (empty) group; put() also creates parents on demand.
  void group(const std::string& name);

  // Scalar attributes on an object ("" or "/" = the root group, else a group or dataset name;
  // a name that does not exist yet is created as a group). Rewriting an attribute replaces it.
  void attr(const std::string& object, const std::string& name, const std::string& value);
  void attr(const std::string& object, const std::string& name, const char* value);
  void attr(const std::string& object, const std::string& name, int64_t value);
  void attr(const std::string& object, const std::string& name, uint64_t value);
  void attr(const std::string& object, const std::string& name, double value);

  // Finishes the file: renames the temporary over `path`, or writes the image to stdout.
  void commit();

  const std::string& path() const { return path_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string path_;
};

// The numeric kinds a dataset may hold, as the reader reports them.
enum class Kind { integer, floating, string, other };

// A file being read. The constructor opens it and checks it is HDF5; expect() checks the
// format name and version. Getters check presence, type and shape.
class Reader {
 public:
  explicit Reader(const std::string& path);
  // Opens a whole HDF5 file held in memory (copied; what "-" does with stdin); `display` names
  // it in messages. For callers that hold the bytes already, such as the fuzz targets.
  Reader(const std::string& display, const void* image, std::size_t size);
  ~Reader();
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  // The root attributes; format() is "" when the file has none (not an fsh file).
  const std::string& format() const { return format_; }
  int64_t version() const { return version_; }

  // Throws format_error unless fsh_format is one of `formats` and fsh_format_version is in
  // [1, max_version]: "x.h5: this file is fsh-episodes version 3; this build reads up to 2",
  // "x.h5: not an fsh-dataset file (fsh_format is "fsh-episodes")".
  void expect(const std::vector<std::string>& formats, int64_t max_version) const;

  bool has(const std::string& name) const;     // a dataset or group of that name exists
  Shape shape(const std::string& name) const;  // of a dataset (format_error if missing)
  Kind kind(const std::string& name) const;

  // Reads a whole dataset, converted to T. Integer T accepts integer datasets of any width
  // (values must fit T: format_error otherwise); floating T accepts floating datasets. With
  // `exact`, the stored type must be exactly T (e.g. uint8 images). `expected` may use
  // io::any; `got` receives the actual shape.
  std::vector<uint8_t> get_u8(const std::string& name, const Shape& expected, Shape* got = nullptr,
                              bool exact = true) const;
  std::vector<int8_t> get_i8(const std::string& name, const Shape& expected,
                             Shape* got = nullptr) const;
  std::vector<int32_t> get_i32(const std::string& name, const Shape& expected,
                               Shape* got = nullptr) const;
  std::vector<int64_t> get_i64(const std::string& name, const Shape& expected,
                               Shape* got = nullptr) const;
  std::vector<float> get_f32(const std::string& name, const Shape& expected,
                             Shape* got = nullptr) const;
  std::vector<double> get_f64(const std::string& name, const Shape& expected,
                              Shape* got = nullptr) const;
  // A 1-D string dataset (variable- or fixed-length); `n` = expected length or io::any.
  std::vector<std::string> get_strings(const std::string& name, int64_t n = any) const;

  bool has_attr(const std::string& object, const std::string& name) const;
  std::string attr_string(const std::string& object, const std::string& name) const;
  int64_t attr_int(const std::string& object, const std::string& name) const;
  uint64_t attr_uint(const std::string& object, const std::string& name) const;
  double attr_double(const std::string& object, const std::string& name) const;
  // The names of an object's attributes, in name order (empty when the object does not exist).
  std::vector<std::string> attr_names(const std::string& object) const;
  // The kind of an attribute's type (format_error when missing).
  Kind attr_kind(const std::string& object, const std::string& name) const;

  // The /provenance group (empty fields where absent).
  Provenance provenance() const;

  // Every dataset in the file: (name, shape, type in words), in name order. For `info`.
  struct Entry {
    std::string name;
    Shape shape;
    std::string type;
  };
  std::vector<Entry> list() const;

  const std::string& path() const { return path_; }
  // "x.h5" for messages ("<stdin>" for "-").
  const std::string& display() const { return display_; }

 private:
  struct Impl;
  // Opens `name` (a file), or the file image `image` when it is not null; reads the format.
  void open(const std::string& name, const char* image, std::size_t size);
  std::unique_ptr<Impl> impl_;
  std::string path_, display_, format_;
  int64_t version_ = 0;
};

}  // namespace io
}  // namespace fsh
