// The attention step of the CUDA forms; see cuda_core.h.
#include "kernels/cuda/cuda_core.h"

#include <algorithm>
#include <string>
#include <vector>

#include "core/error.h"

ATTNLAB_CUDA_BEGIN

namespace {

size_t g_score_budget = size_t{256} << 20;

KeyValueParts parts_of(const CudaCache& cache, const AttendRequest& r) {
  KeyValueParts kv;
  kv.key_parts = r.key_part_count;
  int64_t key_width = 0;
  for (int i = 0; i < r.key_part_count; ++i) {
    kv.key[i] = cache.part(r.key_parts[i]);
    key_width += kv.key[i].width;
    if (kv.key[i].heads != r.kv_heads && kv.key[i].heads != 1)
      throw Error("attend: key part heads neither kv_heads nor 1");
  }
  kv.value = cache.part(r.value_part);
  if (key_width != r.key_dim) throw Error("attend: key parts do not add up to key_dim");
  if (kv.value.width != r.value_dim || kv.value.heads != r.kv_heads)
    throw Error("attend: value part does not match value_dim / kv_heads");
  return kv;
}

// Decode: one block per (query head, split of kSplitKeys keys of its range), then the combine.
void decode(Workspace& ws, const AttendShape& shape, const StepKeys& keys, const KeyValueParts& kv,
            const AttendRequest& r) {
  const int64_t query_heads = shape.batch * shape.seq * shape.heads;
  int64_t splits = 1;  // enough for the largest range
  for (int64_t s = 0; s < shape.seq; ++s) splits = std::max(splits, splits_for(keys.of(s).size()));
  float* partials = ws.floats(Slot::split_partials, query_heads * splits * shape.value_dim);
  float* stats = ws.floats(Slot::split_stats, query_heads * splits * 2);
  split_attend(shape, r.q, r.score_bias, kv, splits, partials, stats);
  combine_splits(shape, splits, partials, stats, r.out, r.lse);
}

// Prefill: keys K [batch, kv_heads, tokens, key_dim] and values V [.., value_dim] in fp32 of the
// slots first .. first + tokens - 1 that some new token sees ([first, first + tokens) = the
// union of the step's ranges: the first range's lo to the last range's hi, so a sliding window
// gathers only the slots inside it), the queries grouped by kv head Qg [batch, kv_heads,
// seq * group, key_dim] (row s * group + j is head g * group + j of token s). Per chunk of
// tokens [s0, s1) and per (b, g), row-major, with slots [k0, k0 + tc) = the chunk's key block
// (StepKeys::of_block: every key any query of the chunk can see), rows k0 - first .. of K, V:
//   S [rows, tc] = Qg[s0 * group ..] K[k0 - first ..]^T     (rows = (s1 - s0) * group)
//   P = masked softmax of S (in place; each row's keys outside its range get 0)
//   Og[s0 * group ..] [rows, value_dim] = P V[k0 - first ..]
void prefill(const Blas& blas, Workspace& ws, const AttendShape& shape, const StepKeys& keys,
             const KeyValueParts& kv, const AttendRequest& r) {
  const int64_t batch = shape.batch, seq = shape.seq, kvh = shape.kv_heads, group = shape.group;
  const int64_t dk = shape.key_dim, dv = shape.value_dim;
  const KeyRange span = keys.of_block(0, seq);  // ranges are monotone: first starts, last ends
  const int64_t first = span.lo, tokens = span.size();
  const int64_t grouped_rows = seq * group;  // per (b, g)

  float* key_rows = ws.floats(Slot::keys_fp32, batch * kvh * tokens * dk);
  int64_t offset = 0;
  for (int i = 0; i < kv.key_parts; ++i) {
    gather_tokens(kv.key[i], first, tokens, key_rows, dk, offset, kvh);  // 1 head: copies
    offset += kv.key[i].width;
  }
  float* values = ws.floats(Slot::values_fp32, batch * kvh * tokens * dv);
  gather_tokens(kv.value, first, tokens, values, dv, 0);
  float* grouped_q = ws.floats(Slot::grouped_q, batch * kvh * grouped_rows * dk);
  group_queries(r.q, batch, seq, kvh, group, dk, grouped_q);
  float* grouped_out = ws.floats(Slot::grouped_out, batch * kvh * grouped_rows * dv);

  // Tokens per chunk: the scores of a chunk, batch * kvh * (chunk * group) * tokens floats, stay
  // under the budget (at least one token per chunk).
  const double bytes_per_token = 4.0 * double(batch * kvh * group) * double(tokens);
  const int64_t chunk =
      std::clamp<int64_t>(static_cast<int64_t>(double(g_score_budget) / bytes_per_token), 1, seq);
  float* scores = ws.floats(Slot::scores, batch * kvh * chunk * group * tokens);

  for (int64_t s0 = 0; s0 < seq; s0 += chunk) {
    const int64_t s1 = std::min(seq, s0 + chunk);
    const int64_t rows = (s1 - s0) * group;
    const KeyRange block = keys.of_block(s0, s1);
    const int64_t k0 = block.lo, tc = block.size();

    RowMajorGemm qk;  // S [rows, tc] = Qg [rows, dk] . K [tc, dk]^T, batched over (b, g)
    qk.m = rows;
    qk.n = tc;
    qk.k = dk;
    qk.a = grouped_q + s0 * group * dk;
    qk.lda = dk;
    qk.stride_a = grouped_rows * dk;
    qk.b = key_rows + (k0 - first) * dk;
    qk.ldb = dk;
    qk.trans_b = true;
    qk.stride_b = tokens * dk;
    qk.c = scores;
    qk.ldc = tc;
    qk.stride_c = rows * tc;
    qk.batch = batch * kvh;
    blas.gemm(qk);

    masked_softmax(shape, scores, s0, s1, k0, tc, r.score_bias, r.lse);

    RowMajorGemm pv;  // Og [rows, dv] = P [rows, tc] . V [tc, dv], batched over (b, g)
    pv.m = rows;
    pv.n = dv;
    pv.k = tc;
    pv.a = scores;
    pv.lda = tc;
    pv.stride_a = rows * tc;
    pv.b = values + (k0 - first) * dv;
    pv.ldb = dv;
    pv.stride_b = tokens * dv;
    pv.c = grouped_out + s0 * group * dv;
    pv.ldc = dv;
    pv.stride_c = grouped_rows * dv;
    pv.batch = batch * kvh;
    blas.gemm(pv);
  }
  ungroup_outputs(grouped_out, batch, seq, kvh, group, dv, r.out);
}

}  // namespace

size_t prefill_score_budget() {
  return g_score_budget;
}
void set_prefill_score_budget(size_t bytes) {
  g_score_budget = std::max<size_t>(bytes, 1);
}

StepKeys stage_step_keys(Workspace& workspace, const MaskSpec& mask, int64_t length, int64_t seq) {
  StepKeys keys;
  keys.mask = mask;
  keys.length = length;
  keys.seq = seq;
  std::vector<int64_t> ranges(2 * seq);
  for (int64_t s = 0; s < seq; ++s) {
    const KeyRange range = keys.of(s);
    ranges[2 * s] = range.lo;
    ranges[2 * s + 1] = range.hi;
  }
  int64_t* device = workspace.int64s(Slot::key_ranges, ranges.size());
  copy_to_device(device, ranges.data(), ranges.size() * sizeof(int64_t));
  keys.device = device;
  return keys;
}

void attend(const Blas& blas, Workspace& workspace, const CudaCache& cache, const StepKeys& keys,
            const AttendRequest& r) {
  if (r.heads < 1 || r.kv_heads < 1 || r.heads % r.kv_heads != 0)
    throw Error("attend: heads must be a multiple of kv_heads");
  const KeyValueParts kv = parts_of(cache, r);
  AttendShape shape;
  shape.batch = cache.batch();
  shape.seq = keys.seq;
  shape.heads = r.heads;
  shape.kv_heads = r.kv_heads;
  shape.group = r.heads / r.kv_heads;
  shape.length = cache.length();
  shape.key_dim = r.key_dim;
  shape.value_dim = r.value_dim;
  shape.scale = r.scale;
  shape.key_ranges = keys.device;
  if (keys.length != cache.length()) throw Error("attend: key ranges of another cache length");
  if (keys.seq == 1)
    decode(workspace, shape, keys, kv, r);
  else
    prefill(blas, workspace, shape, keys, kv, r);
}

ATTNLAB_CUDA_END
