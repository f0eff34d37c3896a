// Counts the work the fp64 reference does on the calling thread while a WorkCounter is alive:
// the multiply-adds of its contractions and the distinct KV-cache elements it reads and writes.
// tests/test_cost_model.cpp compares these counts with variants/cost_model.
//
// What is counted, and where:
//   multiply-adds: linear() (out x in per row), and the reference's dot and axpy helpers, which
//     every attention score, value mixture and MLA absorb per-head product goes through
//     (absorbed query W_UK^T q_nope, key-bias score q_nope . b_UK, value up-projection W_UV o).
//     Not counted: bias adds, the score scale, softmax (max, exp, division; a sink logit is one
//     more softmax term), RMSNorm (MLA's latent norms, QK-norm) and RoPE: elementwise work
//     outside the contractions, which the cost model leaves out too.
//   cache elements: what the attention reads from the cache (each element once, however many
//     query heads read it) and what a step writes into it, by address within one forward().
// Use one counter per forward() call: the reference grows its cache into fresh buffers each
// call, so addresses are only meaningful within one. With no counter alive, the hooks cost one
// thread-local pointer test.
#pragma once

#include <cstdint>
#include <unordered_set>

namespace attnlab::reference {

class WorkCounter {
 public:
  // Becomes the calling thread's counter; throws std::logic_error if one is already alive.
  WorkCounter();
  ~WorkCounter();
  WorkCounter(const WorkCounter&) = delete;
  WorkCounter& operator=(const WorkCounter&) = delete;

  int64_t multiply_adds() const { return multiply_adds_; }
  int64_t cache_elements_read() const { return static_cast<int64_t>(read_.size()); }
  int64_t cache_elements_written() const { return static_cast<int64_t>(written_.size()); }

  // The hooks the reference's helpers call; no-ops while no counter is alive on the thread.
  static void add_multiply_adds(int64_t count);
  static void note_cache_read(const double* first, int64_t count);
  static void note_cache_written(const double* first, int64_t count);

 private:
  int64_t multiply_adds_ = 0;
  std::unordered_set<const double*> read_;
  std::unordered_set<const double*> written_;
};

}  // namespace attnlab::reference
