// The verify checks; see checks.h. Each check is data: a name, when it applies, and how to run.
#include "verify/checks.h"

#include "core/error.h"
#include "core/presets.h"
#include "registry/driver.h"
#include "variants/conversions.h"

namespace attnlab {

namespace {

constexpr int64_t kPositionShift = 4096;
// prompt_decode: the last tokens decoded one per forward after a prefill of the others.
constexpr int64_t kDecodeTail = 3;

// Every token but the last kDecodeTail in one forward (the prompt), then those one per forward:
// what generation after a long prompt does, at the cost of a prefill (a token-by-token decode of
// a 1000-token case costs a thousand forwards).
RunOutput prompt_then_decode(const CaseData& c, const Implementation& impl) {
  const std::vector<int64_t> chunks = phase_chunks("prompt_decode", c.spec.seq);
  if (impl.make_attention)
    return run_through(*impl.make_attention(c.config, c.weights), c.config, c.x, c.positions,
                       chunks);
  return run_reference_through(c.config, c.weights, impl.form, c.x, c.positions, chunks);
}

std::string unsupported(const CaseData& c, const Implementation& impl) {
  const std::string unavailable = impl.unavailable_reason();  // e.g. "no CUDA device (...)"
  if (!unavailable.empty()) return unavailable;
  return impl.supports(c.config)
             ? ""
             : "does not apply to " + std::string(to_string(c.config.attention));
}

RunOutput prefill(const Implementation& impl, const Layer& layer, const Tensor<double>& x,
                  const Tensor<int64_t>& positions) {
  return impl.run(layer.config, layer.weights, x, positions, Phase::prefill);
}

// The smallest world size > 1 that shard_heads accepts for this config, or 0: it divides the
// query heads, and the kv heads (MHA/GQA, GTA's tied heads: unless there is one, replicated) or
// GLA's latent heads (MLA's one latent is replicated).
int64_t shard_world_size(const LayerConfig& config) {
  for (int64_t w = 2; w <= config.n_heads; ++w) {
    if (config.n_heads % w != 0) continue;
    if (!config.has_latent() && config.n_kv_heads % w != 0 && config.n_kv_heads != 1) continue;
    if (config.is_gla() && config.n_latent_heads % w != 0) continue;
    return w;
  }
  return 0;
}

// MHA, GQA or MQA: the kinds with separate k_proj / v_proj heads (not GTA's tied heads, not a
// latent).
bool standard_kind(const LayerConfig& config) {
  return !config.has_latent() && !config.is_gta();
}

std::vector<Check> make_checks() {
  std::vector<Check> checks;
  checks.push_back(
      {"prefill", unsupported, [](const CaseData& c, const Implementation& impl) {
         return CheckRun{impl.run(c.config, c.weights, c.x, c.positions, Phase::prefill), c.truth};
       }});
  checks.push_back(
      {"decode", unsupported, [](const CaseData& c, const Implementation& impl) {
         return CheckRun{impl.run(c.config, c.weights, c.x, c.positions, Phase::decode), c.truth};
       }});
  checks.push_back({"prompt_decode",
                    [](const CaseData& c, const Implementation& impl) {
                      if (c.spec.seq < 2) return std::string("needs seq >= 2");
                      return unsupported(c, impl);
                    },
                    [](const CaseData& c, const Implementation& impl) {
                      return CheckRun{prompt_then_decode(c, impl), c.truth};
                    }});
  checks.push_back(
      {"chunked",
       [](const CaseData& c, const Implementation& impl) {
         const std::string why = phase_excluded("chunked", c.spec.seq);
         return why.empty() ? unsupported(c, impl) : why;
       },
       [](const CaseData& c, const Implementation& impl) {
         const int64_t chunk = phase_chunks("chunked", c.spec.seq).front();
         return CheckRun{impl.run_chunks(c.config, c.weights, c.x, c.positions, chunk), c.truth};
       }});
  checks.push_back({"shift",
                    [](const CaseData& c, const Implementation& impl) {
                      if (c.config.rope_layout == RopeLayout::none) return std::string("no RoPE");
                      return unsupported(c, impl);
                    },
                    [](const CaseData& c, const Implementation& impl) {
                      Tensor<int64_t> shifted = c.positions;
                      for (int64_t& p : shifted.data) p += kPositionShift;
                      return CheckRun{prefill(impl, {c.config, c.weights}, c.x, shifted), c.truth};
                    }});
  checks.push_back({"batch",
                    [](const CaseData& c, const Implementation& impl) {
                      if (c.spec.batch < 2) return std::string("needs batch >= 2");
                      return unsupported(c, impl);
                    },
                    [](const CaseData& c, const Implementation& impl) {
                      const int64_t b = c.spec.batch - 1;
                      return CheckRun{
                          prefill(impl, {c.config, c.weights}, sequence_slice(c.x, b, 1),
                                  sequence_slice(c.positions, b, 1)),
                          sequence_slice(c.truth, b, 1)};
                    }});
  checks.push_back(
      {"causal",
       [](const CaseData& c, const Implementation& impl) {
         if (c.spec.seq < 2) return std::string("needs seq >= 2");
         return unsupported(c, impl);
       },
       [](const CaseData& c, const Implementation& impl) {
         const int64_t batch = c.spec.batch, seq = c.spec.seq;
         const int64_t hidden = c.config.hidden_size;
         Tensor<double> changed = c.x;
         const Tensor<double> noise = random_activations(batch, 1, hidden, c.spec.seed + 99);
         for (int64_t b = 0; b < batch; ++b)
           for (int64_t i = 0; i < hidden; ++i)
             changed.data[((b + 1) * seq - 1) * hidden + i] =
                 noise.data[b * hidden + i] * c.spec.activation_scale;
         const RunOutput out = prefill(impl, {c.config, c.weights}, changed, c.positions);
         return CheckRun{token_slice(out, 0, seq - 1), token_slice(c.truth, 0, seq - 1)};
       }});
  checks.push_back({"rope_swap",
                    [](const CaseData& c, const Implementation& impl) {
                      if (c.config.rope_layout == RopeLayout::none) return std::string("no RoPE");
                      return unsupported(c, impl);
                    },
                    [](const CaseData& c, const Implementation& impl) {
                      return CheckRun{
                          prefill(impl, swap_rope_layout({c.config, c.weights}), c.x, c.positions),
                          c.truth};
                    }});
  checks.push_back({"as_mha",
                    [](const CaseData& c, const Implementation& impl) {
                      if (!standard_kind(c.config) || c.config.n_kv_heads == c.config.n_heads)
                        return std::string("not GQA/MQA");
                      return unsupported(c, impl);
                    },
                    [](const CaseData& c, const Implementation& impl) {
                      return CheckRun{
                          prefill(impl, gqa_as_mha({c.config, c.weights}), c.x, c.positions),
                          c.truth};
                    }});
  checks.push_back({"as_mla",
                    [](const CaseData& c, const Implementation& impl) {
                      if (c.config.has_latent()) return std::string("already latent");
                      if (c.config.is_gta()) return std::string("not GQA/MQA (GTA)");
                      if (c.config.rope_layout != RopeLayout::none)
                        return std::string("TransMLA rewrite needs a layer without RoPE");
                      if (c.config.attention_sinks || c.config.qk_norm)
                        return std::string("MLA has no sinks or QK-norm");
                      if (impl.form == ImplForm::standard) return std::string("runs MLA forms");
                      return impl.unavailable_reason();
                    },
                    [](const CaseData& c, const Implementation& impl) {
                      return CheckRun{
                          prefill(impl, gqa_as_mla({c.config, c.weights}), c.x, c.positions),
                          c.truth};
                    }});
  checks.push_back(
      {"tp_shards",
       [](const CaseData& c, const Implementation& impl) {
         if (shard_world_size(c.config) == 0) return std::string("heads do not split");
         return unsupported(c, impl);
       },
       [](const CaseData& c, const Implementation& impl) {
         const int64_t world = shard_world_size(c.config);
         const std::vector<Layer> ranks = shard_heads({c.config, c.weights}, world);
         RunOutput sum{Tensor<double>(c.truth.out.shape), Tensor<double>(c.truth.lse.shape), 0};
         const int64_t rows = c.spec.batch * c.spec.seq, heads = c.config.n_heads / world;
         for (int64_t r = 0; r < world; ++r) {
           const RunOutput part = prefill(impl, ranks[r], c.x, c.positions);
           for (int64_t i = 0; i < sum.out.numel(); ++i) sum.out.data[i] += part.out.data[i];
           for (int64_t row = 0; row < rows; ++row)  // each rank holds heads [r*heads, (r+1)*heads)
             for (int64_t h = 0; h < heads; ++h)
               sum.lse.data[row * c.config.n_heads + r * heads + h] =
                   part.lse.data[row * heads + h];
         }
         return CheckRun{sum, c.truth};
       }});
  return checks;
}

}  // namespace

CaseData prepare_case(const VerifyCase& spec) {
  return prepare_case(resolve_model(spec.model), spec);
}

CaseData prepare_case(const LayerConfig& config, const VerifyCase& spec) {
  CaseData c{spec, config, {}, {}, spec.positions(), {}};
  if (spec.score_scale != 1) c.config.softmax_scale = config.scale() * spec.score_scale;
  c.weights = random_weights(c.config, spec.seed);
  c.x = spec.activations(c.config.hidden_size);
  c.truth = find_implementation("reference", defining_form(c.config), DType::fp64)
                .run(c.config, c.weights, c.x, c.positions, Phase::prefill);
  return c;
}

std::vector<std::string> phase_names() {
  return {"prefill", "decode", "prompt_decode", "chunked"};
}

std::string phase_excluded(const std::string& phase, int64_t seq) {
  if (phase == "prompt_decode" && seq < 2) return "needs seq >= 2";
  if (phase == "chunked" && seq < 3) return "needs seq >= 3";
  return "";
}

std::vector<int64_t> phase_chunks(const std::string& phase, int64_t seq) {
  if (phase == "prefill") return {seq};
  if (phase == "decode") return even_chunks(seq, 1);
  if (phase == "prompt_decode") {
    const int64_t tail = std::min(kDecodeTail, seq - 1);
    std::vector<int64_t> chunks{seq - tail};
    chunks.insert(chunks.end(), tail, 1);
    return chunks;
  }
  if (phase == "chunked") return even_chunks(seq, std::max<int64_t>(2, seq / 3));
  throw Error("phase '" + phase + "' is not one of prefill, decode, prompt_decode, chunked");
}

const std::vector<Check>& verify_checks() {
  static const std::vector<Check> checks = make_checks();
  return checks;
}

std::vector<std::string> check_names() {
  std::vector<std::string> names;
  for (const Check& check : verify_checks()) names.push_back(check.name);
  return names;
}

bool is_check_name(const std::string& name) {
  for (const Check& check : verify_checks())
    if (check.name == name) return true;
  return false;
}

}  // namespace attnlab
