# Generates build_info.cpp (compiler, flags, build type, version, git commit) for `attnlab info`
# and the context block of results files.
execute_process(COMMAND git rev-parse --short=12 HEAD WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
                OUTPUT_VARIABLE ATTN_GIT_COMMIT OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(NOT ATTN_GIT_COMMIT)
  set(ATTN_GIT_COMMIT "unknown")
endif()
string(TOUPPER "${CMAKE_BUILD_TYPE}" _attn_bt)
set(ATTN_CXX_FLAGS "${CMAKE_CXX_FLAGS} ${CMAKE_CXX_FLAGS_${_attn_bt}}")
if(ATTN_NATIVE)
  string(APPEND ATTN_CXX_FLAGS " -march=native")
endif()
string(STRIP "${ATTN_CXX_FLAGS}" ATTN_CXX_FLAGS)
