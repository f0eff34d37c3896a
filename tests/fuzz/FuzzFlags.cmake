# Compiler flags of the fuzz build (ATTN_FUZZ=ON, scripts/fuzz.sh): every attnlab library is
# built with libFuzzer's coverage instrumentation, AddressSanitizer and UndefinedBehaviorSanitizer
# (any report aborts), so the harnesses of tests/fuzz/ see crashes and undefined behaviour in
# the parsers and everything they call. Needs clang (Debian: clang and libclang-rt-14-dev).
if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "ATTN_FUZZ needs clang (libFuzzer); configure with -DCMAKE_CXX_COMPILER=clang++")
endif()
add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
  -fno-omit-frame-pointer -g)
add_link_options(-fsanitize=address,undefined)
