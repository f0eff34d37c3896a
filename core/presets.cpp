// Lookup of the embedded model presets; see presets.h.
#include "core/presets.h"

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>

#include "core/embedded_configs.h"
#include "core/error.h"
#include "core/json_fields.h"

namespace attnlab {

const EmbeddedConfig* find_embedded_config(const std::string& group, const std::string& name) {
  for (const EmbeddedConfig& c : embedded_configs())
    if (group == c.group && name == c.name) return &c;
  return nullptr;
}

std::vector<std::string> embedded_config_names(const std::string& group) {
  std::vector<std::string> names;
  for (const EmbeddedConfig& c : embedded_configs())
    if (group == c.group) names.push_back(c.name);
  return names;
}

namespace {
const EmbeddedConfig* find_preset(const std::string& name) {
  const EmbeddedConfig* c = find_embedded_config("models", name);
  return c != nullptr ? c : find_embedded_config("tiny", name);
}
}  // namespace

std::vector<std::string> preset_names(const std::string& group) {
  if (!group.empty()) return embedded_config_names(group);
  std::vector<std::string> names = embedded_config_names("models");
  for (const std::string& n : embedded_config_names("tiny")) names.push_back(n);
  return names;
}

LayerConfig load_preset(const std::string& name) {
  const EmbeddedConfig* preset = find_preset(name);
  if (preset == nullptr) {
    std::string known;
    for (const std::string& n : preset_names("")) known += (known.empty() ? "" : ", ") + n;
    throw Error("unknown preset " + single_quoted(name) + " (known: " + known + ")");
  }
  const std::string origin = "preset '" + name + "'";
  try {
    return parse_layer_config(nlohmann::json::parse(preset->json), origin);
  } catch (const nlohmann::json::parse_error& e) {
    throw Error(origin + ": not valid JSON (" + e.what() + ")");
  }
}

namespace {

LayerConfig resolve_whole_model(const std::string& preset_or_path);

// "name@N": the model `name` running its layer N, named "name@N".
std::optional<LayerConfig> resolve_layer_of_model(const std::string& text) {
  const size_t at = text.rfind('@');
  if (at == std::string::npos || at == 0 || at + 1 == text.size()) return std::nullopt;
  const std::string digits = text.substr(at + 1);
  if (digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  LayerConfig config = resolve_whole_model(text.substr(0, at));
  config.layer_index = std::stoll(digits);
  config.name += "@" + digits;
  validate_layer_config(config, printable(text));
  return config;
}

}  // namespace

LayerConfig resolve_model(const std::string& preset_or_path) {
  if (find_preset(preset_or_path) == nullptr) {
    std::error_code ec;
    if (!std::filesystem::exists(preset_or_path, ec))
      if (std::optional<LayerConfig> layer = resolve_layer_of_model(preset_or_path)) return *layer;
  }
  return resolve_whole_model(preset_or_path);
}

namespace {

LayerConfig resolve_whole_model(const std::string& preset_or_path) {
  if (find_preset(preset_or_path) != nullptr) return load_preset(preset_or_path);
  // The error_code form: a name the file system refuses (too long, ...) is not a file either.
  std::error_code ec;
  if (std::filesystem::exists(preset_or_path, ec)) return load_layer_config_file(preset_or_path);
  if (preset_or_path.find('/') != std::string::npos ||
      preset_or_path.find(".json") != std::string::npos)
    throw Error(printable(preset_or_path) + ": no such layer-config file");
  return load_preset(preset_or_path);  // reports the unknown name with the known list
}

}  // namespace

}  // namespace attnlab
