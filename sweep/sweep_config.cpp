// Parsing, validation and expansion of sweep configs; see sweep_config.h.
#include "sweep/sweep_config.h"

#include <omp.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "core/checked_math.h"
#include "core/embedded_configs.h"
#include "core/error.h"
#include "core/json_fields.h"
#include "core/presets.h"
#include "core/size_limits.h"
#include "registry/plugin_loader.h"
#include "variants/variant_spec.h"

namespace attnlab {

using nlohmann::json;

namespace {

// Limits of the lists. With the layer limits of core/size_limits.h they keep every per-case
// count inside int64: the KV cache of batch x (context + new tokens) tokens in elements and in
// bytes (fp32, the widest cache dtype), and the activations of batch x seq tokens at the widest
// projection side in fp64 bytes.
constexpr int64_t kMaxBatch = 4096;
constexpr int64_t kMaxContext = int64_t{1} << 24;
constexpr int64_t kMaxSeq = int64_t{1} << 20;
constexpr int64_t kMaxThreads = 1024;
static_assert(kMaxBatch * (kMaxContext + kMaxSeq) <=
              kInt64Max / kMaxCacheElementsPerTokenLayer / 4);
static_assert(kMaxBatch * kMaxSeq <= kInt64Max / kMaxHeadWidth / 8);
// Combinations the lists may name (before exclusions): more would take minutes to expand and
// fingerprint before anything runs.
constexpr int64_t kMaxCombinations = 100000;

[[noreturn]] void fail(const std::string& origin, const std::string& message) {
  throw Error(origin + ": " + message);
}

std::vector<std::string> string_list(const json& j, const char* field, const std::string& origin,
                                     const std::set<std::string>& allowed = {}) {
  const json& v = j.at(field);
  if (!v.is_array() || v.empty())
    fail(origin, std::string(field) + " must be a non-empty array of strings");
  std::vector<std::string> out;
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string where = element_path(field, i);
    const std::string s = read_string(v[i], origin, where);
    if (!allowed.empty() && !allowed.count(s)) {
      std::string list;
      for (const std::string& a : allowed) list += (list.empty() ? "" : ", ") + a;
      fail(origin, where + " " + single_quoted(s) + " is not one of " + list);
    }
    out.push_back(s);
  }
  return out;
}

std::vector<int64_t> int_list(const json& j, const char* field, const std::string& origin,
                              int64_t min, int64_t max) {
  const json& v = j.at(field);
  if (!v.is_array() || v.empty())
    fail(origin, std::string(field) + " must be a non-empty array of integers");
  std::vector<int64_t> out;
  for (size_t i = 0; i < v.size(); ++i)
    out.push_back(read_int(v[i], origin, element_path(field, i), min, max));
  return out;
}

struct ModelEntry {
  std::string label;  // what case names and exclusions use
  LayerConfig config;
};

std::vector<ModelEntry> parse_models(const json& j, const std::string& origin) {
  const json& v = j.at("models");
  if (!v.is_array() || v.empty()) fail(origin, "models must be a non-empty array");
  std::vector<ModelEntry> models;
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string where = origin + ": " + element_path("models", i);
    if (v[i].is_string()) {
      try {
        const LayerConfig config = resolve_model(v[i].get<std::string>());
        models.push_back({config.name, config});
      } catch (const Error& e) {
        throw Error(where + ": " + e.what());
      }
    } else if (v[i].is_object()) {
      const LayerConfig config = parse_layer_config(v[i], where);
      models.push_back({config.name, config});
    } else {
      throw Error(where + " must be a preset name, a layer-config path or a layer-config object");
    }
  }
  return models;
}

// An exclusion matches a case when every field it names equals the case's.
bool excluded_by(const json& rule, const SweepCase& c, const std::string& model_label) {
  for (auto it = rule.begin(); it != rule.end(); ++it) {
    const std::string& k = it.key();
    const json& v = *it;
    const bool match =
        (k == "model" && v == model_label) || (k == "impl" && v == to_string(c.form)) ||
        (k == "backend" && v == c.backend) || (k == "dtype" && v == to_string(c.dtype)) ||
        (k == "phase" && v == to_string(c.phase)) || (k == "batch" && v == c.batch) ||
        (k == "context" && c.phase == Phase::decode && v == c.context) ||
        (k == "seq" && c.phase == Phase::prefill && v == c.new_tokens) ||
        (k == "threads" && v == c.threads);
    if (!match) return false;
  }
  return true;
}

bool excluded_by_any(const json& rules, const SweepCase& c, const std::string& model_label) {
  for (const json& rule : rules)
    if (excluded_by(rule, c, model_label)) return true;
  return false;
}

// Exclusion fields have the types and bounds of the lists they filter.
void check_exclusions(const json& j, const std::string& origin) {
  static const std::set<std::string> text_keys = {"model", "impl", "backend", "dtype", "phase"};
  static const std::map<std::string, int64_t> min_of = {
      {"batch", 1}, {"context", 0}, {"seq", 1}, {"threads", 1}};
  static const std::map<std::string, int64_t> max_of = {
      {"batch", kMaxBatch}, {"context", kMaxContext}, {"seq", kMaxSeq}, {"threads", kMaxThreads}};
  if (!j.is_array()) fail(origin, "exclude must be an array of objects");
  for (size_t i = 0; i < j.size(); ++i) {
    const std::string where = element_path("exclude", i);
    if (!j[i].is_object() || j[i].empty()) fail(origin, where + " must be a non-empty object");
    for (auto it = j[i].begin(); it != j[i].end(); ++it) {
      if (text_keys.count(it.key())) {
        read_string(*it, origin, member_path(where, it.key()));
      } else if (min_of.count(it.key())) {
        read_int(*it, origin, member_path(where, it.key()), min_of.at(it.key()),
                 max_of.at(it.key()));
      } else {
        fail(origin, where + ": unknown field " + single_quoted(it.key()));
      }
    }
  }
}

// The lists' product before exclusions: models x impls x backends x dtypes x batch x threads x
// (per phase entry: contexts or seqs).
void check_combinations(const std::string& origin, std::initializer_list<size_t> list_sizes,
                        const std::vector<std::string>& phases, size_t contexts, size_t seqs) {
  int64_t lengths = 0;
  for (const std::string& phase : phases) lengths += int64_t(phase == "decode" ? contexts : seqs);
  std::optional<int64_t> total = lengths;
  for (size_t n : list_sizes)
    if (total) total = checked_mul(*total, int64_t(n));
  if (!total || *total > kMaxCombinations) {
    // (Built with += rather than "literal" + temporary: GCC 12 warns falsely (-Wrestrict).)
    std::string message = "the lists name ";
    message += total ? std::to_string(*total) : std::string("over 2^63");
    message += " combinations (models x impls x backends x dtypes x phases' lengths x batch x ";
    message += "threads); at most " + std::to_string(kMaxCombinations);
    fail(origin, message);
  }
}

std::string fnv1a_hex(const std::string& text) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char ch : text) h = (h ^ ch) * 0x100000001b3ull;
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

}  // namespace

std::string SweepCase::name() const {
  std::string n = std::string(to_string(phase)) + "/" + model + "/" + to_string(form) + "/" +
                  backend + "/" + to_string(dtype) + "/b" + std::to_string(batch) + "/";
  n +=
      phase == Phase::decode ? "ctx" + std::to_string(context) : "seq" + std::to_string(new_tokens);
  return n + "/t" + std::to_string(threads);
}

namespace {

// The per-head query and output in latent space of MLA and GLA (width d_c, counted in either
// form, as before GLA) and of GTA, which the backends run as MLA absorb with latents of
// head_dim (variants/latent_lowering.h).
double latent_activations_per_token(const SweepCase& c) {
  const LayerConfig& m = c.config;
  if (m.has_latent()) return 2.0 * double(m.n_heads) * double(m.kv_lora_rank);
  if (m.is_gta()) return 2.0 * double(m.n_heads) * double(m.head_dim);
  return 0.0;
}

}  // namespace

double modelled_case_memory_bytes(const SweepCase& c) {
  double params = 0;
  for (const WeightSpec& spec : weight_specs(c.config)) params += double(shape_numel(spec.shape));
  const double tokens = double(c.batch) * double(c.context + c.new_tokens + 8);
  const double cache = tokens * double(kv_elements_per_token_layer(c.config, c.form)) *
                       double(bytes_per_element(c.dtype));
  const LayerConfig& m = c.config;
  const double per_token_activations =
      4.0 * double(m.hidden_size) +
      3.0 * double(m.n_heads) * double(m.qk_head_dim() + m.value_head_dim()) +
      latent_activations_per_token(c);
  const double activations = 4.0 * double(c.batch) * double(c.new_tokens) * per_token_activations;
  return 12.0 * params + cache + activations;  // fp64 master + fp32 copy of every weight
}

SweepSpec parse_sweep(const std::string& json_text, const std::string& origin) {
  const json j = parse_json(json_text, origin);
  if (!j.is_object()) fail(origin, "a sweep config must be a JSON object");
  static const std::set<std::string> known = {
      "name",       "description", "models",  "impls",       "backends", "dtypes",
      "phases",     "batch",       "context", "seq",         "threads",  "repetitions",
      "min_time_s", "verify",      "exclude", "calibration", "plugins",  "tp"};
  for (auto it = j.begin(); it != j.end(); ++it)
    if (!known.count(it.key())) fail(origin, "unknown field " + single_quoted(it.key()));
  if (!j.contains("models")) fail(origin, "missing required field 'models'");

  SweepSpec spec;
  spec.name = j.contains("name") ? read_string(j.at("name"), origin, "name")
                                 : std::filesystem::path(origin).stem().string();
  if (j.contains("description"))
    spec.description = read_string(j.at("description"), origin, "description");
  if (j.contains("repetitions"))
    spec.repetitions =
        static_cast<int>(read_int(j.at("repetitions"), origin, "repetitions", 1, 100));
  if (j.contains("min_time_s"))
    spec.min_time_s = read_number(j.at("min_time_s"), origin, "min_time_s", 0.001, 60);
  if (j.contains("verify")) spec.verify = read_bool(j.at("verify"), origin, "verify");
  if (j.contains("tp")) spec.tp = read_int(j.at("tp"), origin, "tp", 1, 1024);

  if (j.contains("calibration")) {
    spec.calibration = read_string(j.at("calibration"), origin, "calibration");
    if (spec.calibration != "full" && spec.calibration != "quick")
      fail(origin, "calibration must be \"full\" or \"quick\"");
  }
  const std::vector<ModelEntry> models = parse_models(j, origin);
  const std::vector<std::string> impls =
      j.contains("impls") ? string_list(j, "impls", origin, {"standard", "naive", "absorb"})
                          : std::vector<std::string>{"standard", "naive", "absorb"};
  // Plugins first: their implementations become backends the lists below may name.
  if (j.contains("plugins")) {
    if (!j["plugins"].is_array()) fail(origin, "plugins must be a list of shared-library paths");
    for (const json& p : j["plugins"]) {
      if (!p.is_string()) fail(origin, "plugins: expected paths, got " + p.dump());
      std::filesystem::path path = p.get<std::string>();
      // Relative paths are relative to the config file (or the working directory for built-ins).
      if (path.is_relative() && std::filesystem::is_regular_file(origin))
        path = std::filesystem::path(origin).parent_path() / path;
      load_plugin(path.string());
    }
  }
  std::set<std::string> backend_names;
  for (const Implementation& impl : implementations())
    if (impl.make_attention || !impl.unavailable_reason().empty())  // unavailable: refused later
      backend_names.insert(impl.backend);
  const std::vector<std::string> backends = j.contains("backends")
                                                ? string_list(j, "backends", origin, backend_names)
                                                : std::vector<std::string>{"cpu"};
  std::set<std::string> cache_dtype_names;
  for (DType dtype : cache_dtypes()) cache_dtype_names.insert(to_string(dtype));
  const std::vector<std::string> dtypes = j.contains("dtypes")
                                              ? string_list(j, "dtypes", origin, cache_dtype_names)
                                              : std::vector<std::string>{"fp32"};
  const std::vector<std::string> phases =
      j.contains("phases") ? string_list(j, "phases", origin, {"decode", "prefill"})
                           : std::vector<std::string>{"decode", "prefill"};
  const std::vector<int64_t> batches =
      j.contains("batch") ? int_list(j, "batch", origin, 1, kMaxBatch) : std::vector<int64_t>{1};
  const std::vector<int64_t> threads = j.contains("threads")
                                           ? int_list(j, "threads", origin, 1, kMaxThreads)
                                           : std::vector<int64_t>{omp_get_num_procs()};
  const bool has_decode = std::count(phases.begin(), phases.end(), "decode") > 0;
  const bool has_prefill = std::count(phases.begin(), phases.end(), "prefill") > 0;
  if (has_decode && !j.contains("context"))
    fail(origin, "phases include decode but 'context' (cached tokens per step) is missing");
  if (has_prefill && !j.contains("seq"))
    fail(origin, "phases include prefill but 'seq' (tokens per sequence) is missing");
  const std::vector<int64_t> contexts =
      has_decode ? int_list(j, "context", origin, 0, kMaxContext) : std::vector<int64_t>{};
  const std::vector<int64_t> seqs =
      has_prefill ? int_list(j, "seq", origin, 1, kMaxSeq) : std::vector<int64_t>{};
  const json exclusions = j.value("exclude", json::array());
  check_exclusions(exclusions, origin);
  check_combinations(
      origin,
      {models.size(), impls.size(), backends.size(), dtypes.size(), batches.size(), threads.size()},
      phases, contexts.size(), seqs.size());

  std::string canonical = spec.calibration + ";" + std::to_string(spec.repetitions) + ";" +
                          std::to_string(spec.min_time_s) + ";" + (spec.verify ? "v" : "-");
  for (const ModelEntry& m : models)
    for (const std::string& impl : impls)
      for (const std::string& backend : backends)
        for (const std::string& dtype : dtypes)
          for (const std::string& phase : phases)
            for (int64_t batch : batches)
              for (int64_t length : phase == "decode" ? contexts : seqs)
                for (int64_t t : threads) {
                  SweepCase c;
                  c.model = m.label;
                  c.config = m.config;
                  c.form = parse_impl_form(impl);
                  c.backend = backend;
                  c.dtype = parse_dtype(dtype, cache_dtypes());
                  c.phase = parse_phase(phase);
                  c.batch = batch;
                  c.context = c.phase == Phase::decode ? length : 0;
                  c.new_tokens = c.phase == Phase::decode ? 1 : length;
                  c.threads = static_cast<int>(t);
                  if (!form_supported(c.config, c.form) || excluded_by_any(exclusions, c, m.label))
                    continue;
                  bool registered = false;
                  for (const Implementation& impl_entry : implementations())
                    registered =
                        registered || (impl_entry.backend == backend && impl_entry.form == c.form &&
                                       impl_entry.dtype == c.dtype);
                  if (!registered) {
                    const std::string combo = backend + "/" + impl + "/" + dtype;
                    if (std::find(spec.unregistered.begin(), spec.unregistered.end(), combo) ==
                        spec.unregistered.end())
                      spec.unregistered.push_back(combo);
                    continue;
                  }
                  c.index = static_cast<int64_t>(spec.cases.size());
                  canonical += "|";  // (+= rather than "|" + temporary: GCC 12's -Wrestrict)
                  canonical += c.name() + "#" + layer_config_to_json(c.config).dump();
                  spec.cases.push_back(std::move(c));
                }
  if (spec.cases.empty())
    fail(origin,
         "the lists and exclusions leave no case (is every backend/impl/dtype registered?)");
  spec.fingerprint = fnv1a_hex(canonical);
  return spec;
}

SweepSpec load_sweep(const std::string& path_or_name) {
  std::error_code ec;  // a name the file system refuses (too long, ...) is no file either
  // A directory is no config either: `attnlab sweep variants` in the source tree means the
  // built-in sweep, not the variants/ directory.
  const bool directory = std::filesystem::is_directory(path_or_name, ec);
  if (!std::filesystem::exists(path_or_name, ec) ||
      (directory && find_embedded_config("sweeps", path_or_name))) {
    if (const EmbeddedConfig* c = find_embedded_config("sweeps", path_or_name))
      return parse_sweep(c->json, "sweep '" + path_or_name + "'");
    std::string known;
    for (const std::string& n : embedded_config_names("sweeps"))
      known += (known.empty() ? "" : ", ") + n;
    throw Error(printable(path_or_name) +
                ": no such sweep config file or built-in sweep (built-in: " + known + ")");
  }
  if (directory) throw Error(printable(path_or_name) + ": is a directory, not a sweep config");
  std::ifstream in(path_or_name);
  if (!in) throw Error(path_or_name + ": cannot open sweep config");
  std::stringstream text;
  text << in.rdbuf();
  return parse_sweep(text.str(), path_or_name);
}

}  // namespace attnlab
