// The sections of a report, each built from the results files alone (docs/REPORTS.md says what
// each shows): the runs (machine and build), KV cache, decode, prefill, roofline, decode
// arithmetic intensity, MLA naive vs absorb and accuracy. The baseline comparison lives in
// baseline.h.
#pragma once

#include <cstdint>
#include <vector>

#include "reports/document.h"
#include "reports/results_file.h"

namespace attnlab::reports {

Section runs_section(const std::vector<ResultsFile>& files);
// KV-cache sizes of every (model, form, dtype) in the results, and at `context` tokens.
Section kv_section(const std::vector<ResultsFile>& files, int64_t context);
Section decode_section(const std::vector<ResultsFile>& files);
Section prefill_section(const std::vector<ResultsFile>& files);
Section roofline_section(const std::vector<ResultsFile>& files);
// Per variant: the decode core's MACs per cached element (exact and the paper's 2 g_q / m_kv),
// next to the FLOP/s and bytes/s the timed decode cases achieved.
Section intensity_section(const std::vector<ResultsFile>& files);
Section mla_section(const std::vector<ResultsFile>& files);
Section accuracy_section(const std::vector<ResultsFile>& files);

}  // namespace attnlab::reports
