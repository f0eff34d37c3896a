// Tests of the fast CPU backend's attention kernels below the Attention interface
// (kernels/cpu/fast_kernels.h): split-KV partial results merged by log-sum-exp equal one pass
// (uneven splits, empty ranges, both the rows and the lanes kernel), and every row attending over
// exactly its key range [first, limit) with first > 0 (a sliding window's shape, which no causal
// layer produces today), each against an fp64 loop.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include <catch2/catch.hpp>

#include "kernels/cpu/fast_kernels.h"
#include "kernels/cpu/fast_simd.h"

using namespace attnlab;
using namespace attnlab::cpu::fast;

namespace {

struct CoreData {
  int64_t m, t, dk, dv;
  std::vector<float> q, k, v;  // q pre-scaled (log2 units), k [t, dk], v [t, dv]
  std::vector<int64_t> limit;
};

CoreData core_data(int64_t m, int64_t t, int64_t dk, int64_t dv, uint64_t seed, bool causal) {
  std::mt19937 rng(static_cast<unsigned>(seed));
  std::normal_distribution<float> normal(0.0f, 1.0f);
  CoreData d{m, t, dk, dv, {}, {}, {}, {}};
  d.q.resize(m * dk);
  d.k.resize(t * dk);
  d.v.resize(t * dv);
  for (float& x : d.q) x = normal(rng) * 0.3f;
  for (float& x : d.k) x = normal(rng);
  for (float& x : d.v) x = normal(rng);
  for (int64_t i = 0; i < m; ++i) d.limit.push_back(causal ? t - m + i + 1 : t);
  return d;
}

// fp64 softmax attention of each row, natural-log LSE (scores in log2 units as the core's).
void core_truth(const CoreData& d, std::vector<double>& out, std::vector<double>& lse) {
  out.assign(d.m * d.dv, 0.0);
  lse.assign(d.m, 0.0);
  for (int64_t i = 0; i < d.m; ++i) {
    std::vector<double> s(d.limit[i]);
    double top = -INFINITY;
    for (int64_t t = 0; t < d.limit[i]; ++t) {
      double dot = 0;
      for (int64_t j = 0; j < d.dk; ++j) dot += double(d.q[i * d.dk + j]) * d.k[t * d.dk + j];
      s[t] = dot;
      top = std::max(top, dot);
    }
    double sum = 0;
    for (int64_t t = 0; t < d.limit[i]; ++t) sum += std::exp2(s[t] - top);
    for (int64_t t = 0; t < d.limit[i]; ++t)
      for (int64_t j = 0; j < d.dv; ++j)
        out[i * d.dv + j] += std::exp2(s[t] - top) / sum * d.v[t * d.dv + j];
    lse[i] = (top + std::log2(sum)) * std::log(2.0);
  }
}

// Runs job over the key ranges [bounds[s], bounds[s + 1]) (one partial each) with the rows or
// the lanes kernel, merges them by log-sum-exp into out [m, dv] and lse [m].
void run_splits(const cpu::fast::RowsJob& job, const std::vector<int64_t>& bounds, bool lanes,
                std::vector<float>& out, std::vector<float>& lse) {
  using namespace cpu::fast;
  const int64_t m = job.m, dv = job.dv;
  const size_t n = bounds.size() - 1;
  std::vector<std::vector<float>> storage(n, std::vector<float>(m * (dv + 2)));
  std::vector<Partial> parts(n);
  for (size_t s = 0; s < n; ++s) {
    float* base = storage[s].data();
    parts[s] = {base, base + m * dv, base + m * dv + m};
    reset_partial(parts[s], m, dv);
    if (lanes)
      attend_range_lanes(job, bounds[s], bounds[s + 1], parts[s]);
    else
      attend_range_rows(job, bounds[s], bounds[s + 1], parts[s]);
  }
  out.assign(m * dv, 0.0f);
  lse.assign(m, 0.0f);
  std::vector<float*> out_rows(m), lse_rows(m);
  for (int64_t i = 0; i < m; ++i) out_rows[i] = out.data() + i * dv, lse_rows[i] = &lse[i];
  merge_partials(parts.data(), static_cast<int>(n), m, dv, out_rows.data(), lse_rows.data());
}

// Runs the rows of d over the given key ranges, merged: out and lse.
void core_run(const CoreData& d, const std::vector<int64_t>& bounds, bool lanes,
              std::vector<float>& out, std::vector<float>& lse) {
  using namespace cpu::fast;
  std::vector<const float*> q(d.m);
  for (int64_t i = 0; i < d.m; ++i) q[i] = d.q.data() + i * d.dk;
  RowsJob job;
  job.keys = {d.k.data(), d.dk};
  job.values = {d.v.data(), d.dv};
  job.dk = d.dk;
  job.dv = d.dv;
  job.m = d.m;
  job.q = q.data();
  job.limit = d.limit.data();
  run_splits(job, bounds, lanes, out, lse);
}

}  // namespace

TEST_CASE("fast core: uneven key splits merged by log-sum-exp equal one pass", "[fast][core]") {
  struct Shape {
    int64_t m, dk, dv;
  };
  const Shape shapes[] = {{1, 128, 128}, {3, 40, 24},    {8, 17, 9},   {9, 64, 64},
                          {12, 20, 53},  {16, 576, 512}, {40, 72, 64}, {71, 576, 512}};
  for (const Shape& s : shapes)
    for (bool causal : {false, true})
      for (bool lanes : {false, true}) {
        if (!lanes && s.m > cpu::fast::kMaxRowsKernelRows) continue;
        const int64_t t = 1000;
        const CoreData d = core_data(s.m, t, s.dk, s.dv, s.m * 7 + causal, causal);
        std::vector<double> ref_out, ref_lse;
        core_truth(d, ref_out, ref_lse);
        std::vector<float> one_out, one_lse, split_out, split_lse;
        core_run(d, {0, t}, lanes, one_out, one_lse);
        // A 1-key range, an empty range, ranges not on tile or block boundaries.
        core_run(d, {0, 1, 333, 333, 334, 717, t}, lanes, split_out, split_lse);
        for (const auto* result : {&one_out, &split_out}) {
          double err2 = 0, ref2 = 0;
          for (size_t i = 0; i < ref_out.size(); ++i) {
            err2 += std::pow((*result)[i] - ref_out[i], 2);
            ref2 += ref_out[i] * ref_out[i];
          }
          INFO("m " << s.m << " dk " << s.dk << " dv " << s.dv << " causal " << causal << " lanes "
                    << lanes << ": NMSE " << err2 / ref2);
          CHECK(err2 / ref2 < 1e-11);
        }
        double lse_err = 0;
        for (int64_t i = 0; i < s.m; ++i)
          lse_err = std::max(
              {lse_err, std::abs(one_lse[i] - ref_lse[i]), std::abs(split_lse[i] - ref_lse[i])});
        CHECK(lse_err < 1e-4);
      }
}

namespace {

struct WindowedRows {
  int64_t m, t, dk, dv;
  std::vector<float> q, k, v;  // q pre-scaled (log2 units)
  std::vector<int64_t> first, limit;
};

WindowedRows windowed_rows(int64_t m, int64_t t, int64_t dk, int64_t dv, int64_t window,
                           int64_t shift, uint64_t seed) {
  std::mt19937 rng(static_cast<unsigned>(seed));
  std::normal_distribution<float> normal(0.0f, 1.0f);
  WindowedRows d{m, t, dk, dv, {}, {}, {}, {}, {}};
  d.q.resize(m * dk);
  d.k.resize(t * dk);
  d.v.resize(t * dv);
  for (float& x : d.q) x = normal(rng) * 0.3f;
  for (float& x : d.k) x = normal(rng);
  for (float& x : d.v) x = normal(rng);
  for (int64_t i = 0; i < m; ++i) {  // causal rows ending at t, sliding window, shifted lo
    const int64_t hi = t - m + i + 1;
    d.limit.push_back(hi);
    d.first.push_back(std::clamp<int64_t>(hi - window + shift * (i % 3), 0, hi - 1));
  }
  return d;
}

}  // namespace

TEST_CASE("fast core: rows and lanes kernels attend over [first, limit) with first > 0",
          "[fast][core][mask]") {
  using namespace cpu::fast;
  struct Shape {
    int64_t m, dk, dv, window, shift;
  };
  const Shape shapes[] = {{1, 128, 128, 100, 0}, {3, 40, 24, 64, 7},    {8, 17, 9, 300, 13},
                          {9, 64, 64, 129, 5},   {16, 576, 512, 77, 1}, {40, 72, 64, 200, 31},
                          {71, 24, 40, 500, 3}};
  const int64_t t = 1000;
  for (const Shape& s : shapes)
    for (bool lanes : {false, true}) {
      if (!lanes && s.m > kMaxRowsKernelRows) continue;
      const WindowedRows d = windowed_rows(s.m, t, s.dk, s.dv, s.window, s.shift, s.m * 11 + 3);
      // Truth: a plain fp64 loop over exactly [first, limit) of each row.
      std::vector<double> ref_out(s.m * s.dv, 0.0), ref_lse(s.m);
      for (int64_t i = 0; i < s.m; ++i) {
        std::vector<double> score;
        for (int64_t key = d.first[i]; key < d.limit[i]; ++key) {
          double dot = 0;
          for (int64_t j = 0; j < s.dk; ++j) dot += double(d.q[i * s.dk + j]) * d.k[key * s.dk + j];
          score.push_back(dot);
        }
        const double top = *std::max_element(score.begin(), score.end());
        double sum = 0;
        for (double x : score) sum += std::exp2(x - top);
        for (int64_t key = d.first[i]; key < d.limit[i]; ++key)
          for (int64_t j = 0; j < s.dv; ++j)
            ref_out[i * s.dv + j] +=
                std::exp2(score[key - d.first[i]] - top) / sum * d.v[key * s.dv + j];
        ref_lse[i] = (top + std::log2(sum)) * std::log(2.0);
      }
      std::vector<const float*> q(s.m);
      for (int64_t i = 0; i < s.m; ++i) q[i] = d.q.data() + i * s.dk;
      RowsJob job;
      job.keys = {d.k.data(), s.dk};
      job.values = {d.v.data(), s.dv};
      job.dk = s.dk;
      job.dv = s.dv;
      job.m = s.m;
      job.q = q.data();
      job.first = d.first.data();
      job.limit = d.limit.data();
      // One pass from 0, and splits (ranges wholly below some rows' first key included).
      for (const std::vector<int64_t>& bounds :
           {std::vector<int64_t>{0, t}, std::vector<int64_t>{0, 400, 777, 801, 930, t}}) {
        const size_t n = bounds.size() - 1;
        std::vector<float> out, lse;
        run_splits(job, bounds, lanes, out, lse);
        double err2 = 0, ref2 = 0, lse_err = 0;
        for (size_t i = 0; i < ref_out.size(); ++i) {
          err2 += std::pow(out[i] - ref_out[i], 2);
          ref2 += ref_out[i] * ref_out[i];
        }
        for (int64_t i = 0; i < s.m; ++i)
          lse_err = std::max(lse_err, std::abs(lse[i] - ref_lse[i]));
        INFO("m " << s.m << " dk " << s.dk << " window " << s.window << " lanes " << lanes
                  << " ranges " << n << ": NMSE " << err2 / ref2 << ", LSE error " << lse_err);
        CHECK(err2 / ref2 < 1e-11);
        CHECK(lse_err < 1e-4);
      }
    }
}
