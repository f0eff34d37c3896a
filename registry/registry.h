// The registry: the one list of attention implementations, keyed by (backend, form, dtype).
// `attnlab run`, `attnlab verify`, the tests and (later) sweeps enumerate it, so registering an
// implementation here is all it takes to have it verified. Each entry says which configs it
// supports; callers report unsupported combinations as skipped, never as passed.
//
// Every entry runs through the one driver (registry/driver.h): fp64 inputs in, fp64 outputs out
// (converted at the edges), `chunk` tokens per forward through the implementation's own KV
// cache: prefill = all tokens in one forward, decode = one token per forward, anything between
// = chunked prefill. The cache gets a few slots more than needed; the CPU and CUDA backends fill
// unused slots with NaN, so a read past the valid length poisons the output and fails
// verification.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/attention.h"
#include "core/dtype.h"
#include "core/layer_config.h"
#include "core/tensor.h"
#include "core/weights.h"
#include "registry/driver.h"
#include "variants/variant_spec.h"

namespace attnlab {

enum class Phase { prefill, decode };
const char* to_string(Phase phase);
Phase parse_phase(const std::string& text);  // throws attnlab::Error

struct Implementation {
  std::string backend;  // "reference", "cpu" (fast), "cpu-plain", "cuda", or a plugin's name
  ImplForm form;
  // Cache storage type: fp64 (reference), fp32, bf16, fp16 (CPU and CUDA: fp32 compute and
  // accumulation whatever the storage). Results files name it with to_string(dtype).
  DType dtype = DType::fp32;
  std::function<bool(const LayerConfig&)> supports;
  // Runs x [B, S, hidden] at positions [B, S] through a fresh cache, `chunk` tokens per forward.
  std::function<RunOutput(const LayerConfig&, const Weights&, const Tensor<double>& x,
                          const Tensor<int64_t>& positions, int64_t chunk)>
      run_chunks;

  // The implementation itself, for timing (sweeps, benchmarks); empty for backends that are not
  // an Attention (the fp64 reference) and for unavailable ones (see below).
  std::function<std::unique_ptr<Attention>(const LayerConfig&, const Weights&)> make_attention;

  // Why this implementation cannot run on this machine (e.g. "no CUDA device (...)"), or "" when
  // it can; empty = always available. supports() is then false too; verify reports every check
  // SKIP with this reason, and a sweep that names the backend is refused before it runs.
  std::function<std::string()> unavailable;
  // The KV cache of a sliding layer holds cache_slots(config, capacity) slots per sequence, not
  // capacity (variants/variant_spec.h: the fast CPU backend's ring); its bytes_allocated() is
  // that many slots' worth.
  bool ring_cache = false;
  std::string unavailable_reason() const { return unavailable ? unavailable() : std::string(); }

  RunOutput run(const LayerConfig& config, const Weights& weights, const Tensor<double>& x,
                const Tensor<int64_t>& positions, Phase phase) const;
  std::string id() const { return backend + "/" + to_string(form) + "/" + to_string(dtype); }
};

// The built-in entries (registered on first use) and every one registered since. Registering
// invalidates earlier references into the list: register at start-up, before anything runs.
const std::vector<Implementation>& implementations();
// Adds an entry: the one path built-in backends and plugins (registry/plugin_loader.h) take.
// Throws attnlab::Error when its id is already registered, or backend, supports or run_chunks
// is missing.
void register_implementation(Implementation impl);
// Throws attnlab::Error listing what exists when nothing matches. No dtype = the first one.
const Implementation& find_implementation(const std::string& backend, ImplForm form,
                                          std::optional<DType> dtype = std::nullopt);
// The backends and the cache dtypes the registry lists, in table order without repeats (the
// reference's fp64 included): what `attnlab run --backend/--dtype` and sweeps accept.
std::vector<std::string> registered_backends();
std::vector<DType> registered_dtypes();
// "a, b or c": how one-line errors list the accepted values.
std::string join_choices(const std::vector<std::string>& choices);
// The form used when the user names none: standard for MHA/GQA/MQA, absorb for MLA.
ImplForm default_form(const LayerConfig& config);
// The form that defines a variant's math, whose fp64 reference is the truth every
// implementation is checked against: standard for MHA/GQA/MQA, naive for MLA.
ImplForm defining_form(const LayerConfig& config);

// A copy of the plain CPU entry of `form` running with a deliberate bug (cpu::Fault), with the
// fault's name in its backend ("cpu-plain+softmax_scale"): how the gate's own tests and
// `attnlab verify --inject-fault` show that verification catches it.
Implementation faulty_cpu_implementation(ImplForm form, const std::string& fault_name);
std::vector<std::string> fault_names();

}  // namespace attnlab
