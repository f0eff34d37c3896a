// AtomicFile: write a result file so that readers see either the old file or the complete new
// one, never a partial write. Content goes to "<path>.tmp-<pid>" in the same directory; commit()
// flushes and renames it over `path`; destruction without commit() removes the temporary file.
#pragma once

#include <fstream>
#include <string>

namespace attnlab {

class AtomicFile {
 public:
  explicit AtomicFile(std::string path);  // throws attnlab::Error if the temp file can't open
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  std::ofstream& stream() { return out_; }
  void commit();  // throws attnlab::Error naming the path on a write or rename failure

 private:
  std::string path_;
  std::string temp_path_;
  std::ofstream out_;
  bool committed_ = false;
};

}  // namespace attnlab
