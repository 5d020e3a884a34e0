// Omniglot and class-folder importers (see import.hpp). Listing is sequential and sorted;
// decoding runs on several threads, each image written to its fixed slot, so the dataset is the
// same for any thread count. Zip archives are opened once per thread (a libzip handle must not
// be shared between threads).
#include "data/import.hpp"

#include <zip.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <memory>
#include <mutex>
#include <thread>

#include "data/image.hpp"
#include "data/prepare.hpp"
#include "util/error.hpp"

namespace fsh {
namespace {

namespace fs = std::filesystem;

// One image to import: where its bytes are and which class it belongs to.
struct Item {
  int source = 0;          // index into Listing::zips ("" = file on disk)
  int64_t zip_index = -1;  // entry index inside the zip, or -1 for a file on disk
  std::string path;        // file path, or entry name inside the zip
  std::string display;     // for messages: "path" or "archive.zip:entry"
  std::string class_name, group_name, instance;
};

struct Listing {
  std::vector<std::string> zips;  // zip archive per source; "" for folders
  std::vector<Item> items;
};

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool has_ext(const std::string& name, std::initializer_list<const char*> exts) {
  const std::string l = lower(name);
  for (const char* e : exts) {
    const std::size_t n = std::strlen(e);
    if (l.size() > n && l.compare(l.size() - n, n, e) == 0) return true;
  }
  return false;
}

// A name from an archive or a folder, as messages show it: control characters (a newline in
// a damaged archive's entry name, say) as \xNN, so that every message stays one line.
std::string printable(const std::string& name) {
  std::string out;
  for (const char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      static const char hex[] = "0123456789abcdef";
      out += "\\x";
      out += hex[u >> 4];
      out += hex[u & 15];
    } else {
      out += c;
    }
  }
  return out;
}

bool is_image_name(const std::string& name) { return has_ext(name, {".png", ".jpg", ".jpeg"}); }

std::vector<std::string> split_path(const std::string& p) {
  std::vector<std::string> parts;
  std::string cur;
  for (char c : p) {
    if (c == '/') {
      if (!cur.empty()) parts.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) parts.push_back(cur);
  return parts;
}

bool skipped_component(const std::string& c) { return c.empty() || c[0] == '.' || c == "__MACOSX"; }

bool any_skipped(const std::vector<std::string>& parts) {
  return std::any_of(parts.begin(), parts.end(), skipped_component);
}

std::string zip_message(int code) {
  zip_error_t e;
  zip_error_init_with_code(&e, code);
  std::string m = zip_error_strerror(&e);
  zip_error_fini(&e);
  return m;
}

zip_t* open_zip(const std::string& path) {
  int code = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_RDONLY, &code);
  if (!z) {
    if (code == ZIP_ER_NOZIP || code == ZIP_ER_INCONS)
      throw format_error(path + ": not a zip archive (" + zip_message(code) +
                         "); expected e.g. images_background.zip or an extracted folder");
    throw io_error(path + ": cannot open zip archive: " + zip_message(code));
  }
  return z;
}

struct ZipCloser {
  void operator()(zip_t* z) const { zip_discard(z); }
};
using ZipHandle = std::unique_ptr<zip_t, ZipCloser>;

void check_source_exists(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec))
    throw io_error(path + ": no such file or directory");
}

// Omniglot drawings below one source: `.../<Alphabet>/<characterNN>/<file>.png`.
void list_omniglot_source(const std::string& src, Listing& out) {
  check_source_exists(src);
  const int source = static_cast<int>(out.zips.size());
  auto add = [&](const std::vector<std::string>& parts, Item it) {
    const std::size_t n = parts.size();
    it.source = source;
    it.group_name = parts[n - 3];
    it.class_name = parts[n - 3] + "/" + parts[n - 2];
    it.instance = parts[n - 1];
    out.items.push_back(std::move(it));
  };
  if (fs::is_directory(src)) {
    out.zips.emplace_back();
    std::error_code ec;
    for (fs::recursive_directory_iterator i(src, ec), end; i != end; i.increment(ec)) {
      if (ec) throw io_error(src + ": cannot list folder: " + ec.message());
      if (!i->is_regular_file()) continue;
      const std::string rel = fs::relative(i->path(), src).generic_string();
      const auto parts = split_path(rel);
      if (parts.size() < 3 || any_skipped(parts) || !has_ext(parts.back(), {".png"})) continue;
      Item it;
      it.path = i->path().string();
      it.display = printable(it.path);
      add(parts, std::move(it));
    }
    if (ec) throw io_error(src + ": cannot list folder: " + ec.message());
    return;
  }
  out.zips.push_back(src);
  ZipHandle z(open_zip(src));
  const zip_int64_t n = zip_get_num_entries(z.get(), 0);
  for (zip_int64_t e = 0; e < n; ++e) {
    const char* name = zip_get_name(z.get(), static_cast<zip_uint64_t>(e), 0);
    if (!name) continue;
    const std::string entry = name;
    if (entry.empty() || entry.back() == '/') continue;
    const auto parts = split_path(entry);
    if (parts.size() < 3 || any_skipped(parts) || !has_ext(parts.back(), {".png"})) continue;
    Item it;
    it.zip_index = e;
    it.path = entry;
    it.display = src + ":" + printable(entry);
    add(parts, std::move(it));
  }
}

// Image files below ROOT, in class folders at depth 1 or 2 (see import.hpp).
void list_folder(const std::string& root, Listing& out) {
  check_source_exists(root);
  if (!fs::is_directory(root))
    throw usage_error(root + ": not a folder (import folder expects ROOT/<class>/<image>)");
  out.zips.emplace_back();
  // Depth-1 classes form one group named after ROOT ("train" for .../train/<class>/...).
  std::error_code cec;
  std::string root_name = fs::weakly_canonical(root, cec).filename().string();
  if (root_name.empty()) root_name = "all";
  std::map<std::size_t, std::string> depth_example;  // depth of class folder -> one folder
  std::error_code ec;
  for (fs::recursive_directory_iterator i(root, ec), end; i != end; i.increment(ec)) {
    if (ec) throw io_error(root + ": cannot list folder: " + ec.message());
    if (!i->is_regular_file()) continue;
    const auto parts = split_path(fs::relative(i->path(), root).generic_string());
    if (parts.empty() || any_skipped(parts) || !is_image_name(parts.back())) continue;
    const std::size_t depth = parts.size() - 1;  // folders between ROOT and the image
    depth_example.emplace(depth, i->path().parent_path().string());
    Item it;
    it.path = i->path().string();
    it.display = printable(it.path);
    it.instance = parts.back();
    if (depth == 1) {
      it.group_name = root_name;
      it.class_name = parts[0];
    } else if (depth == 2) {
      it.group_name = parts[0];
      it.class_name = parts[0] + "/" + parts[1];
    }
    out.items.push_back(std::move(it));
  }
  if (ec) throw io_error(root + ": cannot list folder: " + ec.message());
  if (depth_example.count(0))
    throw format_error(root + ": images directly in the root folder (e.g. " +
                       out.items.front().path +
                       "); expected ROOT/<class>/<image> or ROOT/<group>/<class>/<image>");
  for (const auto& [depth, example] : depth_example)
    if (depth > 2)
      throw format_error(root + ": images " + std::to_string(depth) +
                         " folders deep (e.g. in " + example +
                         "); expected ROOT/<class>/<image> or ROOT/<group>/<class>/<image>");
  if (depth_example.size() > 1)
    throw format_error(root + ": class folders at different depths (" +
                       depth_example.begin()->second + " and " + depth_example.rbegin()->second +
                       "); use either ROOT/<class>/<image> or ROOT/<group>/<class>/<image>");
}

// Sorted classes/groups/instances -> dataset skeleton; items reordered to match image slots.
Dataset build_skeleton(Listing& l, const ImportOptions& opt, int64_t channels) {
  std::sort(l.items.begin(), l.items.end(), [](const Item& a, const Item& b) {
    if (a.class_name != b.class_name) return a.class_name < b.class_name;
    return a.instance < b.instance;
  });
  Dataset d;
  d.height = opt.height;
  d.width = opt.width;
  d.channels = channels;
  std::map<std::string, int32_t> group_index;
  for (const auto& it : l.items) group_index.emplace(it.group_name, 0);
  for (auto& [name, idx] : group_index) {
    idx = static_cast<int32_t>(d.group_names.size());
    d.group_names.push_back(name);
  }
  std::map<std::string, int> class_source;  // class -> source it came from
  for (std::size_t i = 0; i < l.items.size(); ++i) {
    const Item& it = l.items[i];
    if (d.class_names.empty() || d.class_names.back() != it.class_name) {
      d.class_names.push_back(it.class_name);
      d.class_group.push_back(group_index.at(it.group_name));
      class_source[it.class_name] = it.source;
    } else if (class_source[it.class_name] != it.source) {
      throw format_error("class " + printable(it.class_name) + " found in two sources (" +
                         l.items[i - 1].display + " and " + it.display +
                         "); give each archive or folder once");
    } else if (it.instance == l.items[i - 1].instance) {
      throw format_error(it.display + ": duplicate image name in class " +
                         printable(it.class_name));
    }
    d.labels.push_back(static_cast<int32_t>(d.class_names.size() - 1));
    d.instance_names.push_back(it.instance);
  }
  d.images.assign(static_cast<std::size_t>(d.size() * d.image_size()), 0);
  return d;
}

std::vector<uint8_t> read_disk_file(const Item& it) {
  std::ifstream f(it.path, std::ios::binary);
  if (!f) throw io_error(it.display + ": cannot open for reading");
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (f.bad()) throw io_error(it.display + ": read error");
  return bytes;
}

std::vector<uint8_t> read_zip_entry(zip_t* z, const Item& it) {
  zip_stat_t st;
  zip_stat_init(&st);
  if (zip_stat_index(z, static_cast<zip_uint64_t>(it.zip_index), 0, &st) != 0 ||
      !(st.valid & ZIP_STAT_SIZE))
    throw format_error(it.display + ": cannot read zip entry: " + zip_strerror(z));
  // The size comes from the archive's headers and is allocated before a byte is read: check it
  // against what the entry can hold first (a 150-byte zip claiming 4 GB made
  // the import allocate and clear 4 GB before libzip noticed). Stored entries are their
  // compressed size; deflate cannot expand more than 1032:1; an image file over 1 GiB is far
  // beyond any image the size limit (image.cpp) admits.
  const bool stored = (st.valid & ZIP_STAT_COMP_METHOD) && st.comp_method == ZIP_CM_STORE;
  const bool deflated = (st.valid & ZIP_STAT_COMP_METHOD) && st.comp_method == ZIP_CM_DEFLATE;
  const bool known = st.valid & ZIP_STAT_COMP_SIZE;
  if (st.size > (zip_uint64_t{1} << 30) || (known && stored && st.size != st.comp_size) ||
      (known && deflated && st.size > 1032 * st.comp_size + 1024))
    throw format_error(it.display + ": zip entry claims " + std::to_string(st.size) + " bytes" +
                       (known ? " from " + std::to_string(st.comp_size) + " compressed" : "") +
                       ", more than it can hold (damaged archive?)");
  zip_file_t* f = zip_fopen_index(z, static_cast<zip_uint64_t>(it.zip_index), 0);
  if (!f) throw format_error(it.display + ": cannot open zip entry: " + zip_strerror(z));
  std::vector<uint8_t> bytes(static_cast<std::size_t>(st.size));
  const zip_int64_t got = bytes.empty() ? 0 : zip_fread(f, bytes.data(), bytes.size());
  // Reading past the end confirms the CRC for entries that end exactly at st.size.
  uint8_t extra;
  const zip_int64_t more = zip_fread(f, &extra, 1);
  std::string err = (got < 0 || more < 0) ? zip_file_strerror(f) : "";
  zip_fclose(f);
  if (!err.empty()) throw format_error(it.display + ": corrupt zip entry: " + err);
  if (got != static_cast<zip_int64_t>(bytes.size()) || more != 0)
    throw format_error(it.display + ": zip entry size does not match its header");
  return bytes;
}

// Decodes every item into its slot of d. `omniglot`: gray + ink bright; otherwise convert to
// d.channels and optionally invert.
void decode_all(const Listing& l, Dataset& d, const ImportOptions& opt, bool omniglot) {
  const int64_t total = static_cast<int64_t>(l.items.size());
  int threads = opt.threads > 0 ? opt.threads : static_cast<int>(std::thread::hardware_concurrency());
  threads = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(std::max(threads, 1), total)));

  std::atomic<int64_t> next{0}, done{0};
  std::atomic<int64_t> stop_at{total};  // lowest failing index so far
  std::mutex mu;                         // guards first_error and progress calls
  std::exception_ptr first_error;
  int64_t first_error_index = total;

  auto work = [&] {
    std::vector<ZipHandle> zips(l.zips.size());
    for (;;) {
      const int64_t i = next.fetch_add(1);
      if (i >= total || i >= stop_at.load()) return;
      const Item& it = l.items[static_cast<std::size_t>(i)];
      try {
        std::vector<uint8_t> bytes;
        if (it.zip_index >= 0) {
          auto& z = zips[static_cast<std::size_t>(it.source)];
          if (!z) z.reset(open_zip(l.zips[static_cast<std::size_t>(it.source)]));
          bytes = read_zip_entry(z.get(), it);
        } else {
          bytes = read_disk_file(it);
        }
        Image img = decode_image(bytes.data(), bytes.size(), it.display);
        if (omniglot) {
          img = convert_channels(img, 1);
          invert(img);
        } else {
          img = convert_channels(img, d.channels);
          if (opt.invert) invert(img);
        }
        img = resize_area(img, d.height, d.width);
        std::copy(img.pixels.begin(), img.pixels.end(), d.image(i));
      } catch (...) {
        std::lock_guard<std::mutex> g(mu);
        if (i < first_error_index) {
          first_error_index = i;
          first_error = std::current_exception();
          int64_t cur = stop_at.load();
          while (i < cur && !stop_at.compare_exchange_weak(cur, i)) {
          }
        }
        continue;
      }
      const int64_t n = done.fetch_add(1) + 1;
      if (opt.progress && (n % 256 == 0 || n == total)) {
        std::lock_guard<std::mutex> g(mu);
        opt.progress(n, total);
      }
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work);
  try {
    work();
  } catch (...) {
    for (auto& th : pool) th.join();
    throw;
  }
  for (auto& th : pool) th.join();
  if (first_error) std::rethrow_exception(first_error);
}

void check_options(const ImportOptions& opt) {
  if (opt.height < 1 || opt.height > 4096 || opt.width < 1 || opt.width > 4096)
    throw usage_error("image size must be between 1 and 4096 per side, got " +
                      std::to_string(opt.height) + "x" + std::to_string(opt.width));
  if (opt.channels != 1 && opt.channels != 3)
    throw usage_error("channels must be 1 (gray) or 3 (RGB), got " + std::to_string(opt.channels));
  if (opt.threads < 0)
    throw usage_error("threads must be >= 0 (0 = all cores), got " + std::to_string(opt.threads));
}

// What a strict walk of a support folder finds in one folder below ROOT.
struct FolderEntry {
  std::size_t depth = 0;  // components between ROOT and this folder (ROOT itself: 0)
  std::vector<std::string> images;  // full paths of its image files
  bool has_folders = false;
};

}  // namespace

Dataset import_omniglot(const std::vector<std::string>& sources, const ImportOptions& opt) {
  check_options(opt);
  if (sources.empty()) throw usage_error("import omniglot: no archive or folder given");
  Listing l;
  for (const auto& s : sources) {
    const std::size_t before = l.items.size();
    list_omniglot_source(s, l);
    if (l.items.size() == before)
      throw format_error(s + ": no Omniglot drawings found (expected <Alphabet>/<characterNN>/"
                             "<file>.png inside, as in images_background.zip)");
  }
  Dataset d = build_skeleton(l, opt, 1);
  d.preparation = {true, true, "area"};
  decode_all(l, d, opt, true);
  return d;
}

Dataset import_folder(const std::string& root, const ImportOptions& opt) {
  check_options(opt);
  Listing l;
  list_folder(root, l);
  if (l.items.empty())
    throw format_error(root + ": no images (*.png, *.jpg, *.jpeg) found; expected "
                              "ROOT/<class>/<image> or ROOT/<group>/<class>/<image>");
  Dataset d = build_skeleton(l, opt, opt.channels);
  d.preparation = {true, opt.invert, "area"};
  decode_all(l, d, opt, false);
  return d;
}

SupportFolder read_support_folder(const std::string& root, bool any_size) {
  check_source_exists(root);
  if (!fs::is_directory(root))
    throw usage_error(root + ": not a folder (a support set is ROOT/<class>/<image>)");
  const std::string layout = "expected ROOT/<class>/<image> or ROOT/<group>/<class>/<image>";
  // Folders by path relative to ROOT ("" = ROOT): std::map keeps them in byte order.
  std::map<std::string, FolderEntry> folders;
  folders[""];
  std::error_code ec;
  const auto follow = fs::directory_options::follow_directory_symlink;
  for (fs::recursive_directory_iterator i(root, follow, ec), end; i != end; i.increment(ec)) {
    if (ec) throw io_error(root + ": cannot list folder: " + ec.message());
    // The last depth()+1 components of the path are those below ROOT (lexically, so that a
    // symlinked class folder keeps its name).
    std::vector<std::string> parts;
    for (const auto& c : i->path()) parts.push_back(c.generic_string());
    parts.erase(parts.begin(), parts.end() - (i.depth() + 1));
    std::string rel;
    for (const std::string& c : parts) rel += (rel.empty() ? "" : "/") + c;
    if (skipped_component(parts.back())) {
      if (i->is_directory()) i.disable_recursion_pending();
      continue;
    }
    std::string parent;
    for (std::size_t k = 0; k + 1 < parts.size(); ++k) parent += (k ? "/" : "") + parts[k];
    if (i->is_directory()) {
      folders[rel].depth = parts.size();
      folders[parent].has_folders = true;
    } else if (i->is_regular_file() && is_image_name(parts.back())) {
      folders[parent].images.push_back(i->path().string());
    } else {
      throw format_error(i->path().string() +
                         ": not a PNG or JPEG image (a support folder holds only *.png, *.jpg "
                         "and *.jpeg files, one folder per class)");
    }
  }
  if (ec) throw io_error(root + ": cannot list folder: " + ec.message());

  SupportFolder out;
  out.root = root;
  std::vector<const std::vector<std::string>*> members;
  std::string first_class_folder;
  std::size_t class_depth = 0;
  for (auto& [rel, f] : folders) {
    const std::string shown = rel.empty() ? root : (fs::path(root) / rel).string();
    if (rel.empty() && !f.images.empty())
      throw format_error(root + ": images directly in the root folder (e.g. " + f.images.front() +
                         "); " + layout);
    if (!f.images.empty() && f.has_folders)
      throw format_error(shown + ": holds both images and folders; " + layout);
    if (!rel.empty() && f.images.empty() && !f.has_folders)
      throw format_error(shown + ": empty class folder (no *.png, *.jpg or *.jpeg images)");
    if (f.images.empty()) continue;
    if (f.depth > 2)
      throw format_error(root + ": images " + std::to_string(f.depth) + " folders deep (in " +
                         shown + "); " + layout);
    if (class_depth == 0) {
      class_depth = f.depth;
      first_class_folder = shown;
    } else if (f.depth != class_depth) {
      throw format_error(root + ": class folders at different depths (" + first_class_folder +
                         " and " + shown + "); " + layout);
    }
    std::sort(f.images.begin(), f.images.end());
    out.class_names.push_back(rel);
    members.push_back(&f.images);
  }
  if (out.class_names.empty())
    throw format_error(root + ": no images (*.png, *.jpg, *.jpeg) found; " + layout);
  if (out.class_names.size() < 2)
    throw format_error(root + ": only one class folder (" + out.class_names[0] +
                       "); a classifier needs at least two");
  out.k_shot = static_cast<int64_t>(members[0]->size());
  for (std::size_t c = 1; c < members.size(); ++c)
    if (static_cast<int64_t>(members[c]->size()) != out.k_shot)
      throw format_error(root + ": class folders hold different numbers of images (" +
                         out.class_names[0] + ": " + std::to_string(out.k_shot) + ", " +
                         out.class_names[c] + ": " + std::to_string(members[c]->size()) +
                         "); every class needs the same number (a K-shot support set)");
  for (const auto* m : members)
    for (const std::string& path : *m) {
      out.paths.push_back(path);
      out.images.push_back(read_image_file(path));
      const Image& a = out.images.front();
      const Image& b = out.images.back();
      if (!any_size && (a.height != b.height || a.width != b.width))
        throw format_error(root + ": images of different sizes (" + out.paths.front() + " is " +
                           std::to_string(a.height) + "x" + std::to_string(a.width) + ", " + path +
                           " is " + std::to_string(b.height) + "x" + std::to_string(b.width) +
                           ", HxW); give them one size, or pass --any-size to resize each on "
                           "its own");
    }
  return out;
}

std::vector<std::string> list_image_files(const std::string& dir) {
  check_source_exists(dir);
  std::vector<std::string> out;
  std::error_code ec;
  const auto follow = fs::directory_options::follow_directory_symlink;
  for (fs::recursive_directory_iterator i(dir, follow, ec), end; i != end; i.increment(ec)) {
    if (ec) throw io_error(dir + ": cannot list folder: " + ec.message());
    const std::string name = i->path().filename().string();
    if (skipped_component(name)) {
      if (i->is_directory()) i.disable_recursion_pending();
      continue;
    }
    if (i->is_regular_file() && is_image_name(name)) out.push_back(i->path().string());
  }
  if (ec) throw io_error(dir + ": cannot list folder: " + ec.message());
  if (out.empty()) throw format_error(dir + ": no images (*.png, *.jpg, *.jpeg) in this folder");
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace fsh
