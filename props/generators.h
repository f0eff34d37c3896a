// Support library of the property-based tests (props/prop_*.cpp, rapidcheck inside Catch2):
//   - generators of random valid LayerConfigs of every kind (GTA and GLA included), biased toward
//   awkward shapes (odd or
//     single heads, large query groups, tiny even head dims, both RoPE layouts and none, random
//     bias subsets), and of test cases (batch, cached context, new tokens, increasing positions
//     with gaps and large offsets, weight/input seeds). Built from rapidcheck combinators, so a
//     failing case shrinks toward small shapes, position 0, unit gaps and no biases;
//   - drivers that run a layer through the fp64 reference or through any Attention (each CPU
//     backend and cache dtype of the registry, or the plain CPU backend with a deliberate
//     cpu::Fault) in chunks of tokens through one KV cache;
//   - assertions (RC_ASSERT-based) comparing two runs, with the tolerance policy of `attnlab
//     verify` (verify/conformance.h judge(), verify/tolerance.h) or an explicit bound;
//   - check_property(): rapidcheck's check with a per-property number of cases (so the suite stays
//     fast), scaled by RC_PARAMS max_success (default 100 = 1x) and honouring RC_PARAMS seed and
//     reproduce.
// Sizes are kept tiny (4 <= hidden <= 48, heads <= 12, dims <= 16, <= 21 tokens) so the whole
// props suite runs in well under a minute on two cores; generators.cpp (kMinValueScalars) says
// which degenerate shapes are excluded and why.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <rapidcheck.h>

#include "core/attention.h"
#include "core/layer_config.h"
#include "core/tensor.h"
#include "core/weights.h"
#include "kernels/cpu/cpu_plain_attention.h"
#include "registry/registry.h"
#include "variants/conversions.h"
#include "variants/variant_spec.h"

namespace attnlab {

// Counterexample printing (found by rapidcheck through argument-dependent lookup).
void showValue(const LayerConfig& config, std::ostream& os);

}  // namespace attnlab

namespace attnlab::props {

// ---- configs -----------------------------------------------------------------------------------

struct ConfigOptions {
  std::vector<RopeLayout> rope_layouts{RopeLayout::none, RopeLayout::interleaved,
                                       RopeLayout::half_split};
  bool random_biases = true;              // a random subset of projection_names(); false: none
  std::set<std::string> required_biases;  // always on where the config has that projection
  bool random_softmax_scale = true;       // sometimes an explicit softmax_scale in [0.05, 1]
  // MHA / GQA / MQA
  std::vector<AttentionKind> kinds{AttentionKind::mha, AttentionKind::gqa, AttentionKind::mqa};
  // MLA
  std::optional<bool> q_lora;         // nullopt: random; true: q_lora_rank > 0; false: 0
  std::optional<bool> latent_norms;   // nullopt: random
  std::optional<bool> rope_dim_zero;  // nullopt: random; true: qk_rope_head_dim 0; false: > 0
  bool nope_equals_v = false;         // qk_nope_head_dim == v_head_dim
  // GLA: the number of latent heads h_c drawn from this list (empty: 1 to 4, as often 1 as not)
  std::vector<int64_t> latent_heads;

  // Model features (docs/CONFIG.md), off by default so the older properties see the layers they
  // were written for: a random RoPE scaling (linear, yarn, llama3 over a short original length,
  // so test positions cross it), a sliding window of 1..8, and for MHA/GQA/MQA a partial rotary
  // factor, sinks and QK-norm (offset 0 or 1).
  bool model_features = false;
};

rc::Gen<LayerConfig> gen_standard_config(const ConfigOptions& options = {});
rc::Gen<LayerConfig> gen_mla_config(const ConfigOptions& options = {});
// Standard or MLA with equal probability.
rc::Gen<LayerConfig> gen_any_config(const ConfigOptions& options = {});
// GTA (grouped-tied attention): the GQA head shapes of gen_standard_config (its `kinds` ignored),
// a rope key of width 1 <= r < head_dim (even when roped), random biases over its projections.
// ConfigOptions' MLA fields do not apply; model_features adds a RoPE scaling and a window only.
rc::Gen<LayerConfig> gen_gta_config(const ConfigOptions& options = {});
// GLA (grouped latent attention): gen_mla_config's latent shapes with q_lora_rank > 0 always
// (W_dQ) and h_c latent heads (ConfigOptions::latent_heads), n_heads a multiple of h_c.
rc::Gen<LayerConfig> gen_gla_config(const ConfigOptions& options = {});

// ---- cases -------------------------------------------------------------------------------------

struct Case {
  int64_t batch = 1;
  int64_t context = 0;             // tokens already in the cache before the query chunk
  int64_t seq = 1;                 // tokens of the query chunk
  std::vector<int64_t> positions;  // [batch, context + seq], increasing within each sequence
  uint64_t weight_seed = 0;
  uint64_t input_seed = 0;
  double input_scale = 1;  // activations N(0, 1) times this (CaseOptions::input_scales)

  int64_t tokens() const { return context + seq; }
};
void showValue(const Case& c, std::ostream& os);

struct CaseOptions {
  int64_t min_tokens = 1;  // context + seq >= this
  int64_t max_batch = 3;
  int64_t min_context = 0;
  int64_t max_context = 9;
  int64_t max_seq = 12;
  int64_t min_offset = 0;      // first position of a sequence in [min_offset, max_offset]
  int64_t max_offset = 10000;  // (near 2^20: RoPE angles of ~1e6 rad)
  // Input scales drawn from (shrinking toward the first): large ones give logits that overflow
  // exp() without the softmax's max shift, small ones latents where RMSNorm's eps dominates.
  std::vector<double> input_scales{1.0};
};
rc::Gen<Case> gen_case(const CaseOptions& options = {});

// Consecutive chunk sizes that cover `tokens` tokens (each >= 1, sum == tokens): random split
// points; shrinks toward a single chunk.
rc::Gen<std::vector<int64_t>> gen_chunks(int64_t tokens);

// The layer's weights (random_weights with the case's seed), inputs [batch, tokens, hidden] and
// positions [batch, tokens] of a case.
Layer make_layer(const LayerConfig& config, const Case& c);
Tensor<double> case_inputs(const Case& c, const LayerConfig& config);
Tensor<int64_t> case_positions(const Case& c);

// ---- drivers -----------------------------------------------------------------------------------

// chunks: {tokens} (one prefill), {context, seq} (prefill after context), all ones (decode), ...
std::vector<int64_t> one_chunk(int64_t tokens);
std::vector<int64_t> decode_chunks(int64_t tokens);
std::vector<int64_t> context_then_query(const Case& c);

// Runs every token of x [B, T, hidden] through one fresh cache (CPU: capacity T + kCacheSlack,
// the slack never written), `chunks[i]` tokens per forward; out [B, T, hidden] and lse [B, T, H]
// in a RunOutput (cache_bytes set). Thin names for registry/driver.h's run_reference_through
// and run_through, the one driver.
RunOutput run_reference(const LayerConfig& config, const Weights& weights, ImplForm form,
                        const Tensor<double>& x, const Tensor<int64_t>& positions,
                        const std::vector<int64_t>& chunks);
RunOutput run_attention(const Attention& attention, const LayerConfig& config,
                        const Tensor<double>& x, const Tensor<int64_t>& positions,
                        const std::vector<int64_t>& chunks);

// A CPU implementation under test: how to build it for a (config, weights, form), the dtype whose
// tolerance applies to it, and whether its rows are bit-exact functions of their own inputs
// (changing other rows' inputs, same shapes, changes no bit of them).
using CpuFactory =
    std::function<std::unique_ptr<Attention>(const LayerConfig&, const Weights&, ImplForm)>;
struct CpuUnderTest {
  std::string name;  // e.g. "cpu-plain/fp32", "cpu/bf16", "cpu-plain/fp32 with fault rope_pairs"
  DType dtype = DType::fp32;
  bool row_exact = false;
  CpuFactory make;
};
// The plain CPU backend (kernels/cpu/cpu_plain_attention.h), optionally with a deliberate fault.
// Row-exact: per (batch, head) loops and Eigen products whose reduction order depends only on the
// shapes.
CpuUnderTest plain_cpu(cpu::Fault fault = cpu::Fault::none);
// Every CPU backend x cache dtype of the registry (implementations() entries other than the
// reference that can build an Attention), the plain one included; row_exact only for the plain
// backend, whose kernels are documented row by row.
std::vector<CpuUnderTest> registered_cpus();
RunOutput run_cpu(const CpuUnderTest& cpu, const Layer& layer, ImplForm form,
                  const Tensor<double>& x, const Tensor<int64_t>& positions,
                  const std::vector<int64_t>& chunks);

// ---- assertions (inside a rapidcheck property) ------------------------------------------------

// `actual` within tolerance_for(dtype) of `expected` by verify's judge(): the gate's own policy.
void assert_conforms(const char* what, const RunOutput& actual, const RunOutput& expected,
                     DType dtype);
// max |a - e| <= bound * max(1, max |e|), for outputs and for LSE (when both are non-empty).
void assert_close(const char* what, const RunOutput& actual, const RunOutput& expected,
                  double bound);
// Bit-for-bit equality of outputs and LSE.
void assert_identical(const char* what, const RunOutput& actual, const RunOutput& expected);
// Tokens [0, count) of every sequence of a [B, T, w] tensor.
Tensor<double> first_tokens(const Tensor<double>& t, int64_t count);
RunOutput first_tokens(const RunOutput& r, int64_t count);
// Sequence b of a [B, T, w] tensor as [1, T, w].
template <class T>
Tensor<T> one_sequence(const Tensor<T>& t, int64_t b);

// ---- running properties ------------------------------------------------------------------------

// Runs a property with `cases` cases (x RC_PARAMS max_success / 100), printing rapidcheck's
// report (with the shrunk counterexample) to stderr on failure. Returns true when it held.
bool check_property(const std::string& description, int cases,
                    const std::function<void()>& property);
// Runs a property body on fixed inputs (no generators) exactly once; true when it held. For the
// regression cases of prop_regressions.cpp.
bool check_example(const std::string& description, const std::function<void()>& example);
// check_property once per registered CPU implementation (registered_cpus()), the description
// suffixed with " [<cpu name>]". True when it held for all.
bool check_for_each_cpu(const std::string& description, int cases,
                        const std::function<void(const CpuUnderTest&)>& property);

}  // namespace attnlab::props
