// The JSON files of configs/models/ (published presets), configs/tiny/ (test shapes) and
// configs/verify/ (verify cases), embedded into the binary at build time by
// cmake/EmbedConfigs.cmake so `attnlab` works from any directory.
#pragma once

#include <string>
#include <vector>

namespace attnlab {

struct EmbeddedConfig {
  const char* group;  // "models", "tiny", "verify"
  const char* name;   // file name without ".json", e.g. "deepseek-v3"
  const char* json;   // file contents
};

// Groups in the order above, each sorted by name. Generated.
const std::vector<EmbeddedConfig>& embedded_configs();
// nullptr when there is no such file.
const EmbeddedConfig* find_embedded_config(const std::string& group, const std::string& name);
std::vector<std::string> embedded_config_names(const std::string& group);

}  // namespace attnlab
