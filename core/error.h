// attnlab::Error — the one exception type for errors a user can cause (bad config, bad file,
// bad flag, impossible shape). Its message is a single line that names the input and the
// problem; the CLI prints it as "attnlab: <message>" and exits non-zero. Programming errors
// (broken invariants) use assert or std::logic_error instead, never this type.
#pragma once

#include <stdexcept>
#include <string>

namespace attnlab {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace attnlab
