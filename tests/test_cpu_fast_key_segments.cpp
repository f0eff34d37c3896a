// Tests of the fast core's second key segment (kernels/cpu/fast_kernels.h RowsJob::keys2,
// CoreProblem::keys2: GTA's one rope key shared by every KV head): a job whose key row t is
// [keys row t | keys2 row t] gives what the same keys stored concatenated give, and what an fp64
// loop over the cache-rounded values gives, for fp32/bf16/fp16 caches, the rows kernel (m <= 8;
// reading the second segment itself, and through assembled tiles) and the lanes kernel (m > 8),
// values aliasing the keys' prefix (MLA absorb) or apart, uneven key splits and rows with a window
// ([first, limit) with first > 0); and run_core with one keys2 stream shared by several key streams
// per sequence (key2_stream_stride 0), batch > 1, forced key splits and a sliding-window mask,
// against run_core over the concatenated cache.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include <catch2/catch.hpp>

#include "kernels/cpu/fast_kernels.h"
#include "kernels/cpu/fast_simd.h"

using namespace attnlab;
using namespace attnlab::cpu::fast;

namespace {

const DType kDtypes[] = {DType::fp32, DType::bf16, DType::fp16};

// Values stored in a cache dtype: the bytes, and the values they hold as fp32.
struct Stored {
  std::vector<std::byte> bytes;
  std::vector<float> values;
};

template <class E>
Stored store_as(const std::vector<float>& x) {
  Stored s{std::vector<std::byte>(x.size() * sizeof(E)), std::vector<float>(x.size())};
  E* p = reinterpret_cast<E*>(s.bytes.data());
  for (size_t i = 0; i < x.size(); ++i) {
    p[i] = from_float<E>(x[i]);
    s.values[i] = to_float(p[i]);
  }
  return s;
}

Stored store(DType dtype, const std::vector<float>& x) {
  switch (dtype) {
    case DType::bf16:
      return store_as<bf16_t>(x);
    case DType::fp16:
      return store_as<fp16_t>(x);
    default:
      return store_as<float>(x);
  }
}

// [rows, a] and [rows, b] side by side: [rows, a + b] (bytes of `e` per element).
std::vector<std::byte> concat_rows(const std::vector<std::byte>& x, int64_t a,
                                   const std::vector<std::byte>& y, int64_t b, int64_t rows,
                                   size_t e) {
  std::vector<std::byte> out(rows * (a + b) * e);
  for (int64_t t = 0; t < rows; ++t) {
    std::memcpy(out.data() + t * (a + b) * e, x.data() + t * a * e, a * e);
    std::memcpy(out.data() + (t * (a + b) + a) * e, y.data() + t * b * e, b * e);
  }
  return out;
}

std::vector<float> normal_values(size_t n, float sigma, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, sigma);
  std::vector<float> x(n);
  for (float& v : x) v = normal(rng);
  return x;
}

// Runs job over key ranges [bounds[s], bounds[s + 1]) through attend_range (the rows kernel for
// m <= 8, the lanes kernel above; a second key segment read by the rows kernel itself over fp32,
// else in assembled tiles) or, direct_rows, the rows kernel itself in every dtype, merged by
// log-sum-exp: out [m, dv] and lse [m].
void run_ranges(const RowsJob& job, const std::vector<int64_t>& bounds, std::vector<float>& out,
                std::vector<float>& lse, bool direct_rows = false) {
  const int64_t m = job.m, dv = job.dv;
  const size_t n = bounds.size() - 1;
  std::vector<std::vector<float>> storage(n, std::vector<float>(m * (dv + 2)));
  std::vector<Partial> parts(n);
  for (size_t s = 0; s < n; ++s) {
    float* base = storage[s].data();
    parts[s] = {base, base + m * dv, base + m * dv + m};
    reset_partial(parts[s], m, dv);
    if (direct_rows)
      attend_range_rows(job, bounds[s], bounds[s + 1], parts[s]);
    else
      attend_range(job, bounds[s], bounds[s + 1], parts[s]);
  }
  out.assign(m * dv, 0.0f);
  lse.assign(m, 0.0f);
  std::vector<float*> out_rows(m), lse_rows(m);
  for (int64_t i = 0; i < m; ++i) out_rows[i] = out.data() + i * dv, lse_rows[i] = &lse[i];
  merge_partials(parts.data(), static_cast<int>(n), m, dv, out_rows.data(), lse_rows.data());
}

double nmse(const std::vector<float>& x, const std::vector<double>& ref) {
  double err2 = 0, ref2 = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    err2 += std::pow(x[i] - ref[i], 2);
    ref2 += ref[i] * ref[i];
  }
  return err2 / ref2;
}

}  // namespace

TEST_CASE("fast core: keys2 rows attend as the same keys concatenated", "[fast][core][keys2]") {
  struct Shape {
    int64_t m, dk, dk2, dv;
    bool values_in_keys;  // values = the first dv elements of each keys row (MLA absorb)
    int64_t window;       // 0: causal rows ending at t
  };
  const Shape shapes[] = {{1, 128, 64, 128, true, 0},  {4, 40, 24, 40, true, 300},
                          {3, 17, 9, 11, false, 0},    {8, 64, 64, 64, false, 129},
                          {9, 128, 64, 128, true, 0},  {16, 256, 64, 256, true, 77},
                          {40, 20, 12, 53, false, 0},  {71, 72, 8, 64, true, 500},
                          {64, 512, 64, 512, true, 0}, {20, 8, 4, 8, true, 200}};
  const int64_t t = 1000;
  for (const DType dtype : kDtypes)
    for (const Shape& s : shapes) {
      std::mt19937 rng(static_cast<unsigned>(s.m * 13 + s.dk));
      const size_t e = bytes_per_element(dtype);
      const Stored k1 = store(dtype, normal_values(t * s.dk, 1.0f, rng));
      const Stored k2 = store(dtype, normal_values(t * s.dk2, 1.0f, rng));
      const Stored v = store(dtype, normal_values(t * s.dv, 1.0f, rng));
      const std::vector<float> q = normal_values(s.m * (s.dk + s.dk2), 0.3f, rng);
      std::vector<int64_t> first(s.m), limit(s.m);
      for (int64_t i = 0; i < s.m; ++i) {
        limit[i] = t - s.m + i + 1;
        first[i] = s.window > 0 ? std::max<int64_t>(0, limit[i] - s.window - 3 * (i % 4)) : 0;
      }
      // Truth: fp64 over the stored values of exactly [first, limit) of each row.
      const int64_t dk = s.dk + s.dk2;
      auto key = [&](int64_t row, int64_t j) {
        return j < s.dk ? k1.values[row * s.dk + j] : k2.values[row * s.dk2 + j - s.dk];
      };
      auto value = [&](int64_t row, int64_t j) {
        return s.values_in_keys ? k1.values[row * s.dk + j] : v.values[row * s.dv + j];
      };
      std::vector<double> ref_out(s.m * s.dv, 0.0), ref_lse(s.m);
      for (int64_t i = 0; i < s.m; ++i) {
        std::vector<double> score;
        for (int64_t row = first[i]; row < limit[i]; ++row) {
          double dot = 0;
          for (int64_t j = 0; j < dk; ++j) dot += double(q[i * dk + j]) * key(row, j);
          score.push_back(dot);
        }
        const double top = *std::max_element(score.begin(), score.end());
        double sum = 0;
        for (double x : score) sum += std::exp2(x - top);
        for (int64_t row = first[i]; row < limit[i]; ++row)
          for (int64_t j = 0; j < s.dv; ++j)
            ref_out[i * s.dv + j] += std::exp2(score[row - first[i]] - top) / sum * value(row, j);
        ref_lse[i] = (top + std::log2(sum)) * std::log(2.0);
      }
      std::vector<const float*> q_rows(s.m);
      for (int64_t i = 0; i < s.m; ++i) q_rows[i] = q.data() + i * dk;
      RowsJob split;
      split.dtype = dtype;
      split.keys = {k1.bytes.data(), s.dk};
      split.keys2 = {k2.bytes.data(), s.dk2};
      split.values = s.values_in_keys ? split.keys : RowStream{v.bytes.data(), s.dv};
      split.dk = s.dk;
      split.dk2 = s.dk2;
      split.dv = s.dv;
      split.m = s.m;
      split.q = q_rows.data();
      split.first = first.data();
      split.limit = limit.data();
      // The same keys stored concatenated, one segment.
      const std::vector<std::byte> joined = concat_rows(k1.bytes, s.dk, k2.bytes, s.dk2, t, e);
      RowsJob whole = split;
      whole.keys = {joined.data(), dk};
      whole.keys2 = {};
      whole.dk = dk;
      whole.dk2 = 0;
      whole.values = s.values_in_keys ? whole.keys : split.values;
      for (const std::vector<int64_t>& bounds :
           {std::vector<int64_t>{0, t}, std::vector<int64_t>{0, 1, 333, 333, 334, 717, 930, t}})
        for (bool direct_rows : {false, true}) {
          if (direct_rows && s.m > kMaxRowsKernelRows) continue;
          std::vector<float> out2, lse2, out1, lse1;
          run_ranges(split, bounds, out2, lse2, direct_rows);
          run_ranges(whole, bounds, out1, lse1);
          double lse_err = 0, lse_diff = 0;
          for (int64_t i = 0; i < s.m; ++i) {
            lse_err = std::max(lse_err, std::abs(lse2[i] - ref_lse[i]));
            lse_diff = std::max(lse_diff, double(std::abs(lse2[i] - lse1[i])));
          }
          const std::vector<double> one(out1.begin(), out1.end());
          INFO(to_string(dtype) << " m " << s.m << " dk " << s.dk << " + " << s.dk2 << " dv "
                                << s.dv << " window " << s.window << " ranges " << bounds.size() - 1
                                << (direct_rows ? " (rows kernel)" : "") << ": NMSE vs fp64 "
                                << nmse(out2, ref_out) << ", vs concatenated " << nmse(out2, one)
                                << ", LSE error " << lse_err);
          CHECK(nmse(out2, ref_out) < 1e-11);
          CHECK(nmse(out2, one) < 1e-11);
          CHECK(lse_err < 1e-4);
          CHECK(lse_diff < 1e-4);
        }
    }
}

TEST_CASE("fast core: run_core with one keys2 stream shared by every key stream",
          "[fast][core][keys2]") {
  // 2 sequences x 3 key streams, each stream's keys [latent (dk) | the sequence's shared rope
  // key (dk2)], values = the latent (GTA lowered to MLA absorb).
  const int64_t batch = 2, streams = 3, length = 1500, dk = 48, dk2 = 16;
  struct Run {
    int64_t group, seq, window;
    int splits;
  };
  const Run runs[] = {{4, 1, 0, 0}, {4, 1, 0, 3},   {2, 3, 200, 0},
                      {4, 5, 0, 2}, {8, 7, 301, 4}, {16, 1, 0, 5}};
  for (const DType dtype : kDtypes)
    for (const Run& r : runs) {
      std::mt19937 rng(static_cast<unsigned>(r.group * 31 + r.seq + r.splits));
      const size_t e = bytes_per_element(dtype);
      const Stored latent = store(dtype, normal_values(batch * streams * length * dk, 1.0f, rng));
      const Stored rope = store(dtype, normal_values(batch * length * dk2, 1.0f, rng));
      const int64_t heads = streams * r.group;
      const std::vector<float> q = normal_values(batch * r.seq * heads * (dk + dk2), 0.3f, rng);
      // The concatenated cache [batch, streams, length, dk + dk2].
      std::vector<std::byte> joined(batch * streams * length * (dk + dk2) * e);
      for (int64_t b = 0; b < batch; ++b)
        for (int64_t k = 0; k < streams; ++k)
          for (int64_t t = 0; t < length; ++t) {
            std::byte* row = joined.data() + ((b * streams + k) * length + t) * (dk + dk2) * e;
            std::memcpy(row, latent.bytes.data() + ((b * streams + k) * length + t) * dk * e,
                        dk * e);
            std::memcpy(row + dk * e, rope.bytes.data() + (b * length + t) * dk2 * e, dk2 * e);
          }
      CoreProblem split;
      split.dtype = dtype;
      split.batch = batch;
      split.streams = streams;
      split.group = r.group;
      split.seq = r.seq;
      split.length = length;
      split.mask = MaskSpec{r.window};
      split.keys = split.values = latent.bytes.data();
      split.key_stream_stride = split.value_stream_stride = length * dk;
      split.key_row_stride = split.value_row_stride = dk;
      split.dk = split.dv = dk;
      split.keys2 = rope.bytes.data();
      split.key2_stream_stride = 0;
      split.key2_batch_stride = length * dk2;
      split.key2_row_stride = dk2;
      split.dk2 = dk2;
      split.q = q.data();
      split.q_scale = 0.7f;
      split.forced_splits = r.splits;
      CoreProblem whole = split;
      whole.keys = whole.values = joined.data();
      whole.key_stream_stride = whole.value_stream_stride = length * (dk + dk2);
      whole.key_row_stride = whole.value_row_stride = dk + dk2;
      whole.dk = dk + dk2;
      whole.keys2 = nullptr;
      whole.key2_batch_stride = whole.key2_row_stride = whole.dk2 = 0;
      const int64_t rows = batch * r.seq * heads;
      std::vector<float> out2(rows * dk), lse2(rows), out1(rows * dk), lse1(rows);
      split.out = out2.data();
      split.lse = lse2.data();
      whole.out = out1.data();
      whole.lse = lse1.data();
      run_core(split);
      run_core(whole);
      double lse_diff = 0;
      for (int64_t i = 0; i < rows; ++i)
        lse_diff = std::max(lse_diff, double(std::abs(lse2[i] - lse1[i])));
      const double diff = nmse(out2, std::vector<double>(out1.begin(), out1.end()));
      INFO(to_string(dtype) << " group " << r.group << " seq " << r.seq << " window " << r.window
                            << " splits " << r.splits << ": NMSE " << diff << ", LSE " << lse_diff);
      CHECK(diff < 1e-11);
      CHECK(lse_diff < 1e-4);
    }
}
