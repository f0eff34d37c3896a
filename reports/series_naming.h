// Names for groups of cases in legends and tables. A series is the cases that differ only in
// their length (context or sequence length); it is named by model and variant ("llama-3-8b GQA",
// "deepseek-v2-lite MLA absorb") plus only those of results file, backend, KV dtype, batch and
// threads that differ between the cases shown. What they all share is said once, in a caption.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "reports/results_file.h"

namespace attnlab::reports {

struct CaseRef {
  const ResultsFile* file;
  const ResultCase* c;
};

// Every case of every file for which `keep` is true, in file order.
std::vector<CaseRef> select_cases(const std::vector<ResultsFile>& files,
                                  const std::function<bool(const ResultCase&)>& keep);

// "MHA", "GQA", "MQA", "MLA naive", "MLA absorb".
std::string variant_name(const ResultCase& c);

class SeriesNamer {
 public:
  explicit SeriesNamer(const std::vector<CaseRef>& cases);
  // Identity of the series a case belongs to (everything except its length).
  std::string key(const CaseRef& ref) const;
  std::string name(const CaseRef& ref) const;
  // What every case shares, e.g. "backend cpu, fp32 KV cache, batch 1, 2 threads"; "" if none.
  std::string shared() const;

 private:
  bool files_ = false, backend_ = false, dtype_ = false, batch_ = false, threads_ = false;
  const CaseRef* first_ = nullptr;
  std::vector<CaseRef> cases_;
};

}  // namespace attnlab::reports
