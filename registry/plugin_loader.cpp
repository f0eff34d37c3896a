// dlopen-based plugin loading and registration; see plugin_loader.h.
#include "registry/plugin_loader.h"

#include <dlfcn.h>

#include <cctype>
#include <filesystem>
#include <set>

#include "core/error.h"
#include "registry/plugin_attention.h"
#include "registry/registry.h"

namespace attnlab {

namespace {

constexpr size_t kErrorSize = 512;

bool valid_name(const char* name) {
  if (!name || !name[0]) return false;
  for (const char* p = name; *p; ++p)
    if (!std::isalnum(static_cast<unsigned char>(*p)) && *p != '-' && *p != '_' && *p != '.')
      return false;
  return true;
}

Implementation plugin_entry(const attnlab_implementation& plugin, ImplForm form, DType dtype) {
  Implementation impl;
  impl.backend = plugin.name;
  impl.form = form;
  impl.dtype = dtype;
  const attnlab_implementation* p = &plugin;
  impl.supports = [p, form](const LayerConfig& c) {
    if (!form_supported(c, form)) return false;
    // ABI v1 (include/attnlab/plugin.h) has no codes or fields for GTA and GLA: a plugin is
    // never handed one (it would read a GLA as an MLA with one latent head).
    if (c.is_gta() || c.is_gla()) return false;
    if (!p->supports) return true;
    const PluginLayer layer(c);
    return p->supports(&layer.get(), plugin_form(form)) != 0;
  };
  impl.make_attention = [p, form, dtype](const LayerConfig& c, const Weights& w) {
    return make_plugin_attention(*p, c, w, form, dtype);
  };
  impl.run_chunks = [make = impl.make_attention](const LayerConfig& c, const Weights& w,
                                                 const Tensor<double>& x, const Tensor<int64_t>& p,
                                                 int64_t chunk) {
    return run_through(*make(c, w), c, x, p, chunk);
  };
  return impl;
}

}  // namespace

std::vector<std::string> load_plugin(const std::string& path) {
  static std::set<std::string> loaded;
  std::error_code ec;
  const std::string canonical = std::filesystem::weakly_canonical(path, ec).string();
  if (loaded.count(canonical)) return {};
  if (!std::filesystem::exists(path)) throw Error(path + ": no such plugin file");
  // A path without a slash would make dlopen search the library path instead.
  const std::string open_path = path.find('/') == std::string::npos ? "./" + path : path;
  void* library = dlopen(open_path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!library) {
    const char* why = dlerror();
    throw Error(path + ": cannot load plugin: " + std::string(why ? why : "unknown error"));
  }
  // The library stays loaded for the life of the process: registry entries point into it.
  auto version =
      reinterpret_cast<attnlab_plugin_abi_version_fn>(dlsym(library, "attnlab_plugin_abi_version"));
  auto init = reinterpret_cast<attnlab_plugin_init_fn>(dlsym(library, "attnlab_plugin_init"));
  if (!version || !init)
    throw Error(path + ": not an attnlab plugin: missing symbol " +
                (!version ? "attnlab_plugin_abi_version" : "attnlab_plugin_init"));
  if (version() != ATTNLAB_PLUGIN_ABI_VERSION)
    throw Error(path + ": plugin ABI version " + std::to_string(version()) +
                ", this attnlab loads version " + std::to_string(ATTNLAB_PLUGIN_ABI_VERSION) +
                " (include/attnlab/plugin.h)");
  const attnlab_implementation* impls = nullptr;
  int64_t count = 0;
  char error[kErrorSize] = "";
  if (init(&impls, &count, error, sizeof error) != ATTNLAB_OK)
    throw Error(path + ": attnlab_plugin_init failed: " +
                (error[0] ? std::string(error) : std::string("(no message)")));
  if (!impls || count < 1) throw Error(path + ": attnlab_plugin_init returned no implementations");
  std::vector<Implementation> entries;
  for (int64_t i = 0; i < count; ++i) {
    const attnlab_implementation& p = impls[i];
    const std::string where = path + ": implementation " + std::to_string(i);
    const size_t before = entries.size();
    if (!valid_name(p.name)) throw Error(where + ": name must be letters, digits, '-', '_' or '.'");
    if (!p.create || !p.make_cache || !p.forward)
      throw Error(where + " (" + p.name + "): create, make_cache and forward are required");
    for (ImplForm form : {ImplForm::standard, ImplForm::naive, ImplForm::absorb}) {
      if (!(p.forms & (1u << plugin_form(form)))) continue;
      for (DType dtype : cache_dtypes())
        if (p.dtypes & (1u << plugin_dtype(dtype))) entries.push_back(plugin_entry(p, form, dtype));
    }
    if (entries.size() == before)
      throw Error(where + " (" + p.name + "): no form or dtype bit set");
  }
  std::vector<std::string> ids;
  for (Implementation& entry : entries) {
    ids.push_back(entry.id());
    try {
      register_implementation(std::move(entry));
    } catch (const Error& e) {
      throw Error(path + ": " + e.what());
    }
  }
  loaded.insert(canonical);
  return ids;
}

}  // namespace attnlab
