// `attnlab info`: what this binary is and what it runs on — version, compiler and flags, CPU
// model and features, threads, the linear-algebra library, whether CUDA was built and whether a
// device is present. Human-readable by default, --json for machines.
#include <omp.h>

#include <Eigen/Core>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/commands.h"
#include "core/build_info.h"
#include "core/machine_info.h"
#include "kernels/cuda/device_probe.h"

namespace attnlab::cli {

namespace {

nlohmann::ordered_json collect_info() {
  const BuildInfo& b = build_info();
  const cuda::DeviceProbe cuda = cuda::probe_devices();
  nlohmann::ordered_json j;
  j["version"] = b.version;
  j["git_commit"] = b.git_commit;
  j["compiler"] = b.compiler;
  j["cxx_flags"] = b.cxx_flags;
  j["build_type"] = b.build_type;
  j["cpu_model"] = cpu_model();
  j["cpu_features"] = cpu_features();
  j["hardware_threads"] = std::thread::hardware_concurrency();
  j["openmp_threads"] = omp_get_max_threads();
  j["linear_algebra"] =
      std::string(b.linear_algebra) + " (" + Eigen::SimdInstructionSetsInUse() + ")";
  j["cuda_built"] = cuda.built;
  j["cuda_devices"] = cuda.device_count;
  j["cuda_status"] = cuda.status;
  j["cuda_device_list"] = cuda.devices;
  return j;
}

}  // namespace

Command add_info_command(CLI::App& root) {
  auto* app = root.add_subcommand("info", "Version, compiler, CPU, threads, BLAS and CUDA status");
  auto json_out = std::make_shared<bool>(false);
  app->add_flag("--json", *json_out, "Print JSON instead of a table");
  return {app, [json_out]() {
            const nlohmann::ordered_json j = collect_info();
            if (*json_out) {
              std::cout << j.dump(2) << "\n";
              return 0;
            }
            for (auto it = j.begin(); it != j.end(); ++it) {
              std::string value;
              if (it->is_string()) {
                value = it->get<std::string>();
              } else if (it->is_array()) {
                for (const auto& v : *it)
                  value += (value.empty() ? "" : "; ") + v.get<std::string>();
                if (value.empty()) value = "-";
              } else {
                value = it->dump();
              }
              std::cout << it.key() << ":" << std::string(18 - it.key().size(), ' ') << value
                        << "\n";
            }
            return 0;
          }};
}

}  // namespace attnlab::cli
