// Implementation of test_support.h.
#include "tests/test_support.h"

#include <sys/wait.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>

namespace attnlab::test {

TempDir::TempDir() {
  std::random_device rd;
  path_ = std::filesystem::temp_directory_path() /
          ("attnlab-test-" + std::to_string(rd()) + "-" + std::to_string(rd()));
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

namespace {
template <class Get>
Comparison compare_impl(Get actual, const Tensor<double>& expected) {
  Comparison c;
  double err2 = 0, ref2 = 0;
  for (int64_t i = 0; i < expected.numel(); ++i) {
    const double a = actual(i), r = expected.data[i];
    const double e = std::isfinite(a) ? std::abs(a - r) : INFINITY;
    c.max_abs_error = std::max(c.max_abs_error, e);
    c.max_ref = std::max(c.max_ref, std::abs(r));
    err2 += e * e;
    ref2 += r * r;
  }
  c.nmse = ref2 > 0 ? err2 / ref2 : err2;
  return c;
}
}  // namespace

Comparison compare(const float* actual, const Tensor<double>& expected) {
  return compare_impl([&](int64_t i) { return static_cast<double>(actual[i]); }, expected);
}
Comparison compare(const Tensor<double>& actual, const Tensor<double>& expected) {
  return compare_impl([&](int64_t i) { return actual.data[i]; }, expected);
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

CliResult run_cli(const std::string& binary, const std::string& args, const std::string& env) {
  static TempDir dir;
  const std::string out = dir.file("stdout"), err = dir.file("stderr");
  const std::string command = env + " " + binary + " " + args + " >" + out + " 2>" + err;
  const int status = std::system(command.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(out), slurp(err)};
}

}  // namespace attnlab::test
