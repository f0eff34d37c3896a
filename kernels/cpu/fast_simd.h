// 16-lane fp32 vectors for the fast CPU backend (kernels/cpu/fast_*): one small API, two
// implementations. With AVX-512F (the default build uses -march=native) every operation is one
// or a few intrinsics; otherwise a plain array of 16 floats that the compiler vectorises (AVX2,
// SSE). The kernels are written once against this API, so the fast backend builds and passes
// its tests on any x86-64 (or other) machine and is fast where AVX-512 is present.
//
// Also here: the cache element types (fp32, bf16, fp16) as storage structs over core/dtype.h's
// scalar conversions, and 16-wide loads that widen them to fp32.
// Tested by tests/test_cpu_fast.cpp ("fast numeric" cases).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "core/dtype.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#define ATTNLAB_FAST_AVX512 1
#else
#define ATTNLAB_FAST_AVX512 0
#endif

namespace attnlab::cpu::fast {

// ---------------------------------------------------------------------------------------------
// Cache element types and their scalar conversions.

struct bf16_t {
  uint16_t bits;
};
struct fp16_t {
  uint16_t bits;
};

// Conversions: core/dtype.h's (round to nearest even, one NaN policy for all of attnlab).
inline bf16_t to_bf16(float f) {
  return {float_to_bf16(f)};
}
inline float to_float(bf16_t h) {
  return bf16_to_float(h.bits);
}
inline fp16_t to_fp16(float f) {
  return {float_to_fp16(f)};
}
inline float to_float(fp16_t h) {
  return fp16_to_float(h.bits);
}
inline float to_float(float f) {
  return f;
}

template <class E>
E from_float(float f);
template <>
inline float from_float<float>(float f) {
  return f;
}
template <>
inline bf16_t from_float<bf16_t>(float f) {
  return to_bf16(f);
}
template <>
inline fp16_t from_float<fp16_t>(float f) {
  return to_fp16(f);
}

// The NaN that fills never-written cache slots.
template <class E>
E nan_value() {
  return from_float<E>(std::numeric_limits<float>::quiet_NaN());
}

// ---------------------------------------------------------------------------------------------
// V16: 16 fp32 lanes. Mask: one bit per lane.

using Mask = uint16_t;
constexpr Mask kAllLanes = 0xFFFF;
// Lanes [0, n) for n in [0, 16]; n >= 16 gives all lanes.
inline Mask first_lanes(int64_t n) {
  return n >= 16 ? kAllLanes : n <= 0 ? Mask{0} : static_cast<Mask>((1u << n) - 1u);
}

#if ATTNLAB_FAST_AVX512

struct V16 {
  __m512 v;
};
inline V16 zero() {
  return {_mm512_setzero_ps()};
}
inline V16 set1(float x) {
  return {_mm512_set1_ps(x)};
}
inline V16 load(const float* p) {
  return {_mm512_loadu_ps(p)};
}
inline V16 load(const float* p, Mask m) {
  return {_mm512_maskz_loadu_ps(m, p)};
}
inline void store(float* p, V16 a) {
  _mm512_storeu_ps(p, a.v);
}
inline void store(float* p, V16 a, Mask m) {
  _mm512_mask_storeu_ps(p, m, a.v);
}
inline V16 fma(V16 a, V16 b, V16 c) {
  return {_mm512_fmadd_ps(a.v, b.v, c.v)};
}
// The value in a register: stops the compiler from folding a load into every FMA that uses it
// (a vector reused by 4 FMAs would otherwise be loaded 4 times, and the loop bound by loads).
inline V16 in_register(V16 a) {
  asm("" : "+v"(a.v));
  return a;
}
inline V16 add(V16 a, V16 b) {
  return {_mm512_add_ps(a.v, b.v)};
}
inline V16 sub(V16 a, V16 b) {
  return {_mm512_sub_ps(a.v, b.v)};
}
inline V16 mul(V16 a, V16 b) {
  return {_mm512_mul_ps(a.v, b.v)};
}
inline V16 max(V16 a, V16 b) {
  return {_mm512_max_ps(a.v, b.v)};
}
inline V16 div(V16 a, V16 b) {
  return {_mm512_div_ps(a.v, b.v)};
}
inline V16 select(Mask m, V16 a, V16 b) {
  return {_mm512_mask_blend_ps(m, b.v, a.v)};
}
inline float reduce_add(V16 a) {
  return _mm512_reduce_add_ps(a.v);
}
inline float reduce_max(V16 a) {
  return _mm512_reduce_max_ps(a.v);
}
inline Mask equal(V16 a, V16 b) {
  return _mm512_cmp_ps_mask(a.v, b.v, _CMP_EQ_OQ);
}
// Lanes whose int32 limit is > t (key t visible to that lane's query).
inline Mask lanes_above(const int32_t* limits, int64_t t) {
  return _mm512_cmpgt_epi32_mask(_mm512_loadu_si512(limits),
                                 _mm512_set1_epi32(static_cast<int32_t>(t)));
}

// 2^x lane-wise for x <= ~127, relative error ~2e-8 (degree-7 Taylor series of 2^f on
// |f| <= 1/2, then an exact power-of-two scale); -inf and anything below -150 give 0.
inline V16 exp2(V16 x) {
  const __m512 xc = _mm512_max_ps(x.v, _mm512_set1_ps(-150.0f));
  const __m512 n = _mm512_roundscale_ps(xc, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m512 f = _mm512_sub_ps(xc, n);
  // c_k = ln(2)^k / k!
  __m512 p = _mm512_set1_ps(1.5252733804059840e-05f);
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.5403530393381608e-04f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.3333558146428443e-03f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.6181291076284772e-03f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.5504108664821580e-02f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.4022650695910071e-01f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.9314718055994531e-01f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
  return {_mm512_scalef_ps(p, n)};
}

// Partial transpose-reduce of 4 vectors: lane 4*L + j of the result holds the sum of vector
// j's lanes 4L..4L+3 (L = 128-bit block). combine4 finishes 4 such results into one vector
// whose lane 4*k + j is the full sum of vector j of group k.
inline V16 reduce4(V16 a, V16 b, V16 c, V16 d) {
  const __m512 ab = _mm512_add_ps(_mm512_unpacklo_ps(a.v, b.v), _mm512_unpackhi_ps(a.v, b.v));
  const __m512 cd = _mm512_add_ps(_mm512_unpacklo_ps(c.v, d.v), _mm512_unpackhi_ps(c.v, d.v));
  const __m512d abd = _mm512_castps_pd(ab), cdd = _mm512_castps_pd(cd);
  return {_mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(abd, cdd)),
                        _mm512_castpd_ps(_mm512_unpackhi_pd(abd, cdd)))};
}
inline V16 combine4(V16 w0, V16 w1, V16 w2, V16 w3) {
  const __m512 s01 = _mm512_add_ps(_mm512_shuffle_f32x4(w0.v, w1.v, _MM_SHUFFLE(2, 0, 2, 0)),
                                   _mm512_shuffle_f32x4(w0.v, w1.v, _MM_SHUFFLE(3, 1, 3, 1)));
  const __m512 s23 = _mm512_add_ps(_mm512_shuffle_f32x4(w2.v, w3.v, _MM_SHUFFLE(2, 0, 2, 0)),
                                   _mm512_shuffle_f32x4(w2.v, w3.v, _MM_SHUFFLE(3, 1, 3, 1)));
  return {_mm512_add_ps(_mm512_shuffle_f32x4(s01, s23, _MM_SHUFFLE(2, 0, 2, 0)),
                        _mm512_shuffle_f32x4(s01, s23, _MM_SHUFFLE(3, 1, 3, 1)))};
}

// Transposes 16 vectors in place: lane c of vector r becomes lane r of vector c.
inline void transpose16(V16 (&r)[16]) {
  __m512 t[16], u[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i].v, r[2 * i + 1].v);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i].v, r[2 * i + 1].v);
  }
  for (int i = 0; i < 4; ++i) {  // u[4i + j], 128-bit block L: column 4L + j of rows 4i..4i+3
    const __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 1]);
    const __m512d c = _mm512_castps_pd(t[4 * i + 2]), d = _mm512_castps_pd(t[4 * i + 3]);
    u[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
    u[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
    u[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
    u[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
  }
  for (int j = 0; j < 4; ++j) {
    const __m512 x0 = _mm512_shuffle_f32x4(u[j], u[4 + j], _MM_SHUFFLE(2, 0, 2, 0));
    const __m512 x1 = _mm512_shuffle_f32x4(u[j], u[4 + j], _MM_SHUFFLE(3, 1, 3, 1));
    const __m512 y0 = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], _MM_SHUFFLE(2, 0, 2, 0));
    const __m512 y1 = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], _MM_SHUFFLE(3, 1, 3, 1));
    r[j].v = _mm512_shuffle_f32x4(x0, y0, _MM_SHUFFLE(2, 0, 2, 0));
    r[4 + j].v = _mm512_shuffle_f32x4(x1, y1, _MM_SHUFFLE(2, 0, 2, 0));
    r[8 + j].v = _mm512_shuffle_f32x4(x0, y0, _MM_SHUFFLE(3, 1, 3, 1));
    r[12 + j].v = _mm512_shuffle_f32x4(x1, y1, _MM_SHUFFLE(3, 1, 3, 1));
  }
}

// 16 cache elements (or the masked lanes) widened to fp32.
inline V16 load16(const float* p, Mask m) {
  return load(p, m);
}
inline V16 load16(const bf16_t* p, Mask m) {
  const __m256i h = _mm256_maskz_loadu_epi16(m, p);
  return {_mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16))};
}
inline V16 load16(const fp16_t* p, Mask m) {
  return {_mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p))};
}

#else  // portable fallback

struct V16 {
  float v[16];
};
#define ATTNLAB_LANES(expr)          \
  V16 r;                             \
  for (int i = 0; i < 16; ++i) expr; \
  return r
inline V16 set1(float x) {
  ATTNLAB_LANES(r.v[i] = x);
}
inline V16 zero() {
  return set1(0.0f);
}
inline V16 load(const float* p) {
  ATTNLAB_LANES(r.v[i] = p[i]);
}
inline V16 load(const float* p, Mask m) {
  ATTNLAB_LANES(r.v[i] = (m >> i) & 1 ? p[i] : 0.0f);
}
inline void store(float* p, V16 a) {
  for (int i = 0; i < 16; ++i) p[i] = a.v[i];
}
inline void store(float* p, V16 a, Mask m) {
  for (int i = 0; i < 16; ++i)
    if ((m >> i) & 1) p[i] = a.v[i];
}
inline V16 fma(V16 a, V16 b, V16 c) {
  ATTNLAB_LANES(r.v[i] = std::fma(a.v[i], b.v[i], c.v[i]));
}
inline V16 in_register(V16 a) {
  return a;
}
inline V16 add(V16 a, V16 b) {
  ATTNLAB_LANES(r.v[i] = a.v[i] + b.v[i]);
}
inline V16 sub(V16 a, V16 b) {
  ATTNLAB_LANES(r.v[i] = a.v[i] - b.v[i]);
}
inline V16 mul(V16 a, V16 b) {
  ATTNLAB_LANES(r.v[i] = a.v[i] * b.v[i]);
}
inline V16 max(V16 a, V16 b) {
  ATTNLAB_LANES(r.v[i] = a.v[i] > b.v[i] ? a.v[i] : b.v[i]);
}
inline V16 div(V16 a, V16 b) {
  ATTNLAB_LANES(r.v[i] = a.v[i] / b.v[i]);
}
inline V16 select(Mask m, V16 a, V16 b) {
  ATTNLAB_LANES(r.v[i] = (m >> i) & 1 ? a.v[i] : b.v[i]);
}
inline V16 exp2(V16 x) {
  ATTNLAB_LANES(r.v[i] = x.v[i] < -150.0f ? 0.0f : std::exp2(x.v[i]));
}
#undef ATTNLAB_LANES
inline float reduce_add(V16 a) {
  float s = 0;
  for (int i = 0; i < 16; ++i) s += a.v[i];
  return s;
}
inline float reduce_max(V16 a) {
  float s = a.v[0];
  for (int i = 1; i < 16; ++i) s = a.v[i] > s ? a.v[i] : s;
  return s;
}
inline Mask equal(V16 a, V16 b) {
  Mask m = 0;
  for (int i = 0; i < 16; ++i) m |= static_cast<Mask>((a.v[i] == b.v[i]) << i);
  return m;
}
inline Mask lanes_above(const int32_t* limits, int64_t t) {
  Mask m = 0;
  for (int i = 0; i < 16; ++i) m |= static_cast<Mask>((limits[i] > t) << i);
  return m;
}
inline V16 reduce4(V16 a, V16 b, V16 c, V16 d) {
  const V16* in[4] = {&a, &b, &c, &d};
  V16 r;
  for (int block = 0; block < 4; ++block)
    for (int j = 0; j < 4; ++j) {
      float s = 0;
      for (int i = 0; i < 4; ++i) s += in[j]->v[4 * block + i];
      r.v[4 * block + j] = s;
    }
  return r;
}
inline V16 combine4(V16 w0, V16 w1, V16 w2, V16 w3) {
  const V16* in[4] = {&w0, &w1, &w2, &w3};
  V16 r;
  for (int k = 0; k < 4; ++k)
    for (int j = 0; j < 4; ++j) {
      float s = 0;
      for (int block = 0; block < 4; ++block) s += in[k]->v[4 * block + j];
      r.v[4 * k + j] = s;
    }
  return r;
}
inline void transpose16(V16 (&r)[16]) {
  for (int a = 0; a < 16; ++a)
    for (int b = a + 1; b < 16; ++b) {
      const float x = r[a].v[b];
      r[a].v[b] = r[b].v[a];
      r[b].v[a] = x;
    }
}
template <class E>
inline V16 load16(const E* p, Mask m) {
  V16 r;
  for (int i = 0; i < 16; ++i) r.v[i] = (m >> i) & 1 ? to_float(p[i]) : 0.0f;
  return r;
}

#endif

// Prefetches a byte range into L1 one 64-byte line at a time, a few lines per step(), so that
// the requests for data a few blocks ahead are spread over the arithmetic of the current block.
// The kernels need it: their loops do so much arithmetic between loads that out-of-order
// execution alone keeps too few misses in flight to stream from DRAM, and a burst of prefetches
// at the start of a block measured slower than none (bench: 29 vs 17 GB/s on one thread).
struct PrefetchCursor {
  const char* p = nullptr;
  const char* end = nullptr;
  int64_t per_step = 0;
  PrefetchCursor() = default;
  // `bytes` from `start` over `steps` calls of step().
  PrefetchCursor(const void* start, int64_t bytes, int64_t steps)
      : p(static_cast<const char*>(start)),
        end(static_cast<const char*>(start) + bytes),
        per_step((bytes + 63) / 64 / (steps > 0 ? steps : 1) + 1) {}
  void step() {
    for (int64_t i = 0; i < per_step && p < end; ++i, p += 64) __builtin_prefetch(p, 0, 3);
  }
};

// dst[c * dst_stride + r] = scale * src[r][c0 + c] for r < rows (zero rows after them) and
// c < cols, both <= 16: a 16 x 16 block transposed through registers.
inline void transpose_block(const float* const* src, int rows, int64_t c0, int cols, float* dst,
                            int64_t dst_stride, float scale = 1.0f) {
  V16 r[16];
  const Mask m = first_lanes(cols);
  for (int i = 0; i < 16; ++i) r[i] = i < rows ? mul(load(src[i] + c0, m), set1(scale)) : zero();
  transpose16(r);
  for (int c = 0; c < cols; ++c) store(dst + c * dst_stride, r[c]);
}

// Converts n elements to fp32 (n may be any count).
template <class E>
inline void widen(const E* src, float* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) store(dst + i, load16(src + i, kAllLanes));
  if (i < n) store(dst + i, load16(src + i, first_lanes(n - i)), first_lanes(n - i));
}

}  // namespace attnlab::cpu::fast
