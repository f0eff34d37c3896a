// What this binary was built from and with; filled in at configure time (cmake/BuildInfo.cmake).
#pragma once

namespace attnlab {

struct BuildInfo {
  const char* version;
  const char* git_commit;
  const char* compiler;
  const char* cxx_flags;
  const char* build_type;
  const char* linear_algebra;  // the library behind the CPU projections
  bool cuda_built;
};

const BuildInfo& build_info();

}  // namespace attnlab
