// The HDF5 layer (see hdf5.hpp): HDF5 C API behind io::Writer / io::Reader, with errors turned
// into one-line fsh exceptions and output made atomic and deterministic.
#include "io/hdf5.hpp"

#include <fcntl.h>
#include <hdf5.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <new>

#include "util/error.hpp"
#include "util/version.hpp"

namespace fsh {

Provenance make_provenance(const std::string& tool, const std::string& command_line, uint64_t seed,
                           const std::vector<std::string>& inputs) {
  return {tool, FSH_VERSION, command_line, seed, inputs};
}

namespace io {
namespace {

// HDF5's signature; a file may start with it at 0, 512, 1024, 2048, ... (after a user block).
constexpr char kSignature[8] = {'\x89', 'H', 'D', 'F', '\r', '\n', '\x1a', '\n'};

// No library shutdown at exit: after a failed close (a write that hit a full disk) HDF5 1.10
// keeps the file in its tables and crashes closing it again from its atexit handler. Every fsh
// file is closed explicitly (the temporary of a failed write removed), so the handler has
// nothing to do. H5dont_atexit works only before the library initialises, which any HDF5 call
// does (--version text is built at start-up), hence a static initialiser.
const bool g_hdf5_no_atexit = (H5dont_atexit(), true);

void silence_hdf5() {
  static const bool done = [] {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)done;
}

// The innermost message on HDF5's error stack (the actual cause), then clears the stack.
std::string hdf5_cause() {
  std::string cause;
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_DOWNWARD,
      [](unsigned, const H5E_error2_t* e, void* data) -> herr_t {
        if (e->desc && *e->desc) *static_cast<std::string*>(data) = e->desc;
        return 0;
      },
      &cause);
  H5Eclear2(H5E_DEFAULT);
  return cause;
}

std::string with_cause(const std::string& msg) {
  std::string c = hdf5_cause();
  // A failed write's description spans lines (it embeds a time stamp) and lists buffer
  // addresses; its errno text is what says what happened ("File too large").
  const std::string::size_type at = c.find("error message = '");
  if (at != std::string::npos) {
    const std::string::size_type from = at + 17, to = c.find('\'', from);
    c = c.substr(0, c.find(':')) + ": " + c.substr(from, to == std::string::npos ? to : to - from);
  }
  for (char& ch : c)
    if (ch == '\n' || ch == '\r') ch = ' ';
  return c.empty() ? msg : msg + " (HDF5: " + c + ")";
}

// Owns an HDF5 identifier and closes it with the right function.
class Handle {
 public:
  Handle() = default;
  Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  ~Handle() { reset(); }
  Handle(Handle&& o) noexcept : id_(o.id_), close_(o.close_) { o.id_ = -1; }
  Handle& operator=(Handle&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = o.id_;
      close_ = o.close_;
      o.id_ = -1;
    }
    return *this;
  }
  // Closes now; false when the close failed (for a file: its last writes did not succeed).
  bool reset() {
    const bool ok = id_ < 0 || !close_ || close_(id_) >= 0;
    id_ = -1;
    return ok;
  }
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }

 private:
  hid_t id_ = -1;
  herr_t (*close_)(hid_t) = nullptr;
};

std::string object_name(const std::string& object) {
  return object.empty() || object == "/" ? "/" : (object[0] == '/' ? object : "/" + object);
}

std::string dataset_name(const std::string& name) { return name[0] == '/' ? name : "/" + name; }

Handle vlen_string_type() {
  Handle t(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(t.get(), H5T_VARIABLE);
  H5Tset_cset(t.get(), H5T_CSET_UTF8);
  return t;
}

template <class T>
struct TypeOf;
template <>
struct TypeOf<uint8_t> {
  static hid_t file() { return H5T_STD_U8LE; }
  static hid_t mem() { return H5T_NATIVE_UINT8; }
};
template <>
struct TypeOf<int8_t> {
  static hid_t file() { return H5T_STD_I8LE; }
  static hid_t mem() { return H5T_NATIVE_INT8; }
};
template <>
struct TypeOf<int32_t> {
  static hid_t file() { return H5T_STD_I32LE; }
  static hid_t mem() { return H5T_NATIVE_INT32; }
};
template <>
struct TypeOf<int64_t> {
  static hid_t file() { return H5T_STD_I64LE; }
  static hid_t mem() { return H5T_NATIVE_INT64; }
};
template <>
struct TypeOf<uint64_t> {
  static hid_t file() { return H5T_STD_U64LE; }
  static hid_t mem() { return H5T_NATIVE_UINT64; }
};
template <>
struct TypeOf<float> {
  static hid_t file() { return H5T_IEEE_F32LE; }
  static hid_t mem() { return H5T_NATIVE_FLOAT; }
};
template <>
struct TypeOf<double> {
  static hid_t file() { return H5T_IEEE_F64LE; }
  static hid_t mem() { return H5T_NATIVE_DOUBLE; }
};

// "uint8", "int32", "float64", "string", ... for messages and listings.
std::string type_words(hid_t type) {
  switch (H5Tget_class(type)) {
    case H5T_INTEGER:
      return std::string(H5Tget_sign(type) == H5T_SGN_NONE ? "uint" : "int") +
             std::to_string(8 * H5Tget_size(type));
    case H5T_FLOAT:
      return "float" + std::to_string(8 * H5Tget_size(type));
    case H5T_STRING:
      return "string";
    case H5T_COMPOUND:
      return "compound";
    case H5T_ENUM:
      return "enum";
    case H5T_ARRAY:
      return "array";
    default:
      return "other";
  }
}

// Temporary files in flight, removed by SIGINT/SIGTERM/SIGHUP so that an interrupted tool
// leaves nothing behind either. Fixed storage: the handler may only call async-signal-safe
// functions (unlink, signal, raise) and must not allocate.
constexpr int kMaxTemps = 16;
char g_temps[kMaxTemps][4096];
volatile std::sig_atomic_t g_temp_used[kMaxTemps];

extern "C" void remove_temps_and_reraise(int sig) {
  for (int i = 0; i < kMaxTemps; ++i)
    if (g_temp_used[i]) unlink(g_temps[i]);
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

void install_signal_cleanup() {
  static const bool done = [] {
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
      // Leave a handler the program installed itself alone.
      auto previous = std::signal(sig, remove_temps_and_reraise);
      if (previous != SIG_DFL) std::signal(sig, previous);
    }
    return true;
  }();
  (void)done;
}

int register_temp(const std::string& path) {
  if (path.size() >= sizeof g_temps[0]) return -1;
  for (int i = 0; i < kMaxTemps; ++i)
    if (!g_temp_used[i]) {
      std::memcpy(g_temps[i], path.c_str(), path.size() + 1);
      g_temp_used[i] = 1;
      return i;
    }
  return -1;  // more than kMaxTemps writers at once: still removed on exceptions, not signals
}

void unregister_temp(int slot) {
  if (slot >= 0) g_temp_used[slot] = 0;
}

bool find_signature(const char* data, std::size_t size) {
  for (std::size_t off = 0; off + 8 <= size; off = off ? off * 2 : 512)
    if (std::memcmp(data + off, kSignature, 8) == 0) return true;
  return false;
}

}  // namespace

std::string shape_string(const Shape& s) {
  std::string out = "(";
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i) out += ", ";
    out += s[i] == any ? std::string("any") : std::to_string(s[i]);
  }
  return out + (s.size() == 1 ? ",)" : ")");
}

// ---- Writer ---------------------------------------------------------------------------------

struct Writer::Impl {
  Handle file;
  std::string tmp;     // temporary file ("" when writing to stdout)
  int temp_slot = -1;  // its slot in the signal-cleanup registry
  bool to_stdout = false;
  bool committed = false;
  std::string display;  // destination, for messages

  // Object creation properties without timestamps (byte-identical output).
  Handle group_props() const {
    Handle p(H5Pcreate(H5P_GROUP_CREATE), H5Pclose);
    H5Pset_obj_track_times(p.get(), false);
    return p;
  }

  void ensure_parents(const std::string& name) {
    for (std::size_t pos = name.find('/', 1); pos != std::string::npos;
         pos = name.find('/', pos + 1)) {
      std::string parent = name.substr(0, pos);
      if (H5Lexists(file.get(), parent.c_str(), H5P_DEFAULT) > 0) continue;
      Handle gcpl = group_props();
      Handle g(H5Gcreate2(file.get(), parent.c_str(), H5P_DEFAULT, gcpl.get(), H5P_DEFAULT),
               H5Gclose);
      if (!g.ok()) throw io_error(with_cause(display + ": cannot create group " + parent));
    }
  }

  template <class T>
  void put(const std::string& raw, const T* data, std::size_t n, const Shape& shape,
           bool compress) {
    const std::string name = dataset_name(raw);
    int64_t total = 1;
    for (int64_t e : shape) total *= e;
    if (static_cast<std::size_t>(total) != n)
      throw shape_error(display + ": dataset " + name + " has " + std::to_string(n) +
                        " values but shape " + shape_string(shape));
    ensure_parents(name);
    std::vector<hsize_t> dims(shape.begin(), shape.end());
    Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
    Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
    H5Pset_obj_track_times(dcpl.get(), false);
    const bool nonempty =
        !dims.empty() && std::all_of(dims.begin(), dims.end(), [](hsize_t d) { return d > 0; });
    if (compress && nonempty) {
      // Chunks of whole rows along the first axis, about 1 MiB each. Deflate level 1: on the
      // rotated Omniglot split (100 MB of images) it writes in 0.95 s vs 1.33 s at level 4,
      // for a file 10% larger (18.8 vs 17.1 MB; measured with h5py, same chunks).
      std::vector<hsize_t> chunk = dims;
      hsize_t row = sizeof(T);
      for (std::size_t i = 1; i < dims.size(); ++i) row *= dims[i];
      chunk[0] = std::max<hsize_t>(1, std::min<hsize_t>(dims[0], (hsize_t(1) << 20) / row));
      H5Pset_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data());
      H5Pset_deflate(dcpl.get(), 1);
    }
    Handle ds(H5Dcreate2(file.get(), name.c_str(), TypeOf<T>::file(), space.get(), H5P_DEFAULT,
                         dcpl.get(), H5P_DEFAULT),
              H5Dclose);
    if (!ds.ok()) throw io_error(with_cause(display + ": cannot create dataset " + name));
    if (n > 0 && H5Dwrite(ds.get(), TypeOf<T>::mem(), H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
      throw io_error(with_cause(display + ": cannot write dataset " + name));
  }

  Handle open_object(const std::string& object) {
    const std::string name = object_name(object);
    if (name != "/" && H5Lexists(file.get(), name.c_str(), H5P_DEFAULT) <= 0) {
      ensure_parents(name + "/");
    }
    Handle o(H5Oopen(file.get(), name.c_str(), H5P_DEFAULT), H5Oclose);
    if (!o.ok()) throw io_error(with_cause(display + ": cannot open " + name));
    return o;
  }

  void attr(const std::string& object, const std::string& name, hid_t file_type, hid_t mem_type,
            const void* value) {
    Handle o = open_object(object);
    if (H5Aexists(o.get(), name.c_str()) > 0) H5Adelete(o.get(), name.c_str());
    Handle space(H5Screate(H5S_SCALAR), H5Sclose);
    Handle a(H5Acreate2(o.get(), name.c_str(), file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT),
             H5Aclose);
    if (!a.ok() || H5Awrite(a.get(), mem_type, value) < 0)
      throw io_error(
          with_cause(display + ": cannot write attribute " + name + " of " + object_name(object)));
  }

  void discard() {
    file.reset();
    if (!tmp.empty()) std::remove(tmp.c_str());
    unregister_temp(temp_slot);
    temp_slot = -1;
  }
};

Writer::Writer(const std::string& path, const std::string& format, int64_t version,
               const Provenance& prov)
    : impl_(std::make_unique<Impl>()), path_(path) {
  silence_hdf5();
  Impl& w = *impl_;
  w.to_stdout = path == "-";
  w.display = w.to_stdout ? "<stdout>" : path;
  if (path.empty()) throw usage_error("no output path given (use -o FILE, or -o - for stdout)");
  Handle fcpl(H5Pcreate(H5P_FILE_CREATE), H5Pclose);
  H5Pset_obj_track_times(fcpl.get(), false);
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  std::string create_name;
  if (w.to_stdout) {
    if (isatty(STDOUT_FILENO))
      throw usage_error(
          "refusing to write an HDF5 file to a terminal: redirect stdout, or give "
          "an output file name instead of -");
    // An in-memory file (core driver, no backing store); commit() dumps its image.
    H5Pset_fapl_core(fapl.get(), 1 << 20, false);
    create_name = "fsh-stdout.h5";
  } else {
    namespace fs = std::filesystem;
    fs::path dest(path);
    if (fs::is_directory(dest))
      throw io_error(path + ": is a folder; expected an output file name");
    fs::path dir = dest.parent_path();
    if (dir.empty()) dir = ".";
    if (!fs::is_directory(dir))
      throw io_error(path + ": cannot write: folder " + dir.string() + " does not exist");
    std::string tmpl = (dir / ("." + dest.filename().string() + ".tmp-XXXXXX")).string();
    int fd = mkstemp(tmpl.data());
    if (fd < 0)
      throw io_error(path + ": cannot create a temporary file in " + dir.string() + " (" +
                     std::strerror(errno) + ")");
    // mkstemp makes the file 0600; give it the permissions a normally created file would get.
    mode_t mask = umask(0);
    umask(mask);
    fchmod(fd, 0666 & ~mask);
    close(fd);
    install_signal_cleanup();
    w.tmp = tmpl;
    w.temp_slot = register_temp(tmpl);
    create_name = tmpl;
  }
  w.file = Handle(H5Fcreate(create_name.c_str(), H5F_ACC_TRUNC, fcpl.get(), fapl.get()), H5Fclose);
  if (!w.file.ok()) {
    std::string msg = with_cause(w.display + ": cannot create HDF5 file");
    w.discard();
    throw io_error(msg);
  }
  try {
    attr("/", "fsh_format", format);
    attr("/", "fsh_format_version", version);
    group("provenance");
    attr("provenance", "tool", prov.tool);
    attr("provenance", "version", prov.version);
    attr("provenance", "command_line", prov.command_line);
    attr("provenance", "seed", prov.seed);
    put_strings("provenance/inputs", prov.inputs);
  } catch (...) {
    w.discard();
    throw;
  }
}

Writer::~Writer() {
  if (impl_ && !impl_->committed) impl_->discard();
}

void Writer::put(const std::string& n, const std::vector<uint8_t>& d, const Shape& s, bool c) {
  impl_->put(n, d.data(), d.size(), s, c);
}
void Writer::put(const std::string& n, const std::vector<int8_t>& d, const Shape& s, bool c) {
  impl_->put(n, d.data(), d.size(), s, c);
}
void Writer::put(const std::string& n, const std::vector<int32_t>& d, const Shape& s, bool c) {
  impl_->put(n, d.data(), d.size(), s, c);
}
void Writer::put(const std::string& n, const std::vector<int64_t>& d, const Shape& s, bool c) {
  impl_->put(n, d.data(), d.size(), s, c);
}
void Writer::put(const std::string& n, const std::vector<float>& d, const Shape& s, bool c) {
  impl_->put(n, d.data(), d.size(), s, c);
}
void Writer::put(const std::string& n, const std::vector<double>& d, const Shape& s, bool c) {
  impl_->put(n, d.data(), d.size(), s, c);
}

void Writer::put_strings(const std::string& raw, const std::vector<std::string>& data) {
  Impl& w = *impl_;
  const std::string name = dataset_name(raw);
  w.ensure_parents(name);
  hsize_t n = data.size();
  Handle space(H5Screate_simple(1, &n, nullptr), H5Sclose);
  Handle type = vlen_string_type();
  Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  H5Pset_obj_track_times(dcpl.get(), false);
  Handle ds(H5Dcreate2(w.file.get(), name.c_str(), type.get(), space.get(), H5P_DEFAULT, dcpl.get(),
                       H5P_DEFAULT),
            H5Dclose);
  if (!ds.ok()) throw io_error(with_cause(w.display + ": cannot create dataset " + name));
  std::vector<const char*> ptrs(data.size());
  for (std::size_t i = 0; i < data.size(); ++i) ptrs[i] = data[i].c_str();
  if (n > 0 && H5Dwrite(ds.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()) < 0)
    throw io_error(with_cause(w.display + ": cannot write dataset " + name));
}

void Writer::group(const std::string& raw) { impl_->ensure_parents(dataset_name(raw) + "/"); }

void Writer::attr(const std::string& o, const std::string& n, const std::string& v) {
  Handle type = vlen_string_type();
  const char* p = v.c_str();
  impl_->attr(o, n, type.get(), type.get(), &p);
}
void Writer::attr(const std::string& o, const std::string& n, const char* v) {
  attr(o, n, std::string(v));
}
void Writer::attr(const std::string& o, const std::string& n, int64_t v) {
  impl_->attr(o, n, H5T_STD_I64LE, H5T_NATIVE_INT64, &v);
}
void Writer::attr(const std::string& o, const std::string& n, uint64_t v) {
  impl_->attr(o, n, H5T_STD_U64LE, H5T_NATIVE_UINT64, &v);
}
void Writer::attr(const std::string& o, const std::string& n, double v) {
  impl_->attr(o, n, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &v);
}

void Writer::commit() {
  Impl& w = *impl_;
  if (w.committed) return;
  if (w.to_stdout) {
    if (H5Fflush(w.file.get(), H5F_SCOPE_GLOBAL) < 0)
      throw io_error(with_cause("<stdout>: cannot finish the HDF5 file"));
    ssize_t size = H5Fget_file_image(w.file.get(), nullptr, 0);
    if (size < 0) throw io_error(with_cause("<stdout>: cannot get the HDF5 file image"));
    std::vector<char> image(static_cast<std::size_t>(size));
    if (H5Fget_file_image(w.file.get(), image.data(), image.size()) < 0)
      throw io_error(with_cause("<stdout>: cannot get the HDF5 file image"));
    w.file.reset();
    std::cout.flush();
    if (std::fwrite(image.data(), 1, image.size(), stdout) != image.size() ||
        std::fflush(stdout) != 0)
      throw io_error(std::string("<stdout>: write failed (") + std::strerror(errno) + ")");
  } else {
    hid_t id = w.file.get();
    // Flush and close (closing writes too: a failure there would otherwise leave a short file
    // to be renamed into place), then fsync, so that the rename never publishes a file whose
    // bytes are not on disk yet.
    const bool written = H5Fflush(id, H5F_SCOPE_GLOBAL) >= 0 && w.file.reset();
    std::string failure = written ? "" : with_cause("cannot write");
    if (written) {
      const int fd = ::open(w.tmp.c_str(), O_RDONLY);
      if (fd < 0 || ::fsync(fd) != 0)
        failure = std::string("cannot write: ") + std::strerror(errno);
      if (fd >= 0) ::close(fd);
    }
    if (!failure.empty()) {
      const std::string msg = path_ + ": " + failure + " (disk full?)";
      w.discard();
      throw io_error(msg);
    }
    if (std::rename(w.tmp.c_str(), path_.c_str()) != 0) {
      std::string msg = path_ + ": cannot rename the finished temporary file into place (" +
                        std::strerror(errno) + ")";
      w.discard();
      throw io_error(msg);
    }
    w.tmp.clear();
    unregister_temp(w.temp_slot);
    w.temp_slot = -1;
  }
  w.committed = true;
}

// ---- Reader ---------------------------------------------------------------------------------

struct Reader::Impl {
  Handle file;
  std::string display;

  [[noreturn]] void fail_format(const std::string& msg) const {
    throw format_error(display + ": " + msg);
  }

  bool exists(const std::string& name) const {
    const std::string full = dataset_name(name);
    for (std::size_t pos = full.find('/', 1);; pos = full.find('/', pos + 1)) {
      std::string prefix = full.substr(0, pos);
      if (H5Lexists(file.get(), prefix.c_str(), H5P_DEFAULT) <= 0) {
        H5Eclear2(H5E_DEFAULT);
        return false;
      }
      if (pos == std::string::npos) return true;
    }
  }

  Handle open_dataset(const std::string& name) const {
    const std::string full = dataset_name(name);
    if (!exists(full)) fail_format("missing dataset " + full);
    Handle o(H5Oopen(file.get(), full.c_str(), H5P_DEFAULT), H5Oclose);
    if (!o.ok()) throw io_error(with_cause(display + ": cannot open " + full));
    if (H5Iget_type(o.get()) != H5I_DATASET) fail_format(full + " is a group; expected a dataset");
    Handle ds(H5Dopen2(file.get(), full.c_str(), H5P_DEFAULT), H5Dclose);
    if (!ds.ok()) throw io_error(with_cause(display + ": cannot open dataset " + full));
    check_storage(ds.get(), full);
    return ds;
  }

  // A number wider than any HDF5 writes (integers up to 64 bits, floats up to 128): a damaged
  // datatype (a 16 MB integer, as the fuzzer found), from which HDF5 1.10 converts past the
  // end of the data it read.
  void check_number_width(hid_t type, const std::string& what) const {
    const H5T_class_t c = H5Tget_class(type);
    const std::size_t size = H5Tget_size(type);
    if ((c == H5T_INTEGER && size > 8) || (c == H5T_FLOAT && size > 16))
      fail_format(what + " has type " + type_words(type) +
                  ", wider than any number type (damaged file?)");
  }

  // What HDF5 1.10 reads from a damaged file without checking, and then acts on (found by
  // fuzzing, tests/fuzz/README.md): an extent past its maximum (HDF5 never writes one), which
  // would make fsh allocate for data the file cannot hold; storage larger than the file; a
  // chunk larger than a fixed dimension (HDF5 refuses to create one), from which H5Dread
  // copies a whole nominal chunk out of the smaller buffer its decompression filled (out of
  // bounds, or a SIGSEGV); contiguous or compact storage smaller than the data (a forged
  // extent: fsh would allocate for it).
  void check_storage(hid_t ds, const std::string& full) const {
    {
      Handle type(H5Dget_type(ds), H5Tclose);
      check_number_width(type.get(), "dataset " + full);
    }
    Handle space(H5Dget_space(ds), H5Sclose);
    const int rank = H5Sget_simple_extent_ndims(space.get());
    if (rank <= 0) return;
    std::vector<hsize_t> dims(static_cast<std::size_t>(rank)), max(dims), chunk(dims);
    H5Sget_simple_extent_dims(space.get(), dims.data(), max.data());
    const Shape shape(dims.begin(), dims.end());
    for (int i = 0; i < rank; ++i)
      if (max[i] != H5S_UNLIMITED && dims[i] > max[i])
        fail_format("dataset " + full + " has shape " + shape_string(shape) +
                    ", larger than its maximum shape " +
                    shape_string(Shape(max.begin(), max.end())) + " (damaged file?)");
    Handle dcpl(H5Dget_create_plist(ds), H5Pclose);
    if (!dcpl.ok()) return;
    // Stored bytes beyond the whole file's size (a damaged chunk record: HDF5 then allocates
    // that much to read the chunk, 4 GB for a 22 KB file). External raw files are the one
    // legitimate way to store more, and are left alone.
    hsize_t file_size = 0;
    if (H5Pget_external_count(dcpl.get()) == 0 && H5Fget_filesize(file.get(), &file_size) >= 0) {
      const hsize_t stored = H5Dget_storage_size(ds);
      if (stored > file_size)
        fail_format("dataset " + full + " claims " + std::to_string(stored) +
                    " bytes of storage, more than the whole file's " + std::to_string(file_size) +
                    " (damaged file?)");
    }
    const H5D_layout_t layout = H5Pget_layout(dcpl.get());
    if (layout == H5D_CHUNKED) {
      if (H5Pget_chunk(dcpl.get(), rank, chunk.data()) != rank)
        fail_format("dataset " + full + " is chunked with a rank other than its shape's " +
                    "(damaged file?)");
      for (int i = 0; i < rank; ++i)
        if (chunk[i] == 0 || (max[i] != H5S_UNLIMITED && chunk[i] > max[i]))
          fail_format("dataset " + full + " of shape " + shape_string(shape) +
                      " is stored in chunks of " + shape_string(Shape(chunk.begin(), chunk.end())) +
                      ", larger than its fixed size (damaged file?)");
    } else if (layout == H5D_CONTIGUOUS || layout == H5D_COMPACT) {
      // Fixed-size elements only: variable-length ones are stored as references elsewhere.
      Handle type(H5Dget_type(ds), H5Tclose);
      if (!type.ok() || H5Tdetect_class(type.get(), H5T_VLEN) != 0 ||
          (H5Tget_class(type.get()) == H5T_STRING && H5Tis_variable_str(type.get()) != 0))
        return;
      uint64_t bytes = H5Tget_size(type.get());
      for (hsize_t d : dims)
        if (__builtin_mul_overflow(bytes, static_cast<uint64_t>(d), &bytes)) bytes = UINT64_MAX;
      const uint64_t stored = H5Dget_storage_size(ds);
      if (bytes > stored)
        fail_format("dataset " + full + " of shape " + shape_string(shape) + " needs " +
                    std::to_string(bytes) + " bytes but stores " + std::to_string(stored) +
                    " (truncated or damaged file?)");
    }
  }

  Shape shape_of(hid_t ds) const {
    Handle space(H5Dget_space(ds), H5Sclose);
    int rank = H5Sget_simple_extent_ndims(space.get());
    std::vector<hsize_t> dims(static_cast<std::size_t>(std::max(rank, 0)));
    if (rank > 0) H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
    return Shape(dims.begin(), dims.end());
  }

  Shape check_shape(hid_t ds, const std::string& name, const Shape& expected) const {
    Shape s = shape_of(ds);
    bool ok = s.size() == expected.size();
    for (std::size_t i = 0; ok && i < s.size(); ++i) ok = expected[i] == any || expected[i] == s[i];
    if (!ok)
      fail_format("dataset " + dataset_name(name) + " has shape " + shape_string(s) +
                  "; expected " + shape_string(expected));
    // Extents come from the file: their product must not overflow (a damaged or forged
    // dataspace can declare anything; HDF5 itself allows up to 2^64 per extent).
    uint64_t total = 1;
    for (int64_t e : s)
      if (e < 0 || __builtin_mul_overflow(total, static_cast<uint64_t>(e), &total) ||
          total > (uint64_t{1} << 56))
        fail_format("dataset " + dataset_name(name) + " declares shape " + shape_string(s) +
                    ", too large for any array");
    return s;
  }

  // n elements for dataset `name`: a shape that fits the format but not this machine's memory
  // is an error naming the file, not an uncaught std::bad_alloc.
  template <class T>
  std::vector<T> buffer(std::size_t n, const std::string& name) const {
    try {
      return std::vector<T>(n);
    } catch (const std::bad_alloc&) {
      throw io_error(display + ": dataset " + dataset_name(name) + " holds " + std::to_string(n) +
                     " values, more than this machine's memory can hold");
    }
  }

  void read(hid_t ds, const std::string& name, hid_t mem_type, void* buf) const {
    if (H5Dread(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
      throw io_error(with_cause(display + ": cannot read dataset " + dataset_name(name) +
                                " (truncated or damaged file?)"));
  }

  // Any integer dataset as int64 (uint64 values must be < 2^63).
  std::vector<int64_t> integers(const std::string& name, const Shape& expected, Shape* got,
                                const char* wanted) const {
    Handle ds = open_dataset(name);
    Handle type(H5Dget_type(ds.get()), H5Tclose);
    if (H5Tget_class(type.get()) != H5T_INTEGER)
      fail_format("dataset " + dataset_name(name) + " has type " + type_words(type.get()) +
                  "; expected an integer type (" + wanted + ")");
    Shape s = check_shape(ds.get(), name, expected);
    if (got) *got = s;
    int64_t total = 1;
    for (int64_t e : s) total *= e;
    std::vector<int64_t> out = buffer<int64_t>(static_cast<std::size_t>(total), name);
    if (total == 0) return out;
    if (H5Tget_sign(type.get()) == H5T_SGN_NONE && H5Tget_size(type.get()) == 8) {
      std::vector<uint64_t> u = buffer<uint64_t>(out.size(), name);
      read(ds.get(), name, H5T_NATIVE_UINT64, u.data());
      for (std::size_t i = 0; i < u.size(); ++i) {
        if (u[i] > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
          fail_format("dataset " + dataset_name(name) + " holds " + std::to_string(u[i]) +
                      ", too large for " + wanted);
        out[i] = static_cast<int64_t>(u[i]);
      }
    } else {
      read(ds.get(), name, H5T_NATIVE_INT64, out.data());
    }
    return out;
  }

  template <class T>
  std::vector<T> narrow(const std::string& name, const Shape& expected, Shape* got,
                        const char* wanted) const {
    std::vector<int64_t> wide = integers(name, expected, got, wanted);
    std::vector<T> out(wide.size());
    for (std::size_t i = 0; i < wide.size(); ++i) {
      if (wide[i] < std::numeric_limits<T>::min() || wide[i] > std::numeric_limits<T>::max())
        fail_format("dataset " + dataset_name(name) + " holds " + std::to_string(wide[i]) +
                    ", outside the range of " + wanted);
      out[i] = static_cast<T>(wide[i]);
    }
    return out;
  }

  template <class T>
  std::vector<T> floats(const std::string& name, const Shape& expected, Shape* got,
                        const char* wanted) const {
    Handle ds = open_dataset(name);
    Handle type(H5Dget_type(ds.get()), H5Tclose);
    if (H5Tget_class(type.get()) != H5T_FLOAT)
      fail_format("dataset " + dataset_name(name) + " has type " + type_words(type.get()) +
                  "; expected a floating-point type (" + wanted + ")");
    Shape s = check_shape(ds.get(), name, expected);
    if (got) *got = s;
    int64_t total = 1;
    for (int64_t e : s) total *= e;
    std::vector<T> out = buffer<T>(static_cast<std::size_t>(total), name);
    if (total > 0) read(ds.get(), name, TypeOf<T>::mem(), out.data());
    return out;
  }

  Handle open_attr(const std::string& object, const std::string& name) const {
    const std::string obj = object_name(object);
    if ((obj != "/" && !exists(obj)) ||
        H5Aexists_by_name(file.get(), obj.c_str(), name.c_str(), H5P_DEFAULT) <= 0) {
      H5Eclear2(H5E_DEFAULT);
      fail_format("missing attribute " + name + " of " + obj);
    }
    Handle a(H5Aopen_by_name(file.get(), obj.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT),
             H5Aclose);
    if (!a.ok()) throw io_error(with_cause(display + ": cannot open attribute " + name));
    Handle space(H5Aget_space(a.get()), H5Sclose);
    if (H5Sget_simple_extent_npoints(space.get()) != 1)
      fail_format("attribute " + name + " of " + obj + " is not a single value");
    Handle type(H5Aget_type(a.get()), H5Tclose);
    check_number_width(type.get(), "attribute " + name + " of " + obj);
    return a;
  }

  void read_attr(hid_t a, const std::string& name, hid_t mem_type, void* buf) const {
    if (H5Aread(a, mem_type, buf) < 0)
      throw io_error(with_cause(display + ": cannot read attribute " + name));
  }
};

namespace {

// Strings from a string-typed dataset or attribute, variable- or fixed-length.
template <class ReadFn>
std::vector<std::string> read_strings(hid_t file_type, hid_t space, std::size_t n, ReadFn read) {
  std::vector<std::string> out(n);
  if (n == 0) return out;
  if (H5Tis_variable_str(file_type) > 0) {
    Handle mem = vlen_string_type();
    std::vector<char*> ptrs(n, nullptr);
    read(mem.get(), ptrs.data());
    for (std::size_t i = 0; i < n; ++i) out[i] = ptrs[i] ? ptrs[i] : "";
    H5Dvlen_reclaim(mem.get(), space, H5P_DEFAULT, ptrs.data());
  } else {
    std::size_t size = H5Tget_size(file_type);
    Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mem.get(), size);
    H5Tset_strpad(mem.get(), H5T_STR_NULLPAD);
    std::vector<char> buf(n * size);
    read(mem.get(), buf.data());
    const bool space_pad = H5Tget_strpad(file_type) == H5T_STR_SPACEPAD;
    for (std::size_t i = 0; i < n; ++i) {
      const char* p = buf.data() + i * size;
      std::size_t len = strnlen(p, size);
      if (space_pad)
        while (len > 0 && p[len - 1] == ' ') --len;
      out[i] = std::string(p, len);
    }
  }
  return out;
}

}  // namespace

Reader::Reader(const std::string& path) : impl_(std::make_unique<Impl>()), path_(path) {
  display_ = path == "-" ? "<stdin>" : path;
  impl_->display = display_;
  if (path == "-") {
    // Read all of stdin and open it as an in-memory file image.
    if (isatty(STDIN_FILENO))
      throw usage_error(
          "- reads an HDF5 file from stdin, but stdin is a terminal: pipe a file in "
          "(... -o - | fsh-episodes info -) or give a file name");
    std::vector<char> image;
    char buf[1 << 16];
    std::size_t got;
    while ((got = std::fread(buf, 1, sizeof buf, stdin)) > 0)
      image.insert(image.end(), buf, buf + got);
    if (std::ferror(stdin)) throw io_error("<stdin>: read failed");
    if (image.empty()) throw io_error("<stdin>: no input (expected an HDF5 file on stdin)");
    open("fsh-stdin.h5", image.data(), image.size());
  } else {
    std::ifstream in(path, std::ios::binary);
    if (std::filesystem::is_directory(path))
      throw io_error(path + ": is a folder; expected a file");
    if (!in) throw io_error(path + ": cannot open (" + std::strerror(errno) + ")");
    // Enough of the file to find the signature at 0, 512, ..., 64 KiB.
    std::vector<char> head(1 << 16);
    in.read(head.data(), static_cast<std::streamsize>(head.size()));
    head.resize(static_cast<std::size_t>(in.gcount()));
    if (head.empty()) throw format_error(path + ": empty file (not an HDF5 file)");
    if (!find_signature(head.data(), head.size())) throw format_error(path + ": not an HDF5 file");
    open(path, nullptr, 0);
  }
}

Reader::Reader(const std::string& display, const void* image, std::size_t size)
    : impl_(std::make_unique<Impl>()), path_(display), display_(display) {
  impl_->display = display_;
  if (size == 0) throw format_error(display_ + ": empty file (not an HDF5 file)");
  open("fsh-memory.h5", static_cast<const char*>(image), size);
}

void Reader::open(const std::string& name, const char* image, std::size_t size) {
  silence_hdf5();
  Impl& r = *impl_;
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  if (image) {
    if (!find_signature(image, size)) throw format_error(display_ + ": not an HDF5 file");
    // The core driver without a backing store; HDF5 copies the image.
    H5Pset_fapl_core(fapl.get(), 1 << 20, false);
    if (H5Pset_file_image(fapl.get(), const_cast<char*>(image), size) < 0)
      throw io_error(with_cause(display_ + ": cannot hold the file image in memory"));
  }
  r.file = Handle(H5Fopen(name.c_str(), H5F_ACC_RDONLY, fapl.get()), H5Fclose);
  if (!r.file.ok())
    throw format_error(with_cause(display_ + ": truncated or damaged HDF5 file (cannot open it)"));
  if (has_attr("/", "fsh_format")) {
    format_ = attr_string("/", "fsh_format");
    if (!has_attr("/", "fsh_format_version"))
      throw format_error(display_ + ": " + format_ + " file without fsh_format_version");
    version_ = attr_int("/", "fsh_format_version");
  }
}

Reader::~Reader() = default;

void Reader::expect(const std::vector<std::string>& formats, int64_t max_version) const {
  std::string names;
  for (std::size_t i = 0; i < formats.size(); ++i)
    names += (i == 0 ? "" : i + 1 == formats.size() ? " or " : ", ") + formats[i];
  if (format_.empty())
    throw format_error(display_ + ": not an fsh file (no fsh_format attribute value; expected " +
                       names + ")");
  if (std::find(formats.begin(), formats.end(), format_) == formats.end())
    throw format_error(display_ + ": not an " + names + " file (fsh_format is \"" + format_ +
                       "\")");
  if (version_ > max_version)
    throw format_error(display_ + ": this file is " + format_ + " version " +
                       std::to_string(version_) + "; this build reads up to " +
                       std::to_string(max_version));
  if (version_ < 1)
    throw format_error(display_ + ": bad fsh_format_version " + std::to_string(version_) +
                       " (versions start at 1)");
}

bool Reader::has(const std::string& name) const { return impl_->exists(name); }

Shape Reader::shape(const std::string& name) const {
  Handle ds = impl_->open_dataset(name);
  return impl_->shape_of(ds.get());
}

Kind Reader::kind(const std::string& name) const {
  Handle ds = impl_->open_dataset(name);
  Handle type(H5Dget_type(ds.get()), H5Tclose);
  switch (H5Tget_class(type.get())) {
    case H5T_INTEGER:
      return Kind::integer;
    case H5T_FLOAT:
      return Kind::floating;
    case H5T_STRING:
      return Kind::string;
    default:
      return Kind::other;
  }
}

std::vector<uint8_t> Reader::get_u8(const std::string& name, const Shape& expected, Shape* got,
                                    bool exact) const {
  if (!exact) return impl_->narrow<uint8_t>(name, expected, got, "uint8");
  Handle ds = impl_->open_dataset(name);
  Handle type(H5Dget_type(ds.get()), H5Tclose);
  if (H5Tget_class(type.get()) != H5T_INTEGER || H5Tget_size(type.get()) != 1 ||
      H5Tget_sign(type.get()) != H5T_SGN_NONE)
    impl_->fail_format("dataset " + dataset_name(name) + " has type " + type_words(type.get()) +
                       "; expected uint8");
  Shape s = impl_->check_shape(ds.get(), name, expected);
  if (got) *got = s;
  int64_t total = 1;
  for (int64_t e : s) total *= e;
  std::vector<uint8_t> out = impl_->buffer<uint8_t>(static_cast<std::size_t>(total), name);
  if (total > 0) impl_->read(ds.get(), name, H5T_NATIVE_UINT8, out.data());
  return out;
}
std::vector<int8_t> Reader::get_i8(const std::string& n, const Shape& e, Shape* g) const {
  return impl_->narrow<int8_t>(n, e, g, "int8");
}
std::vector<int32_t> Reader::get_i32(const std::string& n, const Shape& e, Shape* g) const {
  return impl_->narrow<int32_t>(n, e, g, "int32");
}
std::vector<int64_t> Reader::get_i64(const std::string& n, const Shape& e, Shape* g) const {
  return impl_->integers(n, e, g, "int64");
}
std::vector<float> Reader::get_f32(const std::string& n, const Shape& e, Shape* g) const {
  return impl_->floats<float>(n, e, g, "float32");
}
std::vector<double> Reader::get_f64(const std::string& n, const Shape& e, Shape* g) const {
  return impl_->floats<double>(n, e, g, "float64");
}

std::vector<std::string> Reader::get_strings(const std::string& name, int64_t n) const {
  Handle ds = impl_->open_dataset(name);
  Handle type(H5Dget_type(ds.get()), H5Tclose);
  if (H5Tget_class(type.get()) != H5T_STRING)
    impl_->fail_format("dataset " + dataset_name(name) + " has type " + type_words(type.get()) +
                       "; expected strings");
  Shape s = impl_->check_shape(ds.get(), name, {n});
  // Fixed-length strings are read into one buffer of count x length bytes.
  if (H5Tis_variable_str(type.get()) <= 0 &&
      static_cast<uint64_t>(s[0]) >
          (uint64_t{1} << 40) / std::max<std::size_t>(1, H5Tget_size(type.get())))
    impl_->fail_format("dataset " + dataset_name(name) + " declares " + std::to_string(s[0]) +
                       " strings of " + std::to_string(H5Tget_size(type.get())) +
                       " bytes, too large for any array");
  Handle space(H5Dget_space(ds.get()), H5Sclose);
  return read_strings(type.get(), space.get(), static_cast<std::size_t>(s[0]),
                      [&](hid_t mem, void* buf) { impl_->read(ds.get(), name, mem, buf); });
}

bool Reader::has_attr(const std::string& object, const std::string& name) const {
  const std::string obj = object_name(object);
  if (obj != "/" && !impl_->exists(obj)) return false;
  htri_t r = H5Aexists_by_name(impl_->file.get(), obj.c_str(), name.c_str(), H5P_DEFAULT);
  H5Eclear2(H5E_DEFAULT);
  return r > 0;
}

std::vector<std::string> Reader::attr_names(const std::string& object) const {
  const std::string obj = object_name(object);
  std::vector<std::string> names;
  if (obj != "/" && !impl_->exists(obj)) return names;
  auto collect = [](hid_t, const char* name, const H5A_info_t*, void* data) -> herr_t {
    static_cast<std::vector<std::string>*>(data)->push_back(name);
    return 0;
  };
  hsize_t n = 0;
  if (H5Aiterate_by_name(impl_->file.get(), obj.c_str(), H5_INDEX_NAME, H5_ITER_INC, &n,
                         collect, &names, H5P_DEFAULT) < 0) {
    H5Eclear2(H5E_DEFAULT);
    impl_->fail_format("cannot list the attributes of " + obj);
  }
  return names;
}

Kind Reader::attr_kind(const std::string& object, const std::string& name) const {
  Handle a = impl_->open_attr(object, name);
  Handle type(H5Aget_type(a.get()), H5Tclose);
  switch (H5Tget_class(type.get())) {
    case H5T_INTEGER: return Kind::integer;
    case H5T_FLOAT: return Kind::floating;
    case H5T_STRING: return Kind::string;
    default: return Kind::other;
  }
}

std::string Reader::attr_string(const std::string& object, const std::string& name) const {
  Handle a = impl_->open_attr(object, name);
  Handle type(H5Aget_type(a.get()), H5Tclose);
  if (H5Tget_class(type.get()) != H5T_STRING)
    impl_->fail_format("attribute " + name + " of " + object_name(object) + " has type " +
                       type_words(type.get()) + "; expected a string");
  Handle space(H5Aget_space(a.get()), H5Sclose);
  return read_strings(type.get(), space.get(), 1,
                      [&](hid_t mem, void* buf) { impl_->read_attr(a.get(), name, mem, buf); })[0];
}

int64_t Reader::attr_int(const std::string& object, const std::string& name) const {
  Handle a = impl_->open_attr(object, name);
  Handle type(H5Aget_type(a.get()), H5Tclose);
  if (H5Tget_class(type.get()) != H5T_INTEGER)
    impl_->fail_format("attribute " + name + " of " + object_name(object) + " has type " +
                       type_words(type.get()) + "; expected an integer");
  if (H5Tget_sign(type.get()) == H5T_SGN_NONE && H5Tget_size(type.get()) == 8) {
    uint64_t u = 0;
    impl_->read_attr(a.get(), name, H5T_NATIVE_UINT64, &u);
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      impl_->fail_format("attribute " + name + " = " + std::to_string(u) + " is too large");
    return static_cast<int64_t>(u);
  }
  int64_t v = 0;
  impl_->read_attr(a.get(), name, H5T_NATIVE_INT64, &v);
  return v;
}

uint64_t Reader::attr_uint(const std::string& object, const std::string& name) const {
  Handle a = impl_->open_attr(object, name);
  Handle type(H5Aget_type(a.get()), H5Tclose);
  if (H5Tget_class(type.get()) != H5T_INTEGER)
    impl_->fail_format("attribute " + name + " of " + object_name(object) + " has type " +
                       type_words(type.get()) + "; expected an integer");
  if (H5Tget_sign(type.get()) == H5T_SGN_NONE) {
    uint64_t u = 0;
    impl_->read_attr(a.get(), name, H5T_NATIVE_UINT64, &u);
    return u;
  }
  int64_t v = 0;
  impl_->read_attr(a.get(), name, H5T_NATIVE_INT64, &v);
  if (v < 0)
    impl_->fail_format("attribute " + name + " of " + object_name(object) + " is " +
                       std::to_string(v) + "; expected a non-negative integer");
  return static_cast<uint64_t>(v);
}

double Reader::attr_double(const std::string& object, const std::string& name) const {
  Handle a = impl_->open_attr(object, name);
  Handle type(H5Aget_type(a.get()), H5Tclose);
  H5T_class_t c = H5Tget_class(type.get());
  if (c != H5T_FLOAT && c != H5T_INTEGER)
    impl_->fail_format("attribute " + name + " of " + object_name(object) + " has type " +
                       type_words(type.get()) + "; expected a number");
  double v = 0;
  impl_->read_attr(a.get(), name, H5T_NATIVE_DOUBLE, &v);
  return v;
}

Provenance Reader::provenance() const {
  Provenance p;
  if (has_attr("provenance", "tool")) p.tool = attr_string("provenance", "tool");
  if (has_attr("provenance", "version")) p.version = attr_string("provenance", "version");
  if (has_attr("provenance", "command_line"))
    p.command_line = attr_string("provenance", "command_line");
  if (has_attr("provenance", "seed")) p.seed = attr_uint("provenance", "seed");
  if (has("provenance/inputs")) p.inputs = get_strings("provenance/inputs");
  return p;
}

std::vector<Reader::Entry> Reader::list() const {
  struct Walk {
    const Reader* self;
    std::vector<Entry> out;
  } walk{this, {}};
  H5Lvisit(
      impl_->file.get(), H5_INDEX_NAME, H5_ITER_INC,
      [](hid_t group, const char* name, const H5L_info_t*, void* data) -> herr_t {
        auto* w = static_cast<Walk*>(data);
        Handle o(H5Oopen(group, name, H5P_DEFAULT), H5Oclose);
        if (o.ok() && H5Iget_type(o.get()) == H5I_DATASET) {
          Handle type(H5Dget_type(o.get()), H5Tclose);
          w->out.push_back(
              {std::string("/") + name, w->self->impl_->shape_of(o.get()), type_words(type.get())});
        }
        return 0;
      },
      &walk);
  H5Eclear2(H5E_DEFAULT);
  return walk.out;
}

}  // namespace io
}  // namespace fsh
