// AtomicFile: temporary file next to the target, flushed, synced and renamed over it on commit;
// removed again when the object dies uncommitted. See atomic_file.h.
#include "io/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <system_error>

#include "core/error.h"

namespace attnlab {

namespace fs = std::filesystem;

namespace {

// Why `temp` could not be created, in words: a missing or non-directory parent is the common
// case and deserves a clearer message than the OS's "No such file or directory".
std::string open_failure_reason(const std::string& path, int saved_errno) {
  const fs::path parent = fs::path(path).parent_path();
  std::error_code ec;
  if (!parent.empty()) {
    if (!fs::exists(parent, ec)) return "directory '" + parent.string() + "' does not exist";
    if (!fs::is_directory(parent, ec)) return "'" + parent.string() + "' is not a directory";
  }
  return std::strerror(saved_errno);
}

// Pushes the temporary file's contents to disk so that the rename cannot expose an empty file
// after a crash. Returns false (errno set) on failure.
bool sync_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::fsync(fd) == 0;
  const int saved = errno;
  ::close(fd);
  errno = saved;
  return ok;
}

}  // namespace

AtomicFile::AtomicFile(std::string path)
    : path_(std::move(path)), temp_path_(path_ + ".tmp-" + std::to_string(::getpid())) {
  if (path_.empty()) throw Error("cannot write a file with an empty path");
  errno = 0;
  out_.open(temp_path_, std::ios::binary | std::ios::out | std::ios::trunc);
  if (!out_.is_open()) {
    const int saved = errno;
    throw Error(path_ + ": cannot create temporary file '" + temp_path_ +
                "': " + open_failure_reason(path_, saved));
  }
}

AtomicFile::~AtomicFile() {
  if (committed_) return;
  if (out_.is_open()) out_.close();
  std::error_code ec;
  fs::remove(temp_path_, ec);  // best effort; a destructor must not throw
}

void AtomicFile::commit() {
  if (committed_) throw std::logic_error("AtomicFile::commit called twice for " + path_);
  out_.flush();
  const bool write_ok = static_cast<bool>(out_);
  out_.close();
  if (!write_ok || out_.fail())
    throw Error(path_ + ": writing temporary file '" + temp_path_ + "' failed (disk full?)");
  if (!sync_file(temp_path_))
    throw Error(path_ + ": cannot sync temporary file '" + temp_path_ +
                "': " + std::strerror(errno));
  std::error_code ec;
  fs::rename(temp_path_, path_, ec);
  if (ec)
    throw Error(path_ + ": cannot rename temporary file '" + temp_path_ +
                "' into place: " + ec.message());
  committed_ = true;
}

}  // namespace attnlab
