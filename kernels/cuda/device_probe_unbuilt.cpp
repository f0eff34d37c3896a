// CUDA device probe for builds without nvcc: the backend is not compiled in.
#include "kernels/cuda/device_probe.h"

namespace attnlab::cuda {

DeviceProbe probe_devices() {
  DeviceProbe probe;
  probe.status = "not built (no nvcc at configure time; reconfigure with -DATTN_CUDA=ON)";
  return probe;
}

}  // namespace attnlab::cuda
