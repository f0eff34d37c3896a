// The KV-cache storage types of the CUDA backend (compute and accumulation are fp32 for all).
// Kept apart from cuda_attention.h so that the .cu files need no core/ headers.
#pragma once

#include <cstddef>
#include <string>

#include "kernels/cuda/cuda_namespace.h"

ATTNLAB_CUDA_BEGIN

enum class CacheDType { fp32, bf16, fp16 };
const char* to_string(CacheDType dtype);
CacheDType parse_cache_dtype(const std::string& text);  // throws attnlab::Error
size_t bytes_per_element(CacheDType dtype);

ATTNLAB_CUDA_END
