// Model presets: the JSON files under configs/models/ (published configs) and configs/tiny/
// (small shapes for tests), embedded into the binary at build time so `attnlab` works from any
// directory. A --model argument is a preset name or a path to a layer-config JSON file.
#pragma once

#include <string>
#include <vector>

#include "core/layer_config.h"

namespace attnlab {

struct PresetSource {
  const char* name;   // file stem, e.g. "deepseek-v3"
  const char* group;  // "models" or "tiny"
  const char* json;   // file contents
};

// All embedded presets, published models first, each group sorted by name.
const std::vector<PresetSource>& preset_sources();
std::vector<std::string> preset_names(const std::string& group);  // group "" = all
LayerConfig load_preset(const std::string& name);  // throws attnlab::Error for unknown names
// A preset name, or else a path to a layer-config JSON file.
LayerConfig resolve_model(const std::string& preset_or_path);

}  // namespace attnlab
