// The reference's work counter; see work_counter.h.
#include "reference/work_counter.h"

#include <stdexcept>

namespace attnlab::reference {

namespace {

thread_local WorkCounter* active_counter = nullptr;

void insert_range(std::unordered_set<const double*>& set, const double* first, int64_t count) {
  for (int64_t i = 0; i < count; ++i) set.insert(first + i);
}

}  // namespace

WorkCounter::WorkCounter() {
  if (active_counter) throw std::logic_error("WorkCounter: a counter is already alive here");
  active_counter = this;
}

WorkCounter::~WorkCounter() {
  active_counter = nullptr;
}

void WorkCounter::add_multiply_adds(int64_t count) {
  if (active_counter) active_counter->multiply_adds_ += count;
}

void WorkCounter::note_cache_read(const double* first, int64_t count) {
  if (active_counter) insert_range(active_counter->read_, first, count);
}

void WorkCounter::note_cache_written(const double* first, int64_t count) {
  if (active_counter) insert_range(active_counter->written_, first, count);
}

}  // namespace attnlab::reference
