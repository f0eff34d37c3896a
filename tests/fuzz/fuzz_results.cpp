// libFuzzer harness: the readers of sweep results, on a file holding the fuzzer's bytes —
// `attnlab report`'s (reports/results_file.cpp, then every report section, the baseline
// comparison and both renderers, which read what the reader accepted), `attnlab merge`'s and
// `--resume`'s journal reader (sweep/sweep_results.cpp).
#include <cstdint>
#include <string>

#include "reports/baseline.h"
#include "reports/render.h"
#include "reports/results_file.h"
#include "reports/sections.h"
#include "sweep/sweep_results.h"
#include "tests/fuzz/fuzz_support.h"

using namespace attnlab;

namespace {

void report(const std::string& path) {
  const std::vector<reports::ResultsFile> files = {reports::load_results_file(path, "[1]")};
  reports::Document doc;
  doc.title = files[0].sweep();
  doc.sections = {reports::runs_section(files),     reports::kv_section(files, 32768),
                  reports::decode_section(files),   reports::prefill_section(files),
                  reports::roofline_section(files), reports::mla_section(files),
                  reports::accuracy_section(files)};
  const reports::BaselineComparison comparison = reports::compare_with_baseline(files, files[0]);
  doc.sections.push_back(reports::baseline_section(comparison, 5.0));
  fuzz::require(!reports::render_markdown(doc).empty() && !reports::render_html(doc).empty(),
                "a report renders");
}

void resume_journal(const uint8_t* data, size_t size) {
  fuzz::write_scratch("journal.json.partial", data, size);
  const std::string out = (fuzz::scratch_dir() / "journal.json").string();
  const nlohmann::ordered_json header = {{"fingerprint", "0123456789abcdef"}, {"shard", "1/1"}};
  SweepJournal journal(out, header, true);
  for (const auto& [index, record] : journal.finished())
    fuzz::require(index == record.index && index >= 0, "a loaded case keeps its index");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzz::write_scratch("results.json", data, size);
  fuzz::accepts([&] { report(path); });
  fuzz::accepts([&] { merge_results({path}, (fuzz::scratch_dir() / "merged.json").string()); });
  fuzz::accepts([&] { resume_journal(data, size); });
  return 0;
}
