// Whether this binary has the CUDA backend and whether a CUDA device is present. Compiled from
// device_probe.cu when nvcc was found at configure time, else from device_probe_unbuilt.cpp.
// `attnlab info` prints it; the registry uses it to list the CUDA backend as unavailable.
#pragma once

#include <string>
#include <vector>

namespace attnlab::cuda {

struct DeviceProbe {
  bool built = false;                // the CUDA backend was compiled in
  int device_count = 0;              // usable devices (0 when none or no driver)
  std::string status;                // one line: "2 devices", "no CUDA device (...)", "not built"
  std::vector<std::string> devices;  // "NVIDIA H100 80GB HBM3, sm_90, 79.1 GiB"
};

DeviceProbe probe_devices();

}  // namespace attnlab::cuda
