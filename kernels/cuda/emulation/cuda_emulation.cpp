// The CPU emulation of the CUDA subset kernels/cuda uses (tests only); see cuda_emulation.h.
#include "kernels/cuda/emulation/cuda_emulation.h"

#include <ucontext.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <numeric>
#include <utility>
#include <vector>

ATTNLAB_CUDA_BEGIN

namespace {

// ---- runtime state ---------------------------------------------------------------------------

cudaError_t g_last_error = cudaSuccess;
std::map<const char*, size_t> g_allocations;  // start -> bytes
size_t g_in_use = 0;
size_t g_limit = 0;

cudaError_t fail(cudaError_t error) {
  g_last_error = error;
  return error;
}

// True when [p, p + bytes) lies inside one allocation.
bool is_device_range(const void* p, size_t bytes) {
  const char* c = static_cast<const char*>(p);
  auto it = g_allocations.upper_bound(c);
  if (it == g_allocations.begin()) return false;
  --it;
  return c >= it->first && c + bytes <= it->first + it->second;
}

// ---- schedule --------------------------------------------------------------------------------

constexpr uint64_t kDefaultScheduleSeed = 1;

uint64_t mix64(uint64_t z) {  // splitmix64's finaliser
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t seed_from_environment() {
  const char* text = std::getenv("ATTNLAB_CUDA_EMULATION_SEED");
  if (text == nullptr || *text == '\0') return kDefaultScheduleSeed;
  char* end = nullptr;
  errno = 0;
  const unsigned long long seed = std::strtoull(text, &end, 10);
  if (errno != 0 || *end != '\0' || *text < '0' || *text > '9') {
    std::fprintf(
        stderr, "attnlab: ATTNLAB_CUDA_EMULATION_SEED=%s: not an unsigned decimal integer\n", text);
    std::exit(2);
  }
  return seed;
}

struct Schedule {
  uint64_t seed = seed_from_environment();
  uint64_t launches = 0;  // launches since the seed was set: part of every block's stream
};
Schedule& schedule() {
  static Schedule s;
  return s;
}

// A deterministic stream of random numbers (splitmix64).
struct ScheduleRandom {
  uint64_t state;
  uint64_t next() { return mix64(state += 0x9E3779B97F4A7C15ull); }
  uint64_t below(uint64_t n) { return next() % n; }  // the bias is far below what matters here
};

bool sequential() {
  return schedule().seed == kSequentialSchedule;
}

// A fresh permutation of `order` (kept as it is in the sequential schedule).
void shuffle(std::vector<uint32_t>& order, ScheduleRandom& random) {
  if (sequential()) return;
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[random.below(i)]);
}

// The order of a launch's blocks: k -> (offset + k * stride) mod n, stride coprime to n, so
// every block runs once; the sequential schedule is grid order (offset 0, stride 1).
struct BlockOrder {
  uint64_t n, offset = 0, stride = 1;
  BlockOrder(uint64_t blocks, ScheduleRandom& random) : n(blocks) {
    if (sequential() || n < 2) return;
    offset = random.below(n);
    stride = 1 + random.below(n - 1);
    while (std::gcd(stride, n) != 1) stride = stride % (n - 1) + 1;
  }
  uint64_t operator[](uint64_t k) const {
    return static_cast<uint64_t>((offset + static_cast<unsigned __int128>(k) * stride) % n);
  }
};

// ---- fibers ----------------------------------------------------------------------------------

constexpr size_t kFiberStackBytes = 256 * 1024;

struct Fiber {
  ucontext_t context;
  std::vector<char> stack = std::vector<char>(kFiberStackBytes);
  bool finished = false;
};

struct LaunchState {
  ucontext_t scheduler;
  std::vector<Fiber> fibers;
  std::vector<uint32_t> order;  // the threads of the running block, in the order they run
  const std::function<void()>* body = nullptr;
  size_t current = 0;
  bool in_fiber = false;
  size_t barriers = 0;         // __syncthreads calls in this launch
  bool stray_barrier = false;  // __syncthreads outside a fiber (see run_block_direct)
};
LaunchState g_launch;

uint3 thread_of(size_t i, const dim3& block) {
  const size_t x = i % block.x, y = (i / block.x) % block.y, z = i / (size_t(block.x) * block.y);
  return uint3{unsigned(x), unsigned(y), unsigned(z)};
}

void fiber_entry() {
  (*g_launch.body)();
  g_launch.fibers[g_launch.current].finished = true;
  // Returning resumes uc_link: the scheduler.
}

void reset_order(size_t threads) {
  g_launch.order.resize(threads);
  std::iota(g_launch.order.begin(), g_launch.order.end(), 0u);
}

// Every thread of the block as a fiber; rounds of "run each unfinished fiber until its next
// __syncthreads or its end" until all have finished, so no thread passes barrier i before every
// thread has reached it. Each round runs the threads in a fresh order (shuffle()).
void run_block_fibers(size_t threads, const dim3& block, ScheduleRandom& random) {
  if (g_launch.fibers.size() < threads) g_launch.fibers.resize(threads);
  for (size_t i = 0; i < threads; ++i) {
    Fiber& f = g_launch.fibers[i];
    getcontext(&f.context);
    f.context.uc_stack.ss_sp = f.stack.data();
    f.context.uc_stack.ss_size = f.stack.size();
    f.context.uc_link = &g_launch.scheduler;
    makecontext(&f.context, fiber_entry, 0);
    f.finished = false;
  }
  reset_order(threads);
  bool running = true;
  while (running) {
    running = false;
    shuffle(g_launch.order, random);
    for (const uint32_t i : g_launch.order) {
      Fiber& f = g_launch.fibers[i];
      if (f.finished) continue;
      g_launch.current = i;
      threadIdx = thread_of(i, block);
      g_launch.in_fiber = true;
      swapcontext(&g_launch.scheduler, &f.context);
      g_launch.in_fiber = false;
      running = running || !f.finished;
    }
  }
}

// Kernels without a barrier run as plain calls, thread after thread (in a shuffled order).
void run_block_direct(size_t threads, const dim3& block, ScheduleRandom& random) {
  reset_order(threads);
  shuffle(g_launch.order, random);
  for (const uint32_t i : g_launch.order) {
    threadIdx = thread_of(i, block);
    (*g_launch.body)();
  }
}

// ---- cuBLAS ----------------------------------------------------------------------------------

struct BlasState {
  int unused = 0;
};

}  // namespace

struct EmulatedEvent {
  std::chrono::steady_clock::time_point time;
};
struct EmulatedBlas : BlasState {};

cudaError_t cudaMalloc(void** ptr, size_t bytes) {
  if (ptr == nullptr) return fail(cudaErrorInvalidValue);
  if (g_limit != 0 && g_in_use + bytes > g_limit) return fail(cudaErrorMemoryAllocation);
  char* p = static_cast<char*>(std::malloc(std::max<size_t>(bytes, 1)));
  if (p == nullptr) return fail(cudaErrorMemoryAllocation);
  std::memset(p, 0xff, bytes);  // as NaN floats: unwritten scratch poisons what reads it
  g_allocations[p] = bytes;
  g_in_use += bytes;
  *ptr = p;
  return cudaSuccess;
}

cudaError_t cudaFree(void* ptr) {
  if (ptr == nullptr) return cudaSuccess;
  auto it = g_allocations.find(static_cast<const char*>(ptr));
  if (it == g_allocations.end()) return fail(cudaErrorInvalidDevicePointer);
  g_in_use -= it->second;
  g_allocations.erase(it);
  std::free(ptr);
  return cudaSuccess;
}

cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes) {
  const size_t total = g_limit != 0 ? g_limit : size_t{80} << 30;
  *total_bytes = total;
  *free_bytes = total > g_in_use ? total - g_in_use : 0;
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
  const bool dst_device = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
  const bool src_device = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
  if ((dst_device && !is_device_range(dst, bytes)) || (src_device && !is_device_range(src, bytes)))
    return fail(cudaErrorInvalidValue);
  std::memcpy(dst, src, bytes);
  return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void* ptr, int value, size_t bytes, cudaStream_t) {
  if (!is_device_range(ptr, bytes)) return fail(cudaErrorInvalidValue);
  std::memset(ptr, value, bytes);
  return cudaSuccess;
}

cudaError_t cudaGetLastError() {
  return std::exchange(g_last_error, cudaSuccess);
}

cudaError_t cudaDeviceSynchronize() {
  return cudaSuccess;
}

const char* cudaGetErrorName(cudaError_t error) {
  switch (error) {
    case cudaSuccess:
      return "cudaSuccess";
    case cudaErrorInvalidValue:
      return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation:
      return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration:
      return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevicePointer:
      return "cudaErrorInvalidDevicePointer";
  }
  return "cudaErrorUnknown";
}

const char* cudaGetErrorString(cudaError_t error) {
  switch (error) {
    case cudaSuccess:
      return "no error";
    case cudaErrorInvalidValue:
      return "invalid argument";
    case cudaErrorMemoryAllocation:
      return "out of memory";
    case cudaErrorInvalidConfiguration:
      return "invalid configuration argument";
    case cudaErrorInvalidDevicePointer:
      return "invalid device pointer";
  }
  return "unknown error";
}

cudaError_t cudaGetDevice(int* device) {
  *device = 0;
  return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attribute, int device) {
  if (attribute != cudaDevAttrL2CacheSize || device != 0) return fail(cudaErrorInvalidValue);
  *value = 4 << 20;
  return cudaSuccess;
}

cudaError_t cudaEventCreate(cudaEvent_t* event) {
  *event = new EmulatedEvent();
  return cudaSuccess;
}

cudaError_t cudaEventDestroy(cudaEvent_t event) {
  delete event;
  return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t) {
  event->time = std::chrono::steady_clock::now();
  return cudaSuccess;
}

cudaError_t cudaEventSynchronize(cudaEvent_t) {
  return cudaSuccess;
}

cudaError_t cudaEventElapsedTime(float* milliseconds, cudaEvent_t start, cudaEvent_t end) {
  *milliseconds = std::chrono::duration<float, std::milli>(end->time - start->time).count();
  return cudaSuccess;
}

cublasStatus_t cublasCreate(cublasHandle_t* handle) {
  *handle = new EmulatedBlas();
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasDestroy(cublasHandle_t handle) {
  delete handle;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode) {
  return handle != nullptr && mode == CUBLAS_DEFAULT_MATH ? CUBLAS_STATUS_SUCCESS
                                                          : CUBLAS_STATUS_INVALID_VALUE;
}

const char* cublasGetStatusName(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_SUCCESS:
      return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED:
      return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED:
      return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE:
      return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_NOT_SUPPORTED:
      return "CUBLAS_STATUS_NOT_SUPPORTED";
  }
  return "CUBLAS_STATUS_UNKNOWN";
}

const char* cublasGetStatusString(cublasStatus_t status) {
  return cublasGetStatusName(status);
}

cublasStatus_t cublasGemmStridedBatchedEx(cublasHandle_t handle, cublasOperation_t transa,
                                          cublasOperation_t transb, int m, int n, int k,
                                          const void* alpha, const void* a, cudaDataType a_type,
                                          int lda, long long stride_a, const void* b,
                                          cudaDataType b_type, int ldb, long long stride_b,
                                          const void* beta, void* c, cudaDataType c_type, int ldc,
                                          long long stride_c, int batch_count,
                                          cublasComputeType_t compute, cublasGemmAlgo_t) {
  if (handle == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (a_type != CUDA_R_32F || b_type != CUDA_R_32F || c_type != CUDA_R_32F ||
      compute != CUBLAS_COMPUTE_32F)
    return CUBLAS_STATUS_NOT_SUPPORTED;
  // cuBLAS's checks: A is stored [m x k] (N) or [k x m] (T) column-major, so lda >= its rows.
  const int a_rows = transa == CUBLAS_OP_N ? m : k;
  const int b_rows = transb == CUBLAS_OP_N ? k : n;
  if (m < 0 || n < 0 || k < 0 || batch_count < 0 || lda < std::max(1, a_rows) ||
      ldb < std::max(1, b_rows) || ldc < std::max(1, m))
    return CUBLAS_STATUS_INVALID_VALUE;
  const float al = *static_cast<const float*>(alpha), be = *static_cast<const float*>(beta);
  for (long long p = 0; p < batch_count; ++p) {
    const float* ap = static_cast<const float*>(a) + p * stride_a;
    const float* bp = static_cast<const float*>(b) + p * stride_b;
    float* cp = static_cast<float*>(c) + p * stride_c;
    for (long long j = 0; j < n; ++j)
      for (long long i = 0; i < m; ++i) {
        float acc = 0.0f;
        for (long long l = 0; l < k; ++l) {
          const float av = transa == CUBLAS_OP_N ? ap[i + l * lda] : ap[l + i * lda];
          const float bv = transb == CUBLAS_OP_N ? bp[l + j * ldb] : bp[j + l * ldb];
          acc += av * bv;
        }
        float& out = cp[i + j * ldc];
        out = be == 0.0f ? al * acc : al * acc + be * out;  // beta 0: C is not read
      }
  }
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGemmEx(cublasHandle_t handle, cublasOperation_t transa,
                            cublasOperation_t transb, int m, int n, int k, const void* alpha,
                            const void* a, cudaDataType a_type, int lda, const void* b,
                            cudaDataType b_type, int ldb, const void* beta, void* c,
                            cudaDataType c_type, int ldc, cublasComputeType_t compute,
                            cublasGemmAlgo_t algo) {
  return cublasGemmStridedBatchedEx(handle, transa, transb, m, n, k, alpha, a, a_type, lda, 0, b,
                                    b_type, ldb, 0, beta, c, c_type, ldc, 0, 1, compute, algo);
}

void __syncthreads() {
  if (!g_launch.in_fiber) {
    g_launch.stray_barrier = true;
    return;
  }
  ++g_launch.barriers;
  swapcontext(&g_launch.fibers[g_launch.current].context, &g_launch.scheduler);
}

void emulated_launch(dim3 grid, dim3 block, const std::function<void()>& thread) {
  const size_t threads = size_t(block.x) * block.y * block.z;
  if (threads == 0 || threads > 1024 || block.z > 64 || grid.x == 0 || grid.y == 0 || grid.z == 0 ||
      grid.x > 2147483647u || grid.y > 65535 || grid.z > 65535) {
    fail(cudaErrorInvalidConfiguration);
    return;
  }
  gridDim = grid;
  blockDim = block;
  g_launch.body = &thread;
  g_launch.barriers = 0;
  g_launch.stray_barrier = false;
  // Every block draws its thread orders from its own stream: (seed, launch, block).
  const uint64_t launch_key = mix64(schedule().seed ^ mix64(++schedule().launches));
  ScheduleRandom launch_random{launch_key};
  const uint64_t blocks = uint64_t(grid.x) * grid.y * grid.z;
  const BlockOrder order(blocks, launch_random);
  // The first block runs as fibers; when it never reaches a barrier, the kernel has none (they
  // must be reached by all threads of every block), and the other blocks run as plain calls.
  bool barrier_free = false;
  for (uint64_t k = 0; k < blocks; ++k) {
    const uint64_t linear = order[k];
    blockIdx = uint3{unsigned(linear % grid.x), unsigned(linear / grid.x % grid.y),
                     unsigned(linear / (uint64_t(grid.x) * grid.y))};
    ScheduleRandom random{mix64(launch_key + linear * 0x9E3779B97F4A7C15ull)};
    if (barrier_free) {
      run_block_direct(threads, block, random);
    } else {
      run_block_fibers(threads, block, random);
      if (k == 0 && g_launch.barriers == 0) barrier_free = true;
    }
  }
  if (g_launch.stray_barrier) fail(cudaErrorInvalidConfiguration);
}

void set_emulated_schedule_seed(uint64_t seed) {
  schedule().seed = seed;
  schedule().launches = 0;
}
uint64_t emulated_schedule_seed() {
  return schedule().seed;
}

void set_emulated_memory_limit(size_t bytes) {
  g_limit = bytes;
}
size_t emulated_bytes_in_use() {
  return g_in_use;
}

ATTNLAB_CUDA_END
