// The GTA/GLA property bodies and the backends they run on; see gta_gla_properties.h. Every
// comparison is verify's judge() at the backend's dtype tolerance (the reference's: fp64).
#include "props/gta_gla_properties.h"

#include <algorithm>
#include <stdexcept>

namespace attnlab::props {

std::vector<std::string> gta_gla_backends() {
  return {"reference", "cpu-plain", "cpu", "cuda"};
}

namespace {

bool listed(const std::string& backend) {
  const std::vector<std::string> backends = gta_gla_backends();
  return std::find(backends.begin(), backends.end(), backend) != backends.end();
}

// Runs `layer` through the registry's entry (backend, form, dtype) with the given chunks.
RunOutput run_entry(const std::string& backend, DType dtype, const Layer& layer, ImplForm form,
                    const Tensor<double>& x, const Tensor<int64_t>& positions,
                    const std::vector<int64_t>& chunks) {
  const Implementation& impl = find_implementation(backend, form, dtype);
  if (impl.make_attention)
    return run_through(*impl.make_attention(layer.config, layer.weights), layer.config, x,
                       positions, chunks);
  if (backend == "reference")
    return run_reference_through(layer.config, layer.weights, form, x, positions, chunks);
  // An entry without an Attention (none among the built-ins but the reference) runs even chunks.
  if (chunks != even_chunks(x.dim(1), chunks.front()))
    throw std::logic_error("gta_gla_properties: " + impl.id() + " runs even chunks only");
  return impl.run_chunks(layer.config, layer.weights, x, positions, chunks.front());
}

struct Inputs {
  Layer layer;
  Tensor<double> x;
  Tensor<int64_t> positions;
};

Inputs inputs_of(const LayerConfig& config, const Case& c) {
  return {make_layer(config, c), case_inputs(c, config), case_positions(c)};
}

std::string labelled(const GtaGlaBackend& backend, const std::string& what, ImplForm form) {
  return backend.name + " " + to_string(form) + ": " + what;
}

// Sum of the ranks' outputs; the ranks' LSEs side by side (rank r holds heads r * H/world ..).
RunOutput combine(const std::vector<RunOutput>& ranks) {
  const int64_t batch = ranks[0].out.dim(0), tokens = ranks[0].out.dim(1);
  const int64_t local = ranks[0].lse.dim(2), heads = local * static_cast<int64_t>(ranks.size());
  RunOutput total{Tensor<double>(ranks[0].out.shape), Tensor<double>({batch, tokens, heads}), 0};
  for (size_t r = 0; r < ranks.size(); ++r) {
    for (int64_t i = 0; i < total.out.numel(); ++i) total.out.data[i] += ranks[r].out.data[i];
    for (int64_t row = 0; row < batch * tokens; ++row)
      for (int64_t h = 0; h < local; ++h)
        total.lse.data[row * heads + static_cast<int64_t>(r) * local + h] =
            ranks[r].lse.data[row * local + h];
  }
  return total;
}

}  // namespace

std::vector<GtaGlaBackend> gta_gla_backends_under_test() {
  std::vector<GtaGlaBackend> backends;
  for (const Implementation& impl : implementations()) {
    if (!listed(impl.backend)) continue;
    const std::string name = impl.backend + "/" + to_string(impl.dtype);
    bool known = false;
    for (const GtaGlaBackend& b : backends) known = known || b.name == name;
    if (known) continue;
    GtaGlaBackend b;
    b.name = name;
    b.dtype = impl.dtype;
    b.supports = [backend = impl.backend, dtype = impl.dtype](const LayerConfig& config,
                                                              ImplForm form) {
      for (const Implementation& i : implementations())
        if (i.backend == backend && i.form == form && i.dtype == dtype) return i.supports(config);
      return false;
    };
    b.run = [backend = impl.backend, dtype = impl.dtype](
                const Layer& layer, ImplForm form, const Tensor<double>& x,
                const Tensor<int64_t>& positions, const std::vector<int64_t>& chunks) {
      return run_entry(backend, dtype, layer, form, x, positions, chunks);
    };
    backends.push_back(std::move(b));
  }
  return backends;
}

bool check_for_each_gta_gla_backend(const std::string& description, int cases,
                                    const std::function<void(const GtaGlaBackend&)>& property) {
  bool all_hold = true;
  for (const GtaGlaBackend& backend : gta_gla_backends_under_test())
    all_hold = check_property(description + " [" + backend.name + "]", cases,
                              [&property, &backend] { property(backend); }) &&
               all_hold;
  return all_hold;
}

// ---- (a) --------------------------------------------------------------------------------------

void gla_equals_mla(const LayerConfig& config, const Case& c, const GtaGlaBackend& backend,
                    const Conversion& convert) {
  const Inputs in = inputs_of(config, c);
  const Layer gla = convert(in.layer);
  RC_ASSERT(gla.config.is_gla());
  const std::vector<int64_t> chunks = context_then_query(c);
  for (ImplForm form : {ImplForm::naive, ImplForm::absorb}) {
    if (!backend.supports(config, form) || !backend.supports(gla.config, form)) continue;
    assert_conforms(labelled(backend, "gla_from_mla(layer) vs the mla layer", form).c_str(),
                    backend.run(gla, form, in.x, in.positions, chunks),
                    backend.run(in.layer, form, in.x, in.positions, chunks), backend.dtype);
  }
}

// ---- (b) --------------------------------------------------------------------------------------

void gla_absorb_equals_naive(const LayerConfig& config, const Case& c,
                             const GtaGlaBackend& backend) {
  if (!backend.supports(config, ImplForm::naive) || !backend.supports(config, ImplForm::absorb))
    return;
  const Inputs in = inputs_of(config, c);
  for (const std::vector<int64_t>& chunks : {context_then_query(c), decode_chunks(c.tokens())}) {
    const RunOutput naive = backend.run(in.layer, ImplForm::naive, in.x, in.positions, chunks);
    const RunOutput absorb = backend.run(in.layer, ImplForm::absorb, in.x, in.positions, chunks);
    assert_conforms((backend.name + ": gla absorb vs naive").c_str(), absorb, naive, backend.dtype);
  }
}

// ---- (c) --------------------------------------------------------------------------------------

void gta_equals_gqa(const LayerConfig& config, const Case& c, const GtaGlaBackend& backend,
                    const Conversion& convert) {
  const Inputs in = inputs_of(config, c);
  const Layer gqa = convert(in.layer);
  if (!backend.supports(config, ImplForm::standard) ||
      !backend.supports(gqa.config, ImplForm::standard))
    return;
  for (const std::vector<int64_t>& chunks : {context_then_query(c), decode_chunks(c.tokens())})
    assert_conforms(labelled(backend, "gta vs gta_as_gqa(layer)", ImplForm::standard).c_str(),
                    backend.run(in.layer, ImplForm::standard, in.x, in.positions, chunks),
                    backend.run(gqa, ImplForm::standard, in.x, in.positions, chunks),
                    backend.dtype);
}

// ---- (d) --------------------------------------------------------------------------------------

void gla_sharded_sum(const LayerConfig& config, const Case& c, int64_t world_size,
                     const GtaGlaBackend& backend, const Sharding& shard) {
  const Inputs in = inputs_of(config, c);
  const std::vector<Layer> ranks = shard(in.layer, world_size);
  RC_ASSERT(static_cast<int64_t>(ranks.size()) == world_size);
  const std::vector<int64_t> chunks = context_then_query(c);
  for (ImplForm form : {ImplForm::naive, ImplForm::absorb}) {
    if (!backend.supports(config, form)) continue;
    std::vector<RunOutput> outputs;
    for (const Layer& rank : ranks) {
      RC_ASSERT(backend.supports(rank.config, form));
      outputs.push_back(backend.run(rank, form, in.x, in.positions, chunks));
    }
    assert_conforms(labelled(backend, "sum over ranks vs unsharded", form).c_str(),
                    combine(outputs), backend.run(in.layer, form, in.x, in.positions, chunks),
                    backend.dtype);
  }
}

}  // namespace attnlab::props
