// The CUDA backend on a real device, through the registry (backend "cuda"): conformance of every
// form x cache dtype against the fp64 reference (verify's ci and default cases), the model
// features (tests/cuda_feature_tests.h: sinks, QK-norm, windows, RoPE scalings), cache bytes, NaN
// fill, synthetic fill and rewind, the store-rounding contract (the device's bf16/fp16
// conversions against core/dtype.h), argument checks, the device timer, and running out of
// device memory. Without a device the program prints "skipped: no CUDA device (...)" and exits 77,
// which ctest reports as skipped (tests/CMakeLists.txt: SKIP_RETURN_CODE 77) — never as passed.
#define CATCH_CONFIG_RUNNER
#include <iostream>

#include "kernels/cuda/device_probe.h"
#include "tests/cuda_common_tests.h"
#include "tests/cuda_feature_tests.h"
#include "tests/cuda_latent_tests.h"

namespace attnlab::cuda_test {

std::vector<Implementation> cuda_under_test() {
  std::vector<Implementation> impls;
  for (const Implementation& impl : implementations())
    if (impl.backend == "cuda") impls.push_back(impl);
  return impls;
}

}  // namespace attnlab::cuda_test

TEST_CASE("cuda: the registry lists nine available CUDA implementations") {
  const std::vector<Implementation> impls = cuda_under_test();
  CHECK(impls.size() == 9);
  for (const Implementation& impl : impls) {
    INFO(impl.id());
    CHECK(impl.unavailable_reason().empty());
    CHECK(impl.make_attention);
  }
}

TEST_CASE("cuda: a cache larger than the device is an 'out of device memory' error") {
  const Layer layer = tiny("tiny-gqa");
  const auto attention =
      cuda::make_cuda_attention(layer.config, layer.weights, ImplForm::standard, DType::fp32);
  // 128 bytes per token: 2^33 tokens is 1 TiB.
  CHECK_THROWS_WITH(attention->make_cache(1, int64_t{1} << 33),
                    Catch::Contains("out of device memory"));
  // The failure is not sticky: the device still works.
  auto cache = attention->make_cache(1, 8);
  CHECK(all_finite(step(*attention, layer.config, *cache, 1, 3, 0, 1)));
}

int main(int argc, char** argv) {
  const attnlab::cuda::DeviceProbe probe = attnlab::cuda::probe_devices();
  if (probe.device_count == 0) {
    std::cout << "skipped: " << probe.status << "\n";
    return 77;
  }
  std::cout << "CUDA device: " << (probe.devices.empty() ? "?" : probe.devices.front()) << "\n";
  return Catch::Session().run(argc, argv);
}
