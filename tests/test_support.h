// Helpers shared by the test programs: temporary directories, error-message matching,
// comparison of fp32 results against fp64 references, and running the attnlab binary.
#pragma once

#include <filesystem>
#include <string>

#include "core/tensor.h"

namespace attnlab::test {

// A fresh directory under the system temp dir, removed when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

struct Comparison {
  double max_abs_error = 0;
  double max_ref = 0;
  double nmse = 0;  // sum (a - r)^2 / sum r^2
};
Comparison compare(const float* actual, const Tensor<double>& expected);
Comparison compare(const Tensor<double>& actual, const Tensor<double>& expected);

// The whole text of a file ("" when it cannot be read).
std::string slurp(const std::string& path);

// Runs `binary args` through the shell (with `env` assignments before it, if any), capturing
// stdout and stderr; exit_code is -1 when it did not exit normally.
struct CliResult {
  int exit_code;
  std::string out;
  std::string err;
};
CliResult run_cli(const std::string& binary, const std::string& args, const std::string& env = "");

}  // namespace attnlab::test
