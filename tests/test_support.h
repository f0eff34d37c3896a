// Helpers shared by the test programs: temporary directories, error-message matching, and
// comparison of fp32 results against fp64 references.
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

}  // namespace attnlab::test
