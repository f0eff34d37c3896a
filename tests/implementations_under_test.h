// The implementations that tests of defaults and of RMSNorm run: every registry entry that can
// run on this machine (the fp64 reference forms, the plain and fast CPU backends in each cache
// dtype, CUDA where a device is present) and, in builds with CUDA, the CUDA backend's own code on
// the CPU emulation of CUDA (kernels/cuda/emulation/, backend "cuda-emulated"), so that its
// RMSNorm and softmax-scale paths are checked on every machine. tests/CMakeLists.txt links the
// emulated backend into the programs that include this (ATTNLAB_CUDA_EMULATION).
#pragma once

#include <vector>

#include "registry/registry.h"
#ifdef ATTNLAB_CUDA_EMULATION
#include "kernels/cuda/cuda_attention.h"
#endif

namespace attnlab::test {

#ifdef ATTNLAB_CUDA_EMULATION
// The CUDA backend's nine (form, cache dtype) entries on the emulation, driven like registry
// entries (the registry's driver); also what cuda_emulation_tests runs its suite over.
inline std::vector<Implementation> cuda_emulated_implementations() {
  std::vector<Implementation> impls;
  for (ImplForm form : {ImplForm::standard, ImplForm::naive, ImplForm::absorb})
    for (DType dtype : cache_dtypes()) {
      Implementation impl;
      impl.backend = "cuda-emulated";
      impl.form = form;
      impl.dtype = dtype;
      impl.supports = [form](const LayerConfig& c) { return form_supported(c, form); };
      impl.make_attention = [form, dtype](const LayerConfig& c, const Weights& w) {
        return cuda::make_cuda_attention(c, w, form, dtype);
      };
      impl.run_chunks = [make = impl.make_attention](const LayerConfig& c, const Weights& w,
                                                     const Tensor<double>& x,
                                                     const Tensor<int64_t>& p, int64_t chunk) {
        return run_through(*make(c, w), c, x, p, chunk);
      };
      impls.push_back(impl);
    }
  return impls;
}
#endif

inline std::vector<Implementation> implementations_under_test() {
  std::vector<Implementation> impls;
  for (const Implementation& impl : implementations())
    if (impl.unavailable_reason().empty()) impls.push_back(impl);
#ifdef ATTNLAB_CUDA_EMULATION
  for (const Implementation& impl : cuda_emulated_implementations()) impls.push_back(impl);
#endif
  return impls;
}

}  // namespace attnlab::test
