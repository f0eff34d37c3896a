// The implementation table and the generic prefill/decode driver; see registry.h.
#include "registry/registry.h"

#include <algorithm>

#include "core/attention.h"
#include "core/error.h"
#include "kernels/cpu/cpu_plain_attention.h"
#include "kernels/cpu/fast_attention.h"
#ifdef ATTNLAB_HAVE_CUDA
#include "kernels/cuda/cuda_attention.h"
#endif
#include "reference/reference_attention.h"

namespace attnlab {

const char* to_string(Phase phase) {
  return phase == Phase::prefill ? "prefill" : "decode";
}

Phase parse_phase(const std::string& text) {
  if (text == "prefill") return Phase::prefill;
  if (text == "decode") return Phase::decode;
  throw Error("phase '" + text + "' is not one of prefill, decode");
}

ImplForm default_form(const LayerConfig& config) {
  return config.is_mla() ? ImplForm::absorb : ImplForm::standard;
}

ImplForm defining_form(const LayerConfig& config) {
  return config.is_mla() ? ImplForm::naive : ImplForm::standard;
}

RunOutput Implementation::run(const LayerConfig& config, const Weights& weights,
                              const Tensor<double>& x, const Tensor<int64_t>& positions,
                              Phase phase) const {
  const int64_t seq = x.shape.size() == 3 ? x.shape[1] : 1;
  return run_chunks(config, weights, x, positions, phase == Phase::prefill ? seq : 1);
}

namespace {

// Extra cache slots beyond the tokens a run writes: never written, so NaN in the CPU backend.
constexpr int64_t kCacheSlack = 3;

void check_inputs(const LayerConfig& config, const Tensor<double>& x,
                  const Tensor<int64_t>& positions) {
  if (x.shape.size() != 3 || x.shape[2] != config.hidden_size)
    throw Error("hidden_states has shape " + shape_to_string(x.shape) + ", expected [batch, seq, " +
                std::to_string(config.hidden_size) + "]");
  if (x.shape[0] < 1 || x.shape[1] < 1)
    throw Error("hidden_states has shape " + shape_to_string(x.shape) +
                ": batch and seq must be >= 1");
  if (positions.shape != Shape{x.shape[0], x.shape[1]})
    throw Error("position_ids has shape " + shape_to_string(positions.shape) + ", expected " +
                shape_to_string({x.shape[0], x.shape[1]}));
}

// Copies tokens [s0, s0 + n) of every sequence of a [B, S, W] tensor.
template <class T>
std::vector<T> token_slice(const Tensor<T>& t, int64_t s0, int64_t n) {
  const int64_t batch = t.shape[0], seq = t.shape[1];
  const int64_t width = t.shape.size() > 2 ? t.shape[2] : 1;
  std::vector<T> slice(batch * n * width);
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t i = 0; i < n * width; ++i)
      slice[(b * n) * width + i] = t.data[(b * seq + s0) * width + i];
  return slice;
}

template <class Src>
void scatter_tokens(const Src* src, Tensor<double>& dst, int64_t s0, int64_t n) {
  const int64_t batch = dst.shape[0], seq = dst.shape[1], width = dst.shape[2];
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t i = 0; i < n * width; ++i)
      dst.data[(b * seq + s0) * width + i] = static_cast<double>(src[(b * n) * width + i]);
}

RunOutput run_fp32_attention(const Attention& attention, const LayerConfig& config,
                             const Tensor<double>& x, const Tensor<int64_t>& positions,
                             int64_t chunk) {
  check_inputs(config, x, positions);
  const int64_t batch = x.shape[0], seq = x.shape[1];
  RunOutput result{Tensor<double>({batch, seq, config.hidden_size}),
                   Tensor<double>({batch, seq, config.n_heads}), 0};
  auto cache = attention.make_cache(batch, seq + kCacheSlack);
  result.cache_bytes = cache->bytes_allocated();
  for (int64_t s0 = 0; s0 < seq; s0 += chunk) {
    const int64_t step = std::min(chunk, seq - s0);
    const std::vector<double> xd = token_slice(x, s0, step);
    const std::vector<float> xf(xd.begin(), xd.end());
    const std::vector<int64_t> pos = token_slice(positions, s0, step);
    std::vector<float> out(batch * step * config.hidden_size), lse(batch * step * config.n_heads);
    attention.forward(xf.data(), pos.data(), batch, step, *cache, out.data(), lse.data());
    scatter_tokens(out.data(), result.out, s0, step);
    scatter_tokens(lse.data(), result.lse, s0, step);
  }
  return result;
}

RunOutput run_reference(const LayerConfig& config, const Weights& weights, ImplForm form,
                        const Tensor<double>& x, const Tensor<int64_t>& positions, int64_t chunk) {
  check_inputs(config, x, positions);
  const int64_t batch = x.shape[0], seq = x.shape[1];
  RunOutput result{Tensor<double>({batch, seq, config.hidden_size}),
                   Tensor<double>({batch, seq, config.n_heads}), 0};
  reference::Cache cache;
  for (int64_t s0 = 0; s0 < seq; s0 += chunk) {
    const int64_t step = std::min(chunk, seq - s0);
    const Tensor<double> xs({batch, step, config.hidden_size}, token_slice(x, s0, step));
    const Tensor<int64_t> ps({batch, step}, token_slice(positions, s0, step));
    const reference::Result r = reference::forward(config, weights, form, xs, ps, cache);
    scatter_tokens(r.out.ptr(), result.out, s0, step);
    scatter_tokens(r.lse.ptr(), result.lse, s0, step);
  }
  for (const Tensor<double>& part : cache.parts)
    result.cache_bytes += part.numel() * sizeof(double);
  return result;
}

Implementation reference_entry(ImplForm form) {
  Implementation impl;
  impl.backend = "reference";
  impl.form = form;
  impl.dtype = "fp64";
  impl.supports = [form](const LayerConfig& c) { return form_supported(c, form); };
  impl.run_chunks = [form](const LayerConfig& c, const Weights& w, const Tensor<double>& x,
                           const Tensor<int64_t>& p,
                           int64_t chunk) { return run_reference(c, w, form, x, p, chunk); };
  return impl;
}

Implementation cpu_plain_entry(ImplForm form, cpu::Fault fault = cpu::Fault::none) {
  const std::string backend =
      fault == cpu::Fault::none ? "cpu-plain" : std::string("cpu-plain+") + cpu::to_string(fault);
  Implementation impl;
  impl.backend = backend;
  impl.form = form;
  impl.dtype = "fp32";
  impl.supports = [form](const LayerConfig& c) { return form_supported(c, form); };
  impl.make_attention = [form, fault](const LayerConfig& c, const Weights& w) {
    return cpu::make_plain_attention(c, w, form, fault);
  };
  impl.run_chunks = [make = impl.make_attention](const LayerConfig& c, const Weights& w,
                                                 const Tensor<double>& x, const Tensor<int64_t>& p,
                                                 int64_t chunk) {
    return run_fp32_attention(*make(c, w), c, x, p, chunk);
  };
  return impl;
}

// The fast CPU backend (kernels/cpu/fast_attention.h) with its KV cache stored in `dtype`
// (fp32, bf16, fp16); compute and accumulation are fp32 whatever the storage.
Implementation cpu_fast_entry(ImplForm form, DType dtype) {
  Implementation impl;
  impl.backend = "cpu";
  impl.form = form;
  impl.dtype = to_string(dtype);
  impl.supports = [form](const LayerConfig& c) { return form_supported(c, form); };
  impl.make_attention = [form, dtype](const LayerConfig& c,
                                      const Weights& w) -> std::unique_ptr<Attention> {
    return cpu::fast::make_fast_attention(c, w, form, dtype);
  };
  impl.run_chunks = [make = impl.make_attention](const LayerConfig& c, const Weights& w,
                                                 const Tensor<double>& x, const Tensor<int64_t>& p,
                                                 int64_t chunk) {
    return run_fp32_attention(*make(c, w), c, x, p, chunk);
  };
  return impl;
}

#ifdef ATTNLAB_HAVE_CUDA
// The CUDA backend (kernels/cuda/cuda_attention.h) with its KV cache stored in `dtype`; fp32
// compute and accumulation. Unavailable (every check SKIP) when no device is present.
Implementation cuda_entry(ImplForm form, DType dtype) {
  Implementation impl;
  impl.backend = "cuda";
  impl.form = form;
  impl.dtype = to_string(dtype);
  impl.unavailable = [] { return cuda::unavailable_reason(); };
  impl.supports = [form](const LayerConfig& c) {
    return cuda::unavailable_reason().empty() && form_supported(c, form);
  };
  // No Attention to make without a device: callers that time or test every make_attention skip
  // the entry; make_cuda_attention itself throws "CUDA backend unavailable: ..." then.
  if (cuda::unavailable_reason().empty())
    impl.make_attention = [form, dtype](const LayerConfig& c, const Weights& w) {
      return cuda::make_cuda_attention(c, w, form, dtype);
    };
  impl.run_chunks = [form, dtype](const LayerConfig& c, const Weights& w, const Tensor<double>& x,
                                  const Tensor<int64_t>& p, int64_t chunk) {
    return run_fp32_attention(*cuda::make_cuda_attention(c, w, form, dtype), c, x, p, chunk);
  };
  return impl;
}
#endif

}  // namespace

const std::vector<Implementation>& implementations() {
  static const std::vector<Implementation> table = [] {
    std::vector<Implementation> t;
    for (ImplForm form : {ImplForm::standard, ImplForm::naive, ImplForm::absorb}) {
      t.push_back(reference_entry(form));
      // fp32 first: find_implementation("cpu", form) without a dtype picks it.
      for (auto dtype : {DType::fp32, DType::bf16,
                         DType::fp16})
        t.push_back(cpu_fast_entry(form, dtype));
      t.push_back(cpu_plain_entry(form));
#ifdef ATTNLAB_HAVE_CUDA
      for (auto dtype : {DType::fp32, DType::bf16, DType::fp16})
        t.push_back(cuda_entry(form, dtype));
#endif
    }
    return t;
  }();
  return table;
}

std::vector<std::string> fault_names() {
  std::vector<std::string> names;
  for (cpu::Fault f : cpu::all_faults()) names.push_back(cpu::to_string(f));
  return names;
}

Implementation faulty_cpu_implementation(ImplForm form, const std::string& fault_name) {
  for (cpu::Fault f : cpu::all_faults())
    if (fault_name == cpu::to_string(f)) return cpu_plain_entry(form, f);
  std::string known;
  for (const std::string& n : fault_names()) known += (known.empty() ? "" : ", ") + n;
  throw Error("unknown fault '" + fault_name + "' (known: " + known + ")");
}

const Implementation& find_implementation(const std::string& backend, ImplForm form,
                                          const std::string& dtype) {
  for (const Implementation& impl : implementations())
    if (impl.backend == backend && impl.form == form && (dtype.empty() || impl.dtype == dtype))
      return impl;
  std::string known;
  for (const Implementation& impl : implementations())
    known += (known.empty() ? "" : ", ") + impl.id();
  throw Error("no implementation " + backend + "/" + to_string(form) +
              (dtype.empty() ? "" : "/" + dtype) + " (registered: " + known + ")");
}

}  // namespace attnlab
