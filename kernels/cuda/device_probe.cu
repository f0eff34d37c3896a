// CUDA device probe (built with nvcc): asks the runtime how many devices there are. Without a
// driver or a device the runtime returns an error code, which becomes the status line.
#include <cuda_runtime.h>

#include <cstdio>
#include <string>

#include "kernels/cuda/device_probe.h"

namespace attnlab::cuda {

DeviceProbe probe_devices() {
  DeviceProbe probe;
  probe.built = true;
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    probe.status = std::string("no CUDA device (") + cudaGetErrorName(err) + ": " +
                   cudaGetErrorString(err) + ")";
    return probe;
  }
  probe.device_count = count;
  probe.status = count == 0 ? "no CUDA device" : std::to_string(count) + " CUDA device(s)";
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) continue;
    char memory[32];
    std::snprintf(memory, sizeof memory, "%.1f GiB",
                  static_cast<double>(prop.totalGlobalMem) / (1u << 30));
    probe.devices.push_back(std::string(prop.name) + ", sm_" + std::to_string(prop.major) +
                            std::to_string(prop.minor) + ", " + memory);
  }
  return probe;
}

}  // namespace attnlab::cuda
