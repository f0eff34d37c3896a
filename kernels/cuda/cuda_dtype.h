// The KV-cache storage types of the CUDA backend: core/dtype.h's cache dtypes (fp32, bf16,
// fp16; compute and accumulation are fp32 for all). core/dtype.h needs no other core/ header,
// so the .cu files can include it.
#pragma once

#include "core/dtype.h"
