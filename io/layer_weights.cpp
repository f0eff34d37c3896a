// Loading/saving one attention layer by Hugging Face tensor names under a prefix; every check
// names the file and the full tensor name. See layer_weights.h.
#include "io/layer_weights.h"

#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"
#include "variants/variant_spec.h"

namespace attnlab {

namespace {

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Hugging Face Llama-family checkpoints (older transformers versions) store the RoPE inverse
// frequencies as a buffer under the attention module; attnlab computes them from the config.
bool is_ignored_buffer(const std::string& local_name) {
  return ends_with(local_name, "rotary_emb.inv_freq");
}

std::string attention_label(const LayerConfig& config) {
  return std::string("attention '") + to_string(config.attention) + "'";
}

// A hint for a tensor under the prefix that the config does not expect.
std::string unexpected_hint(const LayerConfig& config, const std::string& local_name) {
  const std::vector<std::string> projections = projection_names(config);
  for (const std::string& p : projections) {
    if (local_name == p + ".bias")
      return "config has no bias on " + p + "? add \"" + p + "\" to \"biases\"";
  }
  std::string list;
  for (const std::string& p : projections) list += (list.empty() ? "" : ", ") + p;
  return "not a tensor of " + attention_label(config) + " (" + list +
         "); wrong attention kind, q_lora_rank, or prefix?";
}

}  // namespace

Weights load_layer_weights(const LayerConfig& config, const std::string& path,
                           const std::string& prefix) {
  const SafetensorsFile file = SafetensorsFile::read(
      path, [&](const std::string& name) { return starts_with(name, prefix); });
  const std::vector<WeightSpec> specs = weight_specs(config);

  Weights weights;
  std::set<std::string> expected;
  for (const WeightSpec& spec : specs) {
    const std::string full = prefix + spec.name;
    expected.insert(full);
    if (!file.has(full)) {
      std::string hint;
      if (!prefix.empty() && prefix.back() != '.' && file.has(prefix + "." + spec.name))
        hint = "; did you mean prefix '" + prefix + ".'?";
      throw Error(path + ": missing tensor '" + full + "' (needed by " + attention_label(config) +
                  hint + ")");
    }
    const StoredTensor& stored = file.get(full);
    if (!is_float(stored.dtype))
      throw Error(path + ": tensor '" + full + "' has dtype " + dtype_name(stored.dtype) +
                  ", expected a float dtype (F64, F32, BF16, F16)");
    if (stored.shape != spec.shape)
      throw Error(path + ": tensor '" + full + "' has shape " + shape_to_string(stored.shape) +
                  ", expected " + shape_to_string(spec.shape) + " for " + attention_label(config));
    Tensor<double> t = file.to_double(full);
    for (int64_t i = 0; i < t.numel(); ++i) {
      if (!std::isfinite(t.data[i]))
        throw Error(path + ": tensor '" + full + "' holds a non-finite value (" +
                    (std::isnan(t.data[i]) ? "nan"
                     : t.data[i] > 0       ? "inf"
                                           : "-inf") +
                    ") at flat index " + std::to_string(i));
    }
    weights.tensors.emplace(spec.name, std::move(t));
  }

  for (const std::string& name : file.names()) {  // all under the prefix (see the filter)
    if (expected.count(name)) continue;
    const std::string local = name.substr(prefix.size());
    if (is_ignored_buffer(local)) continue;
    throw Error(path + ": unexpected tensor '" + name + "' under prefix '" + prefix + "' (" +
                unexpected_hint(config, local) + ")");
  }
  return weights;
}

void save_layer_weights(const LayerConfig& config, const Weights& weights, const std::string& path,
                        const std::string& prefix, DType dtype) {
  if (!is_float(dtype))
    throw Error(path + ": weights must be stored in a float dtype, not " +
                std::string(dtype_name(dtype)));
  const std::vector<WeightSpec> specs = weight_specs(config);
  std::set<std::string> expected;
  SafetensorsWriter writer;
  for (const WeightSpec& spec : specs) {
    expected.insert(spec.name);
    if (!weights.has(spec.name))
      throw Error(path + ": cannot save: weights lack tensor '" + spec.name + "' (needed by " +
                  attention_label(config) + ")");
    const Tensor<double>& t = weights.get(spec.name);
    if (t.shape != spec.shape)
      throw Error(path + ": cannot save: tensor '" + spec.name + "' has shape " +
                  shape_to_string(t.shape) + ", expected " + shape_to_string(spec.shape));
    // A value the dtype cannot hold would come back as inf and be refused by the loader.
    for (int64_t i = 0; i < t.numel(); ++i) {
      const double v = t.data[i];
      bool representable = std::isfinite(v);
      if (representable && dtype == DType::fp32)
        representable = std::isfinite(static_cast<float>(v));
      if (representable && dtype == DType::bf16)
        representable = std::isfinite(bf16_to_float(float_to_bf16(static_cast<float>(v))));
      if (representable && dtype == DType::fp16)
        representable = std::isfinite(fp16_to_float(float_to_fp16(static_cast<float>(v))));
      if (!representable)
        throw Error(path + ": cannot save: tensor '" + spec.name + "' value " + std::to_string(v) +
                    " at flat index " + std::to_string(i) + " is not finite in " +
                    dtype_name(dtype));
    }
    writer.add(prefix + spec.name, t, dtype);
  }
  for (const auto& [name, t] : weights.tensors)
    if (!expected.count(name))
      throw Error(path + ": cannot save: tensor '" + name + "' is not a weight of " +
                  attention_label(config));
  // "format": "pt" lets Hugging Face loaders accept the file; the config records the shapes.
  writer.set_metadata("format", "pt");
  writer.set_metadata("attnlab.layer_config", layer_config_to_json(config).dump());
  writer.set_metadata("attnlab.prefix", prefix);
  writer.write(path);
}

}  // namespace attnlab
