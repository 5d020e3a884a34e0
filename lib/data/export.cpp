// Class folders of PNG files from datasets and episodes (see export.hpp).
#include "data/export.hpp"

#include <stdlib.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include "data/image.hpp"
#include "util/error.hpp"

namespace fsh {

namespace {

namespace fs = std::filesystem;

std::string padded(int64_t v, int64_t largest) {
  const std::size_t width = std::to_string(std::max<int64_t>(largest, 0)).size();
  std::string s = std::to_string(v);
  return std::string(width > s.size() ? width - s.size() : 0, '0') + s;
}

// A folder being written: a temporary sibling of `dir`, renamed to `dir` by commit().
class OutputFolder {
 public:
  explicit OutputFolder(const std::string& dir) : dir_(dir) {
    std::error_code ec;
    if (fs::exists(dir, ec) && !(fs::is_directory(dir, ec) && fs::is_empty(dir, ec)))
      throw usage_error(dir + ": exists and is not an empty folder; give a new folder");
    std::string name = fs::path(dir).lexically_normal().string();
    while (name.size() > 1 && name.back() == '/') name.pop_back();
    std::string tmp = name + ".tmp-XXXXXX";
    if (!::mkdtemp(tmp.data()))
      throw io_error(dir + ": cannot create output folder: " + std::strerror(errno));
    tmp_ = tmp;
  }
  ~OutputFolder() {
    if (!tmp_.empty()) {
      std::error_code ec;
      fs::remove_all(tmp_, ec);
    }
  }
  OutputFolder(const OutputFolder&) = delete;
  OutputFolder& operator=(const OutputFolder&) = delete;

  void write(const std::string& rel, const std::vector<uint8_t>& bytes) {
    const fs::path p = fs::path(tmp_) / rel;
    std::error_code ec;
    fs::create_directories(p.parent_path(), ec);
    std::ofstream f(p, std::ios::binary);
    f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    f.close();
    if (ec || !f) throw io_error((fs::path(dir_) / rel).string() + ": cannot write");
  }
  void commit() {
    // mkdtemp makes the folder 0700; give it the usual permissions (0777 minus umask).
    std::error_code ec;
    fs::permissions(tmp_, fs::perms::all & ~current_umask(), ec);
    fs::rename(tmp_, dir_, ec);
    if (ec) throw io_error(dir_ + ": cannot create output folder: " + ec.message());
    tmp_.clear();
  }

 private:
  static fs::perms current_umask() {
    const mode_t m = ::umask(0);
    ::umask(m);
    return static_cast<fs::perms>(m);
  }
  std::string dir_, tmp_;
};

std::vector<uint8_t> png_of(const uint8_t* px, int64_t h, int64_t w, int64_t c, bool inverted) {
  Image img(h, w, c);
  std::copy(px, px + h * w * c, img.pixels.begin());
  if (inverted) invert(img);
  return encode_png(img);
}

void check_component(const std::string& part, const std::string& class_name) {
  if (part.empty() || part == "." || part == ".." || part[0] == '.' || part == "__MACOSX")
    throw usage_error("class name \"" + class_name +
                      "\" cannot be written as a folder (an empty, '.', '..', hidden or "
                      "__MACOSX component)");
}

std::string underscores(std::string s) {
  for (char& c : s)
    if (c == '/') c = '_';
  return s;
}

}  // namespace

void export_dataset(const Dataset& d, const std::string& dir, bool as_stored) {
  bool two_levels = d.n_classes() > 0;
  for (const std::string& n : d.class_names) {
    const auto slash = n.find('/');
    two_levels &= slash != std::string::npos && n.find('/', slash + 1) == std::string::npos;
  }
  std::vector<std::string> folder(d.class_names.size());
  std::map<std::string, std::string> seen;  // folder -> class name
  for (std::size_t c = 0; c < folder.size(); ++c) {
    const std::string& n = d.class_names[c];
    if (two_levels) {
      const auto slash = n.find('/');
      check_component(n.substr(0, slash), n);
      check_component(n.substr(slash + 1), n);
      folder[c] = n;
    } else {
      folder[c] = underscores(n);
      check_component(folder[c], n);
    }
    const auto [it, fresh] = seen.emplace(folder[c], n);
    if (!fresh)
      throw usage_error("classes \"" + it->second + "\" and \"" + n + "\" would share the folder " +
                        folder[c]);
  }
  std::vector<int64_t> count(folder.size(), 0);
  for (int32_t l : d.labels) ++count[std::size_t(l)];
  int64_t largest = 0;
  for (int64_t n : count) largest = std::max(largest, n);
  const bool inverted = !as_stored && d.preparation.known && d.preparation.inverted;
  OutputFolder out(dir);
  std::vector<int64_t> next(folder.size(), 0);
  for (int64_t i = 0; i < d.size(); ++i) {
    const std::size_t c = std::size_t(d.labels[std::size_t(i)]);
    out.write(folder[c] + "/" + padded(next[c]++, largest - 1) + ".png",
              png_of(d.image(i), d.height, d.width, d.channels, inverted));
  }
  out.commit();
}

void export_episode(const EpisodeImages& ep, const std::vector<std::string>& class_names,
                    const ImagePreparation& prep, const std::string& dir, bool as_stored) {
  if (!class_names.empty() && static_cast<int64_t>(class_names.size()) != ep.n_way)
    throw shape_error("export_episode: " + std::to_string(class_names.size()) +
                      " class names for " + std::to_string(ep.n_way) + " classes");
  const bool inverted = !as_stored && prep.known && prep.inverted;
  const int64_t per = ep.height * ep.width * ep.channels;
  auto folder = [&](int64_t c) {
    std::string f = padded(c, ep.n_way - 1);
    if (!class_names.empty()) f += "-" + underscores(class_names[std::size_t(c)]);
    return f;
  };
  OutputFolder out(dir);
  for (int64_t c = 0; c < ep.n_way; ++c) {
    for (int64_t k = 0; k < ep.k_shot; ++k)
      out.write("support/" + folder(c) + "/" + padded(k, ep.k_shot - 1) + ".png",
                png_of(ep.support.data() + (c * ep.k_shot + k) * per, ep.height, ep.width,
                       ep.channels, inverted));
    for (int64_t q = 0; q < ep.n_query; ++q)
      out.write("query/" + folder(c) + "/" + padded(q, ep.n_query - 1) + ".png",
                png_of(ep.query.data() + (c * ep.n_query + q) * per, ep.height, ep.width,
                       ep.channels, inverted));
  }
  out.commit();
}

}  // namespace fsh
