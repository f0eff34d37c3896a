// The property bodies; see properties.h. Tolerances: comparisons that differ only by fp64
// reassociation use tolerance_for(DType::fp64); a CPU implementation is judged with
// tolerance_for(cpu.dtype) — both through verify's judge(), the policy of `attnlab verify`.
// Comparisons where the two runs do exactly the same arithmetic on the rows in question are
// bit-for-bit: always for the reference, and for CPU implementations that are row-exact
// (CpuUnderTest::row_exact; each place says why).
#include "props/properties.h"

#include <cmath>
#include <string>

#include "reference/reference_attention.h"

namespace attnlab::props {

namespace {

struct Inputs {
  Layer layer;
  Tensor<double> x;
  Tensor<int64_t> positions;
};

Inputs inputs_of(const LayerConfig& config, const Case& c) {
  return {make_layer(config, c), case_inputs(c, config), case_positions(c)};
}

// Bit-identical for a row-exact CPU implementation, else within its tolerance.
void assert_same_rows(const char* what, const RunOutput& actual, const RunOutput& expected,
                      const CpuUnderTest& cpu) {
  if (cpu.row_exact)
    assert_identical(what, actual, expected);
  else
    assert_conforms(what, actual, expected, cpu.dtype);
}

RunOutput reference_of(const Layer& layer, ImplForm form, const Tensor<double>& x,
                       const Tensor<int64_t>& positions, const std::vector<int64_t>& chunks) {
  return run_reference(layer.config, layer.weights, form, x, positions, chunks);
}

}  // namespace

// ---- 1 ----------------------------------------------------------------------------------------

void absorb_equals_naive_reference(const LayerConfig& config, const Case& c) {
  const Inputs in = inputs_of(config, c);
  for (const std::vector<int64_t>& chunks : {context_then_query(c), decode_chunks(c.tokens())}) {
    const RunOutput naive = reference_of(in.layer, ImplForm::naive, in.x, in.positions, chunks);
    const RunOutput absorb = reference_of(in.layer, ImplForm::absorb, in.x, in.positions, chunks);
    assert_conforms("reference absorb vs naive", absorb, naive, DType::fp64);
  }
}

void absorb_equals_naive_cpu(const LayerConfig& config, const Case& c, const CpuUnderTest& cpu) {
  const Inputs in = inputs_of(config, c);
  for (const std::vector<int64_t>& chunks : {context_then_query(c), decode_chunks(c.tokens())}) {
    const RunOutput naive = run_cpu(cpu, in.layer, ImplForm::naive, in.x, in.positions, chunks);
    const RunOutput absorb = run_cpu(cpu, in.layer, ImplForm::absorb, in.x, in.positions, chunks);
    assert_conforms("cpu absorb vs cpu naive", absorb, naive, cpu.dtype);
  }
}

// ---- 2 ----------------------------------------------------------------------------------------

namespace {

// Why 1e-9 (relative to max(1, max |output|), and the same for the LSE): positions reach
// ~2e4 here (offset <= 1e4, <= 20 tokens with gaps < 20, shift <= 1e4), so the fp64 angle
// position * theta^(-2i/d) carries an absolute rounding error up to 2e4 * 2^-53 ~ 2.3e-12 rad,
// and cos/sin of it inherit that error. Each rotated q/k element is then off by ~2.3e-12 |v|; a
// score by ~5e-12 |q| |k| scale, and outputs and LSE move by about the score error times the
// value spread: ~1e-11 for the weights drawn here (measured worst over 5000 random cases:
// 5.7e-13). 1e-9 leaves two orders of margin over the estimate, while any real positional bug
// (angles from absolute instead of relative positions) moves outputs by >= 1e-3.
constexpr double kShiftBound = 1e-9;

Tensor<int64_t> shifted(Tensor<int64_t> positions, int64_t shift) {
  for (int64_t& p : positions.data) p += shift;
  return positions;
}

}  // namespace

void rope_shift_invariance_reference(const LayerConfig& config, const Case& c, int64_t shift) {
  const Inputs in = inputs_of(config, c);
  const std::vector<int64_t> chunks = context_then_query(c);
  for (ImplForm form : impl_forms_for(config)) {
    const RunOutput base = reference_of(in.layer, form, in.x, in.positions, chunks);
    const RunOutput moved =
        reference_of(in.layer, form, in.x, shifted(in.positions, shift), chunks);
    assert_close("reference, every position shifted", moved, base, kShiftBound);
  }
}

void rope_shift_invariance_cpu(const LayerConfig& config, const Case& c, int64_t shift,
                               const CpuUnderTest& cpu) {
  const Inputs in = inputs_of(config, c);
  const std::vector<int64_t> chunks = context_then_query(c);
  for (ImplForm form : impl_forms_for(config)) {
    const RunOutput base = run_cpu(cpu, in.layer, form, in.x, in.positions, chunks);
    const RunOutput moved =
        run_cpu(cpu, in.layer, form, in.x, shifted(in.positions, shift), chunks);
    assert_conforms("cpu, every position shifted", moved, base, cpu.dtype);
  }
}

void rope_layout_swap(const LayerConfig& config, const Case& c, const CpuUnderTest& cpu) {
  const Inputs in = inputs_of(config, c);
  const Layer swapped = swap_rope_layout(in.layer);
  const std::vector<int64_t> chunks = context_then_query(c);
  const RunOutput truth = reference_of(in.layer, defining_form(config), in.x, in.positions, chunks);
  for (ImplForm form : impl_forms_for(config)) {
    assert_conforms("reference, other layout",
                    reference_of(swapped, form, in.x, in.positions, chunks), truth, DType::fp64);
    assert_conforms("cpu, other layout", run_cpu(cpu, swapped, form, in.x, in.positions, chunks),
                    truth, cpu.dtype);
  }
}

void rope_rotation_laws(const std::vector<double>& v, int64_t p, int64_t q, RopeLayout layout,
                        double theta) {
  const int64_t dim = static_cast<int64_t>(v.size());
  auto rotated = [&](std::vector<double> u, int64_t position) {
    reference::apply_rope(u.data(), RopeSpec{layout, theta, dim, {}}, position);
    return u;
  };
  auto norm = [](const std::vector<double>& u) {
    double s = 0;
    for (double e : u) s += e * e;
    return std::sqrt(s);
  };
  // Position 0: cos 0 = 1 and sin 0 = 0 exactly, so the identity holds bit for bit.
  RC_ASSERT(rotated(v, 0) == v);
  // A rotation changes the norm only by rounding: a few ulps per pair.
  const double n = norm(v);
  RC_ASSERT(std::abs(norm(rotated(v, p)) - n) <= 1e-14 * std::max(1.0, n));
  // R(q) R(p) = R(p + q), up to the angle rounding of positions <= 2e6 (2e6 * 2^-53 ~ 2e-10 rad).
  const std::vector<double> twice = rotated(rotated(v, p), q), once = rotated(v, p + q);
  for (int64_t i = 0; i < dim; ++i)
    RC_ASSERT(std::abs(twice[i] - once[i]) <= 1e-8 * std::max(1.0, n));
}

// ---- 3 ----------------------------------------------------------------------------------------

namespace {

LayerConfig relabelled(LayerConfig config, AttentionKind kind, int64_t n_kv) {
  config.attention = kind;
  config.n_kv_heads = n_kv;
  validate_layer_config(config, "relabelled config");
  return config;
}

// The same weights run as `a` and as `b`: the attention kind is only a label over n_kv_heads, so
// the reference and the CPU backend must do identical arithmetic.
void same_layer_identical(const LayerConfig& a, const LayerConfig& b, const Case& c,
                          const CpuUnderTest& cpu) {
  const Inputs in = inputs_of(a, c);
  const Layer other{b, in.layer.weights};
  const std::vector<int64_t> chunks = context_then_query(c);
  assert_identical("reference, relabelled",
                   reference_of(other, ImplForm::standard, in.x, in.positions, chunks),
                   reference_of(in.layer, ImplForm::standard, in.x, in.positions, chunks));
  assert_same_rows("cpu, relabelled",
                   run_cpu(cpu, other, ImplForm::standard, in.x, in.positions, chunks),
                   run_cpu(cpu, in.layer, ImplForm::standard, in.x, in.positions, chunks), cpu);
}

}  // namespace

void gqa_special_cases(const LayerConfig& config, const Case& c, const CpuUnderTest& cpu) {
  same_layer_identical(relabelled(config, AttentionKind::gqa, config.n_heads),
                       relabelled(config, AttentionKind::mha, config.n_heads), c, cpu);
  same_layer_identical(relabelled(config, AttentionKind::gqa, 1),
                       relabelled(config, AttentionKind::mqa, 1), c, cpu);
  const Inputs in = inputs_of(config, c);
  const Layer mha = gqa_as_mha(in.layer);
  const std::vector<int64_t> chunks = context_then_query(c);
  const RunOutput truth = reference_of(in.layer, ImplForm::standard, in.x, in.positions, chunks);
  assert_conforms("reference, gqa_as_mha",
                  reference_of(mha, ImplForm::standard, in.x, in.positions, chunks), truth,
                  DType::fp64);
  assert_conforms("cpu, gqa_as_mha",
                  run_cpu(cpu, mha, ImplForm::standard, in.x, in.positions, chunks), truth,
                  cpu.dtype);
}

// ---- 4 ----------------------------------------------------------------------------------------

void chunked_equals_prefill(const LayerConfig& config, const Case& c,
                            const std::vector<int64_t>& chunks, const CpuUnderTest& cpu) {
  const Inputs in = inputs_of(config, c);
  const std::vector<int64_t> whole = one_chunk(c.tokens());
  for (ImplForm form : impl_forms_for(config)) {
    const RunOutput ref_prefill = reference_of(in.layer, form, in.x, in.positions, whole);
    const RunOutput cpu_prefill = run_cpu(cpu, in.layer, form, in.x, in.positions, whole);
    const RunOutput cpu_chunked = run_cpu(cpu, in.layer, form, in.x, in.positions, chunks);
    assert_conforms("reference chunked vs prefill",
                    reference_of(in.layer, form, in.x, in.positions, chunks), ref_prefill,
                    DType::fp64);
    assert_conforms("cpu chunked vs cpu prefill", cpu_chunked, cpu_prefill, cpu.dtype);
    assert_conforms("cpu chunked vs reference prefill", cpu_chunked, ref_prefill, cpu.dtype);
  }
}

void decode_equals_prefill(const LayerConfig& config, const Case& c, const CpuUnderTest& cpu) {
  chunked_equals_prefill(config, c, decode_chunks(c.tokens()), cpu);
  if (c.context > 0) chunked_equals_prefill(config, c, context_then_query(c), cpu);
}

// ---- 5 ----------------------------------------------------------------------------------------

void causality(const LayerConfig& config, const Case& c, int64_t j, int64_t b,
               const CpuUnderTest& cpu) {
  const Inputs in = inputs_of(config, c);
  Tensor<double> changed = in.x;
  const Tensor<double> noise = random_activations(1, 1, config.hidden_size, c.input_seed + 99);
  const int64_t hidden = config.hidden_size;
  for (int64_t i = 0; i < hidden; ++i)
    changed.data[(b * c.tokens() + j) * hidden + i] = 3.0 * noise.data[i];
  const std::vector<int64_t> whole = one_chunk(c.tokens());
  for (ImplForm form : impl_forms_for(config)) {
    // The reference computes every token with its own loops: bit-identical before j.
    assert_identical("reference, outputs before the changed token",
                     first_tokens(reference_of(in.layer, form, changed, in.positions, whole), j),
                     first_tokens(reference_of(in.layer, form, in.x, in.positions, whole), j));
    // A row-exact CPU implementation runs the same shapes both times, so Eigen picks the same
    // kernels and blocking and every row's reduction order is the same; rows before j read only
    // tokens before j. Hence bit-identical too. (Comparing against a run over a different number
    // of rows needs the tolerance instead: see batch_independence.)
    assert_same_rows("cpu, outputs before the changed token",
                     first_tokens(run_cpu(cpu, in.layer, form, changed, in.positions, whole), j),
                     first_tokens(run_cpu(cpu, in.layer, form, in.x, in.positions, whole), j), cpu);
  }
}

// ---- 6 ----------------------------------------------------------------------------------------

void batch_independence(const LayerConfig& config, const Case& c, const CpuUnderTest& cpu) {
  const Inputs in = inputs_of(config, c);
  const std::vector<int64_t> chunks = context_then_query(c);
  // Neighbours replaced: same shapes, so bit-identical rows for the kept sequence on a row-exact
  // CPU implementation (see causality).
  Tensor<double> other =
      random_activations(c.batch, c.tokens(), config.hidden_size, c.input_seed + 7);
  const int64_t kept = c.batch - 1, per_sequence = c.tokens() * config.hidden_size;
  std::copy_n(in.x.data.begin() + kept * per_sequence, per_sequence,
              other.data.begin() + kept * per_sequence);
  for (ImplForm form : impl_forms_for(config)) {
    const RunOutput ref_batch = reference_of(in.layer, form, in.x, in.positions, chunks);
    const RunOutput cpu_batch = run_cpu(cpu, in.layer, form, in.x, in.positions, chunks);
    const RunOutput cpu_other = run_cpu(cpu, in.layer, form, other, in.positions, chunks);
    RunOutput kept_batch{one_sequence(cpu_batch.out, kept), one_sequence(cpu_batch.lse, kept), 0};
    RunOutput kept_other{one_sequence(cpu_other.out, kept), one_sequence(cpu_other.lse, kept), 0};
    assert_same_rows("cpu, neighbours replaced", kept_other, kept_batch, cpu);
    // Each sequence alone (batch 1): the reference is exact; the CPU multiplies fewer rows, and
    // Eigen may then block the GEMMs differently, so it gets its dtype's tolerance.
    for (int64_t b = 0; b < c.batch; ++b) {
      const Tensor<double> xb = one_sequence(in.x, b);
      const Tensor<int64_t> pb = one_sequence(in.positions, b);
      const RunOutput ref_alone = reference_of(in.layer, form, xb, pb, chunks);
      assert_identical("reference, sequence alone", ref_alone,
                       {one_sequence(ref_batch.out, b), one_sequence(ref_batch.lse, b), 0});
      assert_conforms("cpu, sequence alone", run_cpu(cpu, in.layer, form, xb, pb, chunks),
                      {one_sequence(cpu_batch.out, b), one_sequence(cpu_batch.lse, b), 0},
                      cpu.dtype);
    }
  }
}

// ---- 7, 8 -------------------------------------------------------------------------------------

void mla_as_mha_equivalence(const LayerConfig& config, const Case& c, const CpuUnderTest& cpu) {
  const Inputs in = inputs_of(config, c);
  const Layer mha = mla_as_mha(in.layer);
  const std::vector<int64_t> chunks = context_then_query(c);
  const RunOutput truth = reference_of(in.layer, ImplForm::naive, in.x, in.positions, chunks);
  assert_conforms("reference, mla_as_mha",
                  reference_of(mha, ImplForm::standard, in.x, in.positions, chunks), truth,
                  DType::fp64);
  assert_conforms("cpu, mla_as_mha",
                  run_cpu(cpu, mha, ImplForm::standard, in.x, in.positions, chunks), truth,
                  cpu.dtype);
}

void gqa_as_mla_equivalence(const LayerConfig& config, const Case& c, const CpuUnderTest& cpu) {
  const Inputs in = inputs_of(config, c);
  const Layer mla = gqa_as_mla(in.layer);
  const std::vector<int64_t> chunks = context_then_query(c);
  const RunOutput truth = reference_of(in.layer, ImplForm::standard, in.x, in.positions, chunks);
  for (ImplForm form : {ImplForm::naive, ImplForm::absorb}) {
    assert_conforms("reference, gqa_as_mla", reference_of(mla, form, in.x, in.positions, chunks),
                    truth, DType::fp64);
    assert_conforms("cpu, gqa_as_mla", run_cpu(cpu, mla, form, in.x, in.positions, chunks), truth,
                    cpu.dtype);
  }
}

// ---- 9 ----------------------------------------------------------------------------------------

std::vector<int64_t> valid_world_sizes(const LayerConfig& config) {
  std::vector<int64_t> sizes;
  for (int64_t w = 1; w <= 4; ++w) {
    if (config.n_heads % w != 0) continue;
    if (!config.has_latent() && config.n_kv_heads != 1 && config.n_kv_heads % w != 0) continue;
    if (config.is_gla() && config.n_latent_heads % w != 0) continue;
    sizes.push_back(w);
  }
  return sizes;
}

namespace {

// Sum of the ranks' outputs; the ranks' LSEs side by side (rank r holds heads r * H/world ..).
RunOutput combine_ranks(const std::vector<RunOutput>& ranks) {
  const int64_t batch = ranks[0].out.dim(0), tokens = ranks[0].out.dim(1);
  const int64_t local = ranks[0].lse.dim(2), heads = local * static_cast<int64_t>(ranks.size());
  RunOutput total{Tensor<double>(ranks[0].out.shape), Tensor<double>({batch, tokens, heads}), 0};
  for (size_t r = 0; r < ranks.size(); ++r) {
    for (int64_t i = 0; i < total.out.numel(); ++i) total.out.data[i] += ranks[r].out.data[i];
    for (int64_t row = 0; row < batch * tokens; ++row)
      for (int64_t h = 0; h < local; ++h)
        total.lse.data[row * heads + r * local + h] = ranks[r].lse.data[row * local + h];
  }
  return total;
}

}  // namespace

void sharded_sum(const LayerConfig& config, const Case& c, int64_t world_size,
                 const CpuUnderTest& cpu) {
  const Inputs in = inputs_of(config, c);
  const std::vector<Layer> shards = shard_heads(in.layer, world_size);
  const std::vector<int64_t> chunks = context_then_query(c);
  const RunOutput truth = reference_of(in.layer, defining_form(config), in.x, in.positions, chunks);
  for (ImplForm form : impl_forms_for(config)) {
    std::vector<RunOutput> ref_ranks, cpu_ranks;
    for (const Layer& shard : shards) {
      ref_ranks.push_back(reference_of(shard, form, in.x, in.positions, chunks));
      cpu_ranks.push_back(run_cpu(cpu, shard, form, in.x, in.positions, chunks));
    }
    assert_conforms("reference, sum over ranks", combine_ranks(ref_ranks), truth, DType::fp64);
    assert_conforms("cpu, sum over ranks", combine_ranks(cpu_ranks), truth, cpu.dtype);
  }
}

// ---- 10 ---------------------------------------------------------------------------------------

void conformance(const std::vector<Implementation>& impls, const LayerConfig& config,
                 const Case& c) {
  const Inputs in = inputs_of(config, c);
  const RunOutput truth =
      reference_of(in.layer, defining_form(config), in.x, in.positions, one_chunk(c.tokens()));
  for (const Implementation& impl : impls) {
    if (!impl.supports(config)) continue;
    for (Phase phase : {Phase::prefill, Phase::decode}) {
      const std::string what = impl.id() + " " + to_string(phase);
      assert_conforms(what.c_str(), impl.run(config, in.layer.weights, in.x, in.positions, phase),
                      truth, impl.dtype);
    }
  }
}

}  // namespace attnlab::props
