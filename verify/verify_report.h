// Machine-readable verify results: a JSON array (one object per row) and JUnit XML (one
// testcase per row: classname = implementation, name = "case / check"; FAIL = <failure>,
// SKIP = <skipped>), both written atomically (temp file + rename).
#pragma once

#include <string>
#include <vector>

#include "verify/conformance.h"

namespace attnlab {

void write_verify_json(const std::string& path, const std::vector<CaseResult>& results);
void write_verify_junit(const std::string& path, const std::vector<CaseResult>& results);

}  // namespace attnlab
