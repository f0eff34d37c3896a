// CUDA device probe (built with nvcc): asks the runtime how many devices there are. Without a
// driver or a device the runtime returns an error code, which becomes the status line.
#include <cuda_runtime.h>

#include <cstdio>

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
    char line[256];
    std::snprintf(line, sizeof line, "%s, sm_%d%d, %.1f GiB", prop.name, prop.major, prop.minor,
                  static_cast<double>(prop.totalGlobalMem) / (1u << 30));
    probe.devices.emplace_back(line);
  }
  return probe;
}

}  // namespace attnlab::cuda
