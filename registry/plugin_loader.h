// Loading attention implementations from shared libraries that implement the C plugin ABI
// (include/attnlab/plugin.h): dlopen, the ABI version check, attnlab_plugin_init, then one
// registry entry (register_implementation) per plugin implementation, form and dtype. The
// entries run through the one driver like the built-in ones, so verify judges them with the same
// checks and tolerances, and sweeps time them.
#pragma once

#include <string>
#include <vector>

namespace attnlab {

// Loads the library at `path` and registers its implementations; returns their ids. A library
// already loaded is not loaded again (returns {}). Throws attnlab::Error("<path>: <problem>")
// when it cannot be opened, lacks a symbol, has another ABI version, its init returns an error,
// or an entry is malformed or already registered.
std::vector<std::string> load_plugin(const std::string& path);

}  // namespace attnlab
