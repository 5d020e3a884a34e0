// Atomic whole-file writes (see file.hpp).
#include "util/file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "util/error.hpp"

namespace fsh {
namespace {

// Writes all bytes to fd; false on error (errno set).
bool write_all(int fd, const uint8_t* p, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

}  // namespace

void write_file_atomic(const std::string& path, const std::vector<uint8_t>& bytes) {
  if (path == "-") {
    std::fflush(stdout);
    if (!write_all(STDOUT_FILENO, bytes.data(), bytes.size()))
      throw io_error("-: cannot write to stdout: " + std::string(std::strerror(errno)));
    return;
  }
  std::string tmp = path + ".tmp-XXXXXX";
  const int fd = ::mkstemp(tmp.data());
  if (fd < 0)
    throw io_error(path + ": cannot create output file: " + std::string(std::strerror(errno)));
  const bool ok = write_all(fd, bytes.data(), bytes.size()) && ::fsync(fd) == 0;
  const int saved = errno;
  // mkstemp creates mode 0600; give the result the usual permissions (0666 minus umask).
  const mode_t mask = ::umask(0);
  ::umask(mask);
  ::fchmod(fd, 0666 & ~mask);
  if (::close(fd) != 0 || !ok) {
    ::unlink(tmp.c_str());
    throw io_error(path + ": cannot write output file: " + std::string(std::strerror(ok ? errno : saved)));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    throw io_error(path + ": cannot write output file: " + std::string(std::strerror(e)));
  }
}

}  // namespace fsh
