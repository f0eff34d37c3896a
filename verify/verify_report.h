// Machine-readable verify results: a JSON array (one object per row) and JUnit XML (one
// testcase per row: classname = implementation, name = "case / check"; FAIL = <failure>,
// SKIP = <skipped>), both written atomically (temp file + rename).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "verify/conformance.h"

namespace attnlab {

// The rows as the JSON array write_verify_json writes (`attnlab compare --json` prints it).
nlohmann::ordered_json verify_rows_json(const std::vector<CaseResult>& results);
void write_verify_json(const std::string& path, const std::vector<CaseResult>& results);
void write_verify_junit(const std::string& path, const std::vector<CaseResult>& results);

}  // namespace attnlab
