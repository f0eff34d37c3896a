// The implementation table; see registry.h. The driver its entries run through is driver.cpp.
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
  return config.has_latent() ? ImplForm::absorb : ImplForm::standard;
}

ImplForm defining_form(const LayerConfig& config) {
  return config.has_latent() ? ImplForm::naive : ImplForm::standard;
}

RunOutput Implementation::run(const LayerConfig& config, const Weights& weights,
                              const Tensor<double>& x, const Tensor<int64_t>& positions,
                              Phase phase) const {
  const int64_t seq = x.shape.size() == 3 ? x.shape[1] : 1;
  return run_chunks(config, weights, x, positions, phase == Phase::prefill ? seq : 1);
}

namespace {

Implementation reference_entry(ImplForm form) {
  Implementation impl;
  impl.backend = "reference";
  impl.form = form;
  impl.dtype = DType::fp64;
  impl.supports = [form](const LayerConfig& c) { return form_supported(c, form); };
  impl.run_chunks = [form](const LayerConfig& c, const Weights& w, const Tensor<double>& x,
                           const Tensor<int64_t>& p, int64_t chunk) {
    check_run_inputs(c, x, p);
    return run_reference_through(c, w, form, x, p, even_chunks(x.dim(1), chunk));
  };
  return impl;
}

Implementation cpu_plain_entry(ImplForm form, cpu::Fault fault = cpu::Fault::none) {
  const std::string backend =
      fault == cpu::Fault::none ? "cpu-plain" : std::string("cpu-plain+") + cpu::to_string(fault);
  Implementation impl;
  impl.backend = backend;
  impl.form = form;
  impl.dtype = DType::fp32;
  impl.supports = [form](const LayerConfig& c) { return form_supported(c, form); };
  impl.make_attention = [form, fault](const LayerConfig& c, const Weights& w) {
    return cpu::make_plain_attention(c, w, form, fault);
  };
  impl.run_chunks = [make = impl.make_attention](const LayerConfig& c, const Weights& w,
                                                 const Tensor<double>& x, const Tensor<int64_t>& p,
                                                 int64_t chunk) {
    return run_through(*make(c, w), c, x, p, chunk);
  };
  return impl;
}

// The fast CPU backend (kernels/cpu/fast_attention.h) with its KV cache stored in `dtype`
// (fp32, bf16, fp16); compute and accumulation are fp32 whatever the storage.
Implementation cpu_fast_entry(ImplForm form, DType dtype) {
  Implementation impl;
  impl.backend = "cpu";
  impl.form = form;
  impl.dtype = dtype;
  impl.ring_cache = true;
  impl.supports = [form](const LayerConfig& c) { return form_supported(c, form); };
  impl.make_attention = [form, dtype](const LayerConfig& c,
                                      const Weights& w) -> std::unique_ptr<Attention> {
    return cpu::fast::make_fast_attention(c, w, form, dtype);
  };
  impl.run_chunks = [make = impl.make_attention](const LayerConfig& c, const Weights& w,
                                                 const Tensor<double>& x, const Tensor<int64_t>& p,
                                                 int64_t chunk) {
    return run_through(*make(c, w), c, x, p, chunk);
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
  impl.dtype = dtype;
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
    return run_through(*cuda::make_cuda_attention(c, w, form, dtype), c, x, p, chunk);
  };
  return impl;
}
#endif

std::vector<Implementation>& table() {
  static std::vector<Implementation> entries;
  return entries;
}

void add_to_table(Implementation impl) {
  if (impl.backend.empty() || !impl.supports || !impl.run_chunks)
    throw Error("implementation '" + impl.id() + "' lacks a backend name, supports or run_chunks");
  for (const Implementation& existing : table())
    if (existing.id() == impl.id())
      throw Error("implementation " + impl.id() + " is already registered");
  table().push_back(std::move(impl));
}

void register_builtins() {
  for (ImplForm form : {ImplForm::standard, ImplForm::naive, ImplForm::absorb}) {
    add_to_table(reference_entry(form));
    // fp32 first: find_implementation("cpu", form) without a dtype picks it.
    for (DType dtype : cache_dtypes()) add_to_table(cpu_fast_entry(form, dtype));
    add_to_table(cpu_plain_entry(form));
#ifdef ATTNLAB_HAVE_CUDA
    for (DType dtype : cache_dtypes()) add_to_table(cuda_entry(form, dtype));
#endif
  }
}

}  // namespace

const std::vector<Implementation>& implementations() {
  static const bool registered = (register_builtins(), true);
  (void)registered;
  return table();
}

void register_implementation(Implementation impl) {
  implementations();  // the built-ins come first
  add_to_table(std::move(impl));
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
                                          std::optional<DType> dtype) {
  for (const Implementation& impl : implementations())
    if (impl.backend == backend && impl.form == form && (!dtype || impl.dtype == *dtype))
      return impl;
  std::string known;
  for (const Implementation& impl : implementations())
    known += (known.empty() ? "" : ", ") + impl.id();
  throw Error("no implementation " + backend + "/" + to_string(form) +
              (dtype ? std::string("/") + to_string(*dtype) : std::string()) +
              " (registered: " + known + ")");
}

std::vector<std::string> registered_backends() {
  std::vector<std::string> backends;
  for (const Implementation& impl : implementations())
    if (std::find(backends.begin(), backends.end(), impl.backend) == backends.end())
      backends.push_back(impl.backend);
  return backends;
}

std::vector<DType> registered_dtypes() {
  std::vector<DType> dtypes;
  for (const Implementation& impl : implementations())
    if (std::find(dtypes.begin(), dtypes.end(), impl.dtype) == dtypes.end())
      dtypes.push_back(impl.dtype);
  return dtypes;
}

std::string join_choices(const std::vector<std::string>& choices) {
  std::string text;
  for (size_t i = 0; i < choices.size(); ++i)
    text += (i == 0 ? "" : i + 1 == choices.size() ? " or " : ", ") + choices[i];
  return text;
}

}  // namespace attnlab
