// bench_attention: the fast CPU backend's goal figures (issue 4), as Google Benchmark cases.
//
// At start it re-executes itself with the environment benchmarks need here (reexec_for_benchmarking
// in bench/machine_limits.h: OpenBLAS's AVX-512 kernels, passive OpenMP and OpenBLAS waiting on
// a shared 2-core machine), then measures this machine's limits
// IN THE SAME RUN — DRAM read bandwidth and fp32 GEMM peak, on omp_get_max_threads() threads and
// on 1 — and reports them in the benchmark context. Every case reports its rate and the
// fraction of those limits as counters; run with repetitions and read the medians. Because the
// limits of a shared machine drift (other processes, other tenants of the host), each timed
// repetition also re-measures them just before it runs (dram_now_GB_s, gemm_now_GFLOP_s) and
// reports the fractions of those too (dram_frac_now, gemm_frac_now): the figures to trust when
// the start-of-run limits and the ones re-printed at the end disagree.
//
//   decode_core/...   one decode step's attention core (FastAttention::attend_core, seq 1) over a
//                     cache filled to `ctx` tokens (KvCache::fill_synthetic). Projections are NOT
//                     timed (they are separate and per token). Counters: GB_s (cache bytes read
//                     per second), dram_frac (GB_s / measured DRAM read), GFLOP_s, gemm_frac,
//                     roofline_frac (max(bytes / DRAM, flops / GEMM peak) / time: 1 = at the
//                     machine's bound), us_per_ktok (time per 1024 tokens of context: flat =
//                     linear in context), mem_extra_MiB (peak RSS while timing minus RSS before
//                     the cache minus the analytic cache size: the constant).
//   prefill_core/...  causal attention core of `seq` new tokens over an empty context
//                     (attend_core, seq = S). Counters: useful GFLOP_s (FACTS.md: 2 h S^2 (d_qk +
//                     d_v) / 2), gemm_frac.
//   decode_layer/..., prefill_layer/...  the whole layer (projections + cache write + core +
//                     o_proj) through Attention::forward, for reference.
//
// Build: cmake --build build --target bench_attention. Run (the README "Performance (CPU)" table):
//   OMP_NUM_THREADS=2 build/bench/bench_attention --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true
// Extra flags (before the benchmark ones): --calibration=full|quick (quick: 128 MiB, 512^3;
// for smoke runs), --cases=goal|all|smoke.
#include <malloc.h>
#include <omp.h>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "bench/machine_limits.h"
#include "core/presets.h"
#include "core/weights.h"
#include "kernels/cpu/fast_attention.h"
#include "variants/cost_model.h"
#include "variants/variant_spec.h"

namespace {

using namespace attnlab;

MachineLimits g_limits;  // on omp_get_max_threads() threads, at start
// The same limits re-measured right before each timed repetition (see run_case).
std::unique_ptr<DramReadProbe> g_dram_probe;
std::unique_ptr<GemmProbe> g_gemm_probe;

// ---------------------------------------------------------------------------------------------
// memory

// A field of /proc/self/status in bytes ("VmRSS", "VmHWM"), 0 when unavailable.
double proc_status_bytes(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(field + ":", 0) == 0) {
      std::istringstream s(line.substr(field.size() + 1));
      double kb = 0;
      s >> kb;
      return kb * 1024;
    }
  return 0;
}

// Resets VmHWM (peak RSS) to the current RSS (Linux: "5" to /proc/self/clear_refs).
void reset_peak_rss() {
  std::ofstream("/proc/self/clear_refs") << "5";
}

// ---------------------------------------------------------------------------------------------
// cases

// MHA 16 heads x 128 (hidden 2048): the prefill goal's shape.
LayerConfig mha_16x128() {
  LayerConfig c;
  c.name = "mha-16x128";
  c.attention = AttentionKind::mha;
  c.hidden_size = 2048;
  c.n_heads = 16;
  c.n_kv_heads = 16;
  c.head_dim = 128;
  c.rope_layout = RopeLayout::half_split;
  validate_layer_config(c, c.name);
  return c;
}

// The form a case runs: absorb for the latent variants (MLA, GLA), else standard (GTA too).
ImplForm default_form(const LayerConfig& c) {
  return c.has_latent() ? ImplForm::absorb : ImplForm::standard;
}

LayerConfig model(const std::string& name) {
  return name == "mha-16x128" ? mha_16x128() : load_preset(name);
}

struct Case {
  std::string kind;  // decode_core, prefill_core, decode_layer, prefill_layer
  std::string model;
  DType dtype;
  int64_t batch;
  int64_t tokens;  // context (decode) or new tokens (prefill)

  std::string name() const {
    return kind + "/" + model + "/" + to_string(dtype) + "/b:" + std::to_string(batch) + "/" +
           (kind.rfind("decode", 0) == 0 ? "ctx:" : "seq:") + std::to_string(tokens);
  }
};

// Cache bytes a decode step reads, and the core's FLOPs (variants/cost_model.h, core_intensity:
// scores and value mixture of every head, every form and variant including GTA and GLA).
struct Work {
  double bytes = 0, flops = 0;
};
Work decode_work(const LayerConfig& c, ImplForm form, DType dtype, int64_t batch, int64_t context) {
  const double e = static_cast<double>(bytes_per_element(dtype));
  // A sliding layer reads only its window's keys (the ring cache holds little more).
  const int64_t keys = std::min(context, c.window().value_or(context));
  // The keys the step reads: `keys` cached ones before it (the new token's own not counted).
  const CoreIntensity core = core_intensity(c, form, std::max<int64_t>(keys, 1) - 1, 1);
  Work w;
  w.bytes = e * core.cache_elements_read * double(batch);
  w.flops = 2 * core.multiply_adds * double(batch);
  return w;
}

double prefill_useful_flops(const LayerConfig& c, int64_t batch, int64_t seq) {
  const double s = static_cast<double>(seq);
  return 2.0 * c.n_heads * s * s * (c.qk_head_dim() + c.value_head_dim()) / 2.0 * batch;
}

// The attention and cache of the case that ran last, kept across its repetitions.
struct Fixture {
  std::string name;
  LayerConfig config;
  Weights weights;
  std::unique_ptr<cpu::fast::FastAttention> attention;
  std::unique_ptr<KvCache> cache;
  std::vector<float> q, out, lse, x;
  double rss_before_cache = 0;
};
std::unique_ptr<Fixture> g_fixture;

Fixture& fixture_for(const Case& c) {
  if (g_fixture && g_fixture->name == c.name()) return *g_fixture;
  g_fixture.reset();  // free the previous case's cache first
  auto f = std::make_unique<Fixture>();
  f->name = c.name();
  f->config = model(c.model);
  f->weights = random_weights(f->config, 1);
  const ImplForm form = default_form(f->config);
  f->attention = cpu::fast::make_fast_attention(f->config, f->weights, form, c.dtype);
  const bool decode = c.kind.rfind("decode", 0) == 0;
  const int64_t seq = decode ? 1 : c.tokens;
  const int64_t heads = f->config.n_heads;
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  f->q.resize(c.batch * seq * heads * f->attention->core_query_width());
  for (float& v : f->q) v = normal(rng);
  f->out.resize(c.batch * seq * heads * f->attention->core_value_width());
  f->lse.resize(c.batch * seq * heads);
  f->x.resize(c.batch * seq * f->config.hidden_size);
  for (float& v : f->x) v = normal(rng);
  // Peak RSS from here on, minus this, minus the analytic cache: what the backend needs beyond
  // its cache (large buffers are mmap-ed and unmapped on free: see main()).
  f->rss_before_cache = proc_status_bytes("VmRSS");
  reset_peak_rss();
  f->cache = f->attention->make_cache(c.batch, c.tokens + 1);
  f->cache->fill_synthetic(c.tokens, 3);
  g_fixture = std::move(f);
  return *g_fixture;
}

void set_rate(benchmark::State& state, const char* name, double per_iteration) {
  state.counters[name] =
      benchmark::Counter(per_iteration, benchmark::Counter::kIsIterationInvariantRate);
}

void run_case(benchmark::State& state, const Case& c) {
  omp_set_num_threads(g_limits.threads);
  Fixture& f = fixture_for(c);
  const ImplForm form = default_form(f.config);
  const int64_t batch = c.batch, heads = f.config.n_heads;
  // This repetition's own limits, measured just before it (a drifting machine otherwise makes
  // the fractions meaningless): DRAM for every case, the GEMM peak for compute-bound ones.
  const Work work = decode_work(f.config, form, c.dtype, batch, c.tokens);
  const bool compute_bound = c.kind == "prefill_core" || work.flops / work.bytes > 8;
  const double local_dram = g_dram_probe->measure(3);
  const double local_gemm = compute_bound ? g_gemm_probe->measure(2) : 0;
  state.counters["dram_now_GB_s"] = local_dram;
  if (compute_bound) state.counters["gemm_now_GFLOP_s"] = local_gemm;
  if (c.kind == "decode_core") {
    f.cache->rewind(c.tokens);
    for (auto _ : state) {
      f.attention->attend_core(f.q.data(), 1, *f.cache, f.out.data(), f.lse.data());
      benchmark::DoNotOptimize(f.out.data());
    }
    const Work& w = work;
    set_rate(state, "GB_s", w.bytes / 1e9);
    set_rate(state, "dram_frac_now", w.bytes / 1e9 / local_dram);
    if (compute_bound) set_rate(state, "gemm_frac_now", w.flops / 1e9 / local_gemm);
    set_rate(state, "dram_frac", w.bytes / 1e9 / g_limits.dram_read_gbps);
    set_rate(state, "GFLOP_s", w.flops / 1e9);
    set_rate(state, "gemm_frac", w.flops / 1e9 / g_limits.gemm_gflops);
    set_rate(
        state, "roofline_frac",
        std::max(w.bytes / 1e9 / g_limits.dram_read_gbps, w.flops / 1e9 / g_limits.gemm_gflops));
    // kInvert of a rate: seconds per iteration / value = microseconds per 1024 tokens.
    state.counters["us_per_ktok"] = benchmark::Counter(
        c.tokens / (1024.0 * 1e6),
        benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
    state.counters["mem_extra_MiB"] =
        (proc_status_bytes("VmHWM") - f.rss_before_cache - f.cache->bytes_allocated()) / (1 << 20);
    state.counters["cache_MiB"] = f.cache->bytes_allocated() / double(1 << 20);
  } else if (c.kind == "prefill_core") {
    for (auto _ : state) {
      f.attention->attend_core(f.q.data(), c.tokens, *f.cache, f.out.data(), f.lse.data());
      benchmark::DoNotOptimize(f.out.data());
    }
    const double flops = prefill_useful_flops(f.config, batch, c.tokens);
    set_rate(state, "GFLOP_s", flops / 1e9);
    set_rate(state, "gemm_frac", flops / 1e9 / g_limits.gemm_gflops);
    set_rate(state, "gemm_frac_now", flops / 1e9 / local_gemm);
  } else if (c.kind == "decode_layer") {
    std::vector<int64_t> positions(batch, c.tokens);
    std::vector<float> out(batch * f.config.hidden_size);
    for (auto _ : state) {
      f.cache->rewind(c.tokens);
      f.attention->forward(f.x.data(), positions.data(), batch, 1, *f.cache, out.data(), nullptr);
      benchmark::DoNotOptimize(out.data());
    }
    state.counters["tok_s"] = benchmark::Counter(static_cast<double>(batch),
                                                 benchmark::Counter::kIsIterationInvariantRate);
    set_rate(state, "cache_GB_s",
             decode_work(f.config, form, c.dtype, batch, c.tokens).bytes / 1e9);
  } else {  // prefill_layer
    std::vector<int64_t> positions(batch * c.tokens);
    for (int64_t i = 0; i < batch * c.tokens; ++i) positions[i] = i % c.tokens;
    std::vector<float> out(batch * c.tokens * f.config.hidden_size);
    for (auto _ : state) {
      f.cache->rewind(0);
      f.attention->forward(f.x.data(), positions.data(), batch, c.tokens, *f.cache, out.data(),
                           nullptr);
      benchmark::DoNotOptimize(out.data());
    }
    state.counters["tok_s"] = benchmark::Counter(static_cast<double>(batch * c.tokens),
                                                 benchmark::Counter::kIsIterationInvariantRate);
    set_rate(state, "core_GFLOP_s", prefill_useful_flops(f.config, batch, c.tokens) / 1e9);
  }
  (void)heads;
}

std::vector<Case> cases(const std::string& set) {
  const DType all[] = {DType::fp32, DType::bf16, DType::fp16};
  std::vector<Case> v;
  if (set == "smoke") {
    v.push_back({"decode_core", "llama-3-8b", DType::bf16, 1, 2048});
    v.push_back({"prefill_core", "mha-16x128", DType::fp32, 1, 256});
    return v;
  }
  // Memory-bound decode, caches >= 4 x L3 (128 MiB) in every dtype but where noted.
  for (DType d : all) {
    v.push_back({"decode_core", "llama-3-8b", d, 1, 32768});  // GQA 32/8: 256 MiB fp32
    v.push_back({"decode_core", "llama-2-7b", d, 1, 8192});   // MHA: 256 MiB fp32
    v.push_back({"decode_core", "falcon-7b", d, 16, 32768});  // MQA 71/1: 256 MiB fp32
  }
  // MLA absorb decode (compute-bound): DeepSeek-V2-Lite and V3 layers.
  for (DType d : all)
    for (const char* m : {"deepseek-v2-lite", "deepseek-v3"})
      for (int64_t ctx : {4096, 32768}) v.push_back({"decode_core", m, d, 1, ctx});
  // Causal prefill, 16 heads x 128.
  for (int64_t s : {2048, 4096, 8192})
    v.push_back({"prefill_core", "mha-16x128", DType::fp32, 1, s});
  v.push_back({"prefill_core", "mha-16x128", DType::bf16, 1, 2048});
  if (set == "all") {
    // Linearity in context.
    for (int64_t ctx : {4096, 8192, 16384, 65536})
      v.push_back({"decode_core", "llama-3-8b", DType::fp32, 1, ctx});
    // A sliding layer past its window (4096): the ring cache holds 4096 + 255 slots, the
    // decode reads the window's keys whatever the context.
    v.push_back({"decode_core", "mistral-7b", DType::bf16, 1, 32768});
    // Whole layers.
    v.push_back({"decode_layer", "llama-3-8b", DType::fp32, 1, 32768});
    v.push_back({"decode_layer", "deepseek-v2-lite", DType::fp32, 1, 4096});
    v.push_back({"prefill_layer", "mha-16x128", DType::fp32, 1, 2048});
  }
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  reexec_for_benchmarking(argv);
  // Buffers of 1 MiB and more always come from mmap and go back to the system when freed, so
  // RSS differences measure them (glibc otherwise raises this threshold after the first free).
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
  std::string calibration = "full", set = "goal";
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--calibration=", 0) == 0)
      calibration = a.substr(14);
    else if (a.rfind("--cases=", 0) == 0)
      set = a.substr(8);
    else
      rest.push_back(argv[i]);
  }
  int n = static_cast<int>(rest.size());
  benchmark::Initialize(&n, rest.data());
  if (benchmark::ReportUnrecognizedArguments(n, rest.data())) return 1;

  const int threads = omp_get_max_threads();
  const bool quick = calibration == "quick";
  const size_t dram_bytes = quick ? size_t{128} << 20 : size_t{1} << 30;
  const int gemm_n = quick ? 512 : 2048;
  // Best of many trials: other processes on a shared machine only ever make a trial slower.
  g_limits.threads = threads;
  g_limits.dram_read_gbps = measure_dram_read_gbps(threads, dram_bytes, quick ? 3 : 10);
  g_limits.gemm_openblas_gflops = measure_openblas_sgemm_gflops(threads, gemm_n, quick ? 2 : 5);
  g_limits.gemm_eigen_gflops = measure_eigen_sgemm_gflops(threads, gemm_n, quick ? 2 : 3);
  g_limits.gemm_gflops = std::max(g_limits.gemm_openblas_gflops, g_limits.gemm_eigen_gflops);
  const double dram1 = measure_dram_read_gbps(1, dram_bytes, quick ? 3 : 5);
  const double gemm1 = measure_gemm_gflops(1, gemm_n, quick ? 2 : 3);
  char text[64];
  const auto fmt = [&](double v) {
    std::snprintf(text, sizeof text, "%.1f", v);
    return std::string(text);
  };
  benchmark::AddCustomContext("threads", std::to_string(threads));
  benchmark::AddCustomContext("dram_read_GB_s", fmt(g_limits.dram_read_gbps));
  benchmark::AddCustomContext("gemm_peak_GFLOP_s", fmt(g_limits.gemm_gflops));
  benchmark::AddCustomContext("gemm_openblas_GFLOP_s",
                              fmt(g_limits.gemm_openblas_gflops) + " (" + openblas_core() + ")");
  benchmark::AddCustomContext("gemm_eigen_GFLOP_s", fmt(g_limits.gemm_eigen_gflops));
  benchmark::AddCustomContext("dram_read_GB_s_1_thread", fmt(dram1));
  benchmark::AddCustomContext("gemm_peak_GFLOP_s_1_thread", fmt(gemm1));
  benchmark::AddCustomContext("environment", std::getenv("ATTNLAB_BENCH_ENV") != nullptr
                                                 ? std::getenv("ATTNLAB_BENCH_ENV")
                                                 : "unchanged");
  benchmark::AddCustomContext("timed",
                              "decode_core/prefill_core: attention core only (no projections)");

  g_dram_probe = std::make_unique<DramReadProbe>(threads, dram_bytes);
  g_gemm_probe = std::make_unique<GemmProbe>(
      threads, g_limits.gemm_openblas_gflops >= g_limits.gemm_eigen_gflops, gemm_n);
  for (const Case& c : cases(set))
    benchmark::RegisterBenchmark(c.name().c_str(), [c](benchmark::State& s) { run_case(s, c); })
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
  benchmark::RunSpecifiedBenchmarks();
  g_fixture.reset();
  g_dram_probe.reset();
  // The same limits once more after the cases: a large difference from the context above means
  // the machine was busy with something else during the run (the fractions are then unreliable).
  if (calibration != "quick")
    std::printf(
        "limits re-measured after the cases (%d threads): dram_read_GB_s %.1f, "
        "gemm_peak_GFLOP_s %.1f\n",
        threads, measure_dram_read_gbps(threads, dram_bytes, 10),
        measure_gemm_gflops(threads, gemm_n, 5));
  benchmark::Shutdown();
  return 0;
}
