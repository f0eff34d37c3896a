// What every libFuzzer harness of tests/fuzz/ asserts: the reader under test either accepts
// the input or throws attnlab::Error with a one-line message. Any other exception escapes
// LLVMFuzzerTestOneInput (std::terminate: libFuzzer reports a crash), as do sanitizer reports
// and a multi-line message (abort). Also a scratch file per process for the readers that take
// a path.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/error.h"

namespace attnlab::fuzz {

// Runs `read`; returns true when it succeeded, false when it threw a one-line attnlab::Error.
template <class Read>
bool accepts(Read&& read) {
  try {
    read();
    return true;
  } catch (const Error& e) {
    if (std::strchr(e.what(), '\n') != nullptr) {
      std::fprintf(stderr, "attnlab::Error message spans several lines:\n%s\n", e.what());
      std::abort();
    }
    return false;
  }
}

// A condition the reader promises (a round trip, a bound); aborts with the message when false.
inline void require(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "fuzz property violated: %s\n", what);
    std::abort();
  }
}

// A directory of this process's own under $TMPDIR (or /tmp), removed at exit.
inline const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    const char* base = std::getenv("TMPDIR");
    std::filesystem::path d = std::filesystem::path(base ? base : "/tmp") /
                              ("attnlab-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(scratch_dir(), ec);
    });
    return d;
  }();
  return dir;
}

// Writes the fuzzer's bytes to scratch_dir()/name and returns the path.
inline std::string write_scratch(const std::string& name, const uint8_t* data, size_t size) {
  const std::string path = (scratch_dir() / name).string();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  return path;
}

}  // namespace attnlab::fuzz
