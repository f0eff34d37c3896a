// `attnlab run`: runs one attention layer on real inputs. Reads hidden_states [B, S, hidden]
// (any float dtype) and optional position_ids [B, S] (I64; default 0..S-1) from a safetensors
// file, runs the chosen implementation (--backend, --form, --dtype: what the registry lists) in the
// chosen phase (decode feeds the tokens one at a time through the KV cache), and writes attn_output
// [B, S, hidden] in the input's dtype. Weights come from --weights (Hugging Face names, optional
// --prefix) or are seeded random.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <optional>

#include "cli/commands.h"
#include "core/error.h"
#include "core/presets.h"
#include "io/layer_weights.h"
#include "io/safetensors.h"
#include "registry/registry.h"

namespace attnlab::cli {

namespace {

struct RunOptions {
  std::string model;
  std::string weights_path;
  std::string prefix;
  uint64_t seed = 0;
  std::string input_path;
  std::string out_path;
  std::string backend = "cpu";
  std::string form;   // "" = default form for the config
  std::string dtype;  // "" = the backend's first (fp32; fp64 for the reference)
  std::string phase = "prefill";
  int threads = 0;
  bool write_lse = false;
};

struct Inputs {
  Tensor<double> hidden_states;
  Tensor<int64_t> positions;
  DType dtype;
};

Inputs read_inputs(const std::string& path, const LayerConfig& config) {
  const SafetensorsFile file = SafetensorsFile::read(path);
  for (const std::string& name : file.names())
    if (name != "hidden_states" && name != "position_ids")
      throw Error(path + ": unexpected tensor '" + name +
                  "' (inputs are hidden_states and optional position_ids)");
  if (!file.has("hidden_states")) throw Error(path + ": missing tensor 'hidden_states'");
  Inputs in;
  in.dtype = file.get("hidden_states").dtype;
  if (!is_float(in.dtype))
    throw Error(path + ": hidden_states has dtype " + dtype_name(in.dtype) +
                ", expected a float type");
  in.hidden_states = file.to_double("hidden_states");
  const Shape& shape = in.hidden_states.shape;
  if (shape.size() != 3 || shape[2] != config.hidden_size || shape[0] < 1 || shape[1] < 1)
    throw Error(path + ": hidden_states has shape " + shape_to_string(shape) +
                ", expected [batch >= 1, seq >= 1, " + std::to_string(config.hidden_size) +
                "] for model '" + config.name + "'");
  for (int64_t i = 0; i < in.hidden_states.numel(); ++i)
    if (!std::isfinite(in.hidden_states.data[i]))
      throw Error(path + ": hidden_states holds a non-finite value at flat index " +
                  std::to_string(i));
  if (file.has("position_ids")) {
    if (file.get("position_ids").dtype != DType::i64)
      throw Error(path + ": position_ids must be I64, got " +
                  dtype_name(file.get("position_ids").dtype));
    in.positions = file.to_int64("position_ids");
    if (in.positions.shape != Shape{shape[0], shape[1]})
      throw Error(path + ": position_ids has shape " + shape_to_string(in.positions.shape) +
                  ", expected " + shape_to_string({shape[0], shape[1]}));
    for (int64_t p : in.positions.data)
      if (p < 0 || p > (int64_t{1} << 40))
        throw Error(path + ": position_ids holds " + std::to_string(p) +
                    ", expected 0 <= position < 2^40");
  } else {
    in.positions = sequential_positions(shape[0], shape[1]);
  }
  return in;
}

// The registry entry `run` uses; a dtype the backend does not store is a one-line error
// listing the ones it does.
const Implementation& find_run_implementation(const std::string& backend, ImplForm form,
                                              std::optional<DType> dtype) {
  std::vector<std::string> stored;
  for (const Implementation& impl : implementations()) {
    if (impl.backend != backend || impl.form != form) continue;
    if (!dtype || impl.dtype == *dtype) return impl;
    stored.push_back(to_string(impl.dtype));
  }
  if (stored.empty())
    throw Error("--backend " + backend + " has no " + to_string(form) + " implementation");
  throw Error("--dtype " + std::string(to_string(*dtype)) + ": backend " + backend +
              " stores its cache in " + join_choices(stored));
}

int run_layer(const RunOptions& o) {
  if (o.threads > 0) omp_set_num_threads(o.threads);
  const LayerConfig config = resolve_model(o.model);
  const std::vector<std::string> backends = registered_backends();
  if (std::find(backends.begin(), backends.end(), o.backend) == backends.end())
    throw Error("--backend '" + o.backend + "' is not one of " + join_choices(backends));
  std::optional<DType> dtype;
  if (!o.dtype.empty()) dtype = parse_dtype(o.dtype, registered_dtypes(), "--dtype");
  const ImplForm form = o.form.empty() ? default_form(config) : parse_impl_form(o.form);
  if (!form_supported(config, form))
    throw Error("--form " + std::string(to_string(form)) + " does not apply to attention '" +
                to_string(config.attention) + "' of model '" + config.name + "'");
  const Implementation& impl = find_run_implementation(o.backend, form, dtype);
  const Phase phase = parse_phase(o.phase);
  const Weights weights = o.weights_path.empty()
                              ? random_weights(config, o.seed)
                              : load_layer_weights(config, o.weights_path, o.prefix);
  const Inputs in = read_inputs(o.input_path, config);
  const RunOutput result = impl.run(config, weights, in.hidden_states, in.positions, phase);

  SafetensorsWriter writer;
  writer.add("attn_output", result.out, in.dtype);
  if (o.write_lse) writer.add("lse", result.lse, DType::fp32);
  writer.set_metadata("attnlab.model", config.name);
  writer.set_metadata("attnlab.impl", impl.id());
  writer.set_metadata("attnlab.phase", to_string(phase));
  writer.write(o.out_path);
  std::cerr << "attnlab: wrote attn_output " << shape_to_string(result.out.shape) << " ("
            << dtype_name(in.dtype) << ") to " << o.out_path << " [" << impl.id() << ", "
            << to_string(phase) << "]\n";
  return 0;
}

}  // namespace

Command add_run_command(CLI::App& root) {
  auto* app =
      root.add_subcommand("run", "Run one attention layer on inputs from a safetensors file");
  auto o = std::make_shared<RunOptions>();
  app->add_option("--model", o->model, "Preset name or layer-config JSON file")->required();
  app->add_option("--weights", o->weights_path,
                  "Layer weights (safetensors, Hugging Face names); default: seeded random");
  app->add_option("--prefix", o->prefix,
                  "Name prefix in --weights, e.g. model.layers.3.self_attn.");
  app->add_option("--seed", o->seed, "Seed of the random weights when --weights is not given");
  app->add_option("--input", o->input_path, "hidden_states [B,S,hidden] and optional position_ids")
      ->required();
  app->add_option("--out", o->out_path, "Output file (safetensors, attn_output)")->required();
  app->add_option("--backend", o->backend,
                  "A registered backend: " + join_choices(registered_backends()) +
                      " (cpu: fast kernels; cpu-plain: plain loops; reference: fp64)");
  std::vector<std::string> dtype_names;
  for (DType d : registered_dtypes()) dtype_names.push_back(to_string(d));
  app->add_option("--dtype", o->dtype,
                  "KV-cache element type, one the backend stores: " + join_choices(dtype_names) +
                      " (default: fp32, or fp64 for the reference)");
  app->add_option("--form", o->form,
                  "standard (MHA/GQA/MQA), naive or absorb (MLA); default: "
                  "standard, or absorb for MLA")
      ->check(CLI::IsMember({"standard", "naive", "absorb"}));
  app->add_option("--phase", o->phase, "prefill (all tokens at once) or decode (one at a time)")
      ->check(CLI::IsMember({"prefill", "decode"}));
  app->add_option("--threads", o->threads, "OpenMP threads (default: all cores)")
      ->check(CLI::Range(1, 1024));
  app->add_flag("--lse", o->write_lse, "Also write lse [B,S,n_heads] (F32)");
  return {app, [o]() { return run_layer(*o); }};
}

}  // namespace attnlab::cli
