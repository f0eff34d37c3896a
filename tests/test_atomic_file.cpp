// Tests of io/atomic_file: commit publishes the complete file by rename, rollback (destruction
// without commit) leaves the old file untouched and no temporary behind, and failures name the
// path.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "io/atomic_file.h"
#include "tests/test_support.h"

using namespace attnlab;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void spit(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

int count_entries(const fs::path& dir) {
  int n = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    (void)entry;
    ++n;
  }
  return n;
}

std::string temp_name(const std::string& path) {
  return path + ".tmp-" + std::to_string(::getpid());
}

}  // namespace

TEST_CASE("AtomicFile commit publishes the content and removes the temporary") {
  test::TempDir dir;
  const std::string path = dir.file("result.json");
  {
    AtomicFile file(path);
    file.stream() << "{\"ok\": true}\n";
    // Before commit only the temporary exists, under the documented name.
    CHECK(fs::exists(temp_name(path)));
    CHECK_FALSE(fs::exists(path));
    file.commit();
    CHECK(fs::exists(path));
    CHECK_FALSE(fs::exists(temp_name(path)));
  }
  CHECK(slurp(path) == "{\"ok\": true}\n");
  CHECK(count_entries(dir.path()) == 1);
}

TEST_CASE("AtomicFile writes binary content unchanged") {
  test::TempDir dir;
  const std::string path = dir.file("bytes.bin");
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes.push_back(static_cast<char>(i));
  bytes += "\r\n\n\r";
  AtomicFile file(path);
  file.stream().write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  file.commit();
  CHECK(slurp(path) == bytes);
}

TEST_CASE("AtomicFile without commit rolls back") {
  test::TempDir dir;
  const std::string path = dir.file("result.csv");

  SECTION("no file appears") {
    {
      AtomicFile file(path);
      file.stream() << "partial";
    }
    CHECK_FALSE(fs::exists(path));
    CHECK(count_entries(dir.path()) == 0);
  }
  SECTION("an existing file keeps its old content") {
    spit(path, "old content\n");
    {
      AtomicFile file(path);
      file.stream() << "new but abandoned";
    }
    CHECK(slurp(path) == "old content\n");
    CHECK(count_entries(dir.path()) == 1);
  }
  SECTION("an exception between writes leaves nothing") {
    try {
      AtomicFile file(path);
      file.stream() << "half";
      throw Error("something failed mid-write");
    } catch (const Error&) {
    }
    CHECK(count_entries(dir.path()) == 0);
  }
}

TEST_CASE("AtomicFile commit replaces an existing file") {
  test::TempDir dir;
  const std::string path = dir.file("result.txt");
  spit(path, "a much longer old content that must disappear entirely\n");
  AtomicFile file(path);
  file.stream() << "new\n";
  file.commit();
  CHECK(slurp(path) == "new\n");
  CHECK(count_entries(dir.path()) == 1);
}

TEST_CASE("AtomicFile errors name the path") {
  test::TempDir dir;

  SECTION("missing directory") {
    const std::string path = dir.file("missing/sub/out.txt");
    CHECK_THROWS_WITH(AtomicFile(path), Contains(path) && Contains("does not exist"));
    CHECK(count_entries(dir.path()) == 0);
  }
  SECTION("parent is a regular file") {
    spit(dir.file("plain"), "x");
    const std::string path = dir.file("plain/out.txt");
    CHECK_THROWS_WITH(AtomicFile(path), Contains(path) && Contains("not a directory"));
  }
  SECTION("empty path") {
    CHECK_THROWS_AS(AtomicFile(""), Error);
  }
  SECTION("rename onto a directory fails on commit; the temporary is removed") {
    const std::string path = dir.file("taken");
    fs::create_directory(path);
    {
      AtomicFile file(path);
      file.stream() << "data";
      CHECK_THROWS_WITH(file.commit(), Contains(path) && Contains("rename"));
    }
    CHECK(fs::is_directory(path));
    CHECK(count_entries(dir.path()) == 1);
  }
  SECTION("commit twice is a programming error") {
    const std::string path = dir.file("twice.txt");
    AtomicFile file(path);
    file.commit();
    CHECK_THROWS_AS(file.commit(), std::logic_error);
    CHECK(fs::exists(path));
  }
}
