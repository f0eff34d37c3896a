// The CUDA backend (registry backend "cuda"): every implementation form (standard for
// MHA/GQA/MQA, MLA naive, MLA absorb) on one CUDA device, fp32 weights and activations, the KV
// cache in device memory stored as fp32, bf16 or fp16 with fp32 accumulation everywhere.
// Projections and prefill attention go through cuBLAS (CUBLAS_COMPUTE_32F); RoPE, RMSNorm, the
// masked softmax and the split-KV decode kernel with its log-sum-exp combine are plain CUDA
// kernels (kernels/cuda/*.cu). forward() takes host pointers and copies in and out.
// This header needs no CUDA headers: the registry includes it in every CUDA build.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "core/attention.h"
#include "core/layer_config.h"
#include "core/weights.h"
#include "kernels/cuda/cuda_dtype.h"
#include "kernels/cuda/cuda_namespace.h"
#include "variants/variant_spec.h"

ATTNLAB_CUDA_BEGIN

// "" when the backend can run here, else why not (e.g. "no CUDA device (cudaErrorNoDevice:
// ...)"). Probed once per process. The emulated build always returns "".
const std::string& unavailable_reason();

// Builds the form on the current CUDA device: weights converted to fp32 and copied once (MLA
// absorb also splits kv_b_proj into per-head W_UK, W_UV there). Throws attnlab::Error when the
// form does not apply to the config, when there is no device, or, with a message that says
// "out of device memory", when the weights do not fit.
std::unique_ptr<Attention> make_cuda_attention(const LayerConfig& config, const Weights& weights,
                                               ImplForm form, DType dtype);

ATTNLAB_CUDA_END
