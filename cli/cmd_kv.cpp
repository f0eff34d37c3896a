// `attnlab kv`: KV-cache size of each model preset and implementation form — per token per
// layer, per token for the whole model, and at a given context and batch, in elements and bytes,
// with the reduction against an MHA of the same heads (DeepSeek-V2 paper, Table 1 formulas).
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/text_table.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/presets.h"
#include "variants/kv_tensor_parallel.h"
#include "variants/variant_spec.h"

namespace attnlab::cli {

namespace {

struct KvOptions {
  std::vector<std::string> models;
  int64_t context = 32768;
  int64_t batch = 1;
  std::string dtype = "bf16";
  bool json = false;
  int64_t tp = 1;
  bool tp_given = false;  // per-rank columns and fields only when --tp is given
};

// The element types `kv` sizes a cache in: the backends' cache types and fp8 (what a deployed
// model may store; no attnlab backend does).
std::vector<DType> kv_dtypes() {
  std::vector<DType> dtypes = cache_dtypes();
  dtypes.push_back(DType::fp8);
  return dtypes;
}

// "-" without a window, else the window and how many layers slide ("4,096 x 32/32").
std::string window_text(const LayerConfig& config, const KvFigures& f) {
  if (f.sliding_layers == 0) return "-";
  return with_thousands(*config.sliding_window) + " x " + std::to_string(f.sliding_layers) + "/" +
         std::to_string(config.n_layers);
}

// The per-rank figures at --tp: into the JSON record and the table row. A model named with
// --model that --tp cannot split is an error; listing every preset, its row says "-" and why
// (`unsplit`).
void add_per_rank(const LayerConfig& config, ImplForm form, const KvFigures& f, const KvOptions& o,
                  nlohmann::ordered_json& record, std::vector<std::string>& row,
                  std::vector<std::string>& unsplit) {
  record["tp"] = o.tp;
  KvPerRank r;
  try {
    r = kv_per_rank(config, form, o.tp, "--tp");
  } catch (const Error& e) {
    if (!o.models.empty()) throw;
    record["tp_error"] = e.what();
    for (int i = 0; i < 4; ++i) row.push_back("-");
    const std::string line = std::string("- ") + e.what();
    if (unsplit.empty() || unsplit.back() != line) unsplit.push_back(line);
    return;
  }
  const double share = r.fraction();
  record["elements_per_token_layer_per_rank"] = r.elements_per_token_layer;
  record["bytes_per_token_layer_per_rank"] = f.bytes_per_token_layer * share;
  record["bytes_per_token_per_rank"] = f.bytes_per_token * share;
  record["bytes_at_context_per_rank"] = f.bytes_at_context * share;
  record["heads_per_rank"] = r.heads_per_rank;
  record["tp_split"] = r.split;
  record["tp_note"] = r.note;
  row.push_back(with_thousands(r.elements_per_token_layer));
  row.push_back(with_thousands(static_cast<long long>(f.bytes_per_token * share)));
  row.push_back(human_bytes(f.bytes_at_context * share));
  row.push_back(r.split + ": " + r.note);
}

int run_kv(const KvOptions& o) {
  const DType dtype = parse_dtype(o.dtype, kv_dtypes(), "--dtype");
  const double element_bytes = double(bytes_per_element(dtype));
  const std::vector<std::string> models = o.models.empty() ? preset_names("models") : o.models;
  if (o.tp < 1) throw Error("--tp must be at least 1, got " + std::to_string(o.tp));
  std::vector<std::string> unsplit;  // presets --tp cannot split (listing every preset)
  nlohmann::ordered_json records = nlohmann::ordered_json::array();
  const std::string at = "at " + with_thousands(o.context) + " x " + std::to_string(o.batch);
  std::vector<std::string> header = {
      "model",       "attn",   "impl", "elem/tok/layer", "bytes/tok/layer", "elem/token",
      "bytes/token", "window", at,     "vs MHA"};
  if (o.tp_given)
    for (const char* column : {"elem/tok/layer/rank", "bytes/token/rank", "/rank", "TP split"})
      header.push_back(std::string(column) == "/rank" ? at + "/rank" : column);
  TextTable table(header);
  for (const std::string& name : models) {
    const LayerConfig config = resolve_model(name);
    for (ImplForm form : impl_forms_for(config)) {
      const KvFigures f = kv_figures(config, form, o.context, o.batch, element_bytes);
      records.push_back({{"model", config.name},
                         {"attention", to_string(config.attention)},
                         {"impl", to_string(form)},
                         {"n_layers", config.n_layers},
                         {"dtype", to_string(dtype)},
                         {"elements_per_token_layer", f.elements_per_token_layer},
                         {"bytes_per_token_layer", f.bytes_per_token_layer},
                         {"elements_per_token", f.elements_per_token},
                         {"bytes_per_token", f.bytes_per_token},
                         {"context", o.context},
                         {"batch", o.batch},
                         {"sliding_window", config.sliding_window.value_or(0)},
                         {"sliding_layers", f.sliding_layers},
                         {"bytes_at_context", f.bytes_at_context},
                         {"bytes_at_context_without_window", f.bytes_at_context_without_window},
                         {"mha_elements_per_token_layer", f.mha_elements_per_token_layer},
                         {"fraction_of_mha", f.fraction_of_mha}});
      std::vector<std::string> row = {
          config.name,
          to_string(config.attention),
          to_string(form),
          with_thousands(f.elements_per_token_layer),
          with_thousands(static_cast<long long>(f.bytes_per_token_layer)),
          with_thousands(f.elements_per_token),
          with_thousands(static_cast<long long>(f.bytes_per_token)),
          window_text(config, f),
          human_bytes(f.bytes_at_context),
          format_number("%.2f%%", 100.0 * f.fraction_of_mha)};
      if (o.tp_given) add_per_rank(config, form, f, o, records.back(), row, unsplit);
      table.add_row(row);
    }
  }
  if (o.json) {
    std::cout << records.dump(2) << "\n";
    return 0;
  }
  if (o.tp_given)
    std::cout << "Per rank at TP " << o.tp
              << ": query heads split over the ranks; what is cached per KV (tied, latent) head "
                 "splits with them, what all heads share is on every rank\n";
  std::cout
      << "KV cache, " << to_string(dtype) << " (" << element_bytes
      << " B/element); 'vs MHA' = elements per token per layer / 2*n_heads*d_h; 'window' = "
         "sliding window x sliding layers / layers, which keep min(context, window) tokens\n\n";
  table.print(std::cout);
  for (const std::string& line : unsplit) std::cout << line << "\n";
  return 0;
}

}  // namespace

Command add_kv_command(CLI::App& root) {
  auto* app = root.add_subcommand("kv", "KV-cache size per token, per layer and at a context");
  auto o = std::make_shared<KvOptions>();
  app->add_option("--model", o->models,
                  "Preset names or layer-config files (repeatable; default: every model preset)");
  app->add_option("--context", o->context, "Context length in tokens")
      ->check(CLI::Range(1, 1 << 30));
  app->add_option("--batch", o->batch, "Sequences")->check(CLI::Range(1, 1 << 20));
  app->add_option("--dtype", o->dtype, "Cache element type: fp32, bf16, fp16, fp8");
  app->add_flag("--json", o->json, "Print JSON records instead of a table");
  auto* tp = app->add_option("--tp", o->tp,
                             "Tensor-parallel degree: add the KV cache each of N ranks holds");
  return {app, [o, tp]() {
            o->tp_given = tp->count() > 0;
            return run_kv(*o);
          }};
}

}  // namespace attnlab::cli
