// Cache and masking properties (props/properties.h), for every variant and form: token-by-token
// decode and chunked prefill (random split points, prefill after existing context) equal one
// causal prefill — the CPU backend against itself and against the reference; causality (changing
// token j never changes outputs before j); batch independence (a sequence's outputs do not depend
// on its neighbours).
#include <catch2/catch.hpp>

#include "props/generators.h"
#include "props/properties.h"

using namespace attnlab;
using namespace attnlab::props;
namespace gen = rc::gen;

TEST_CASE("Decode through the KV cache equals one prefill", "[props][cache]") {
  CHECK(check_for_each_cpu("token-by-token decode and context + query == one prefill", 250,
                           [](const CpuUnderTest& cpu) {
                             const LayerConfig config = *gen_any_config();
                             const Case c = *gen_case();
                             decode_equals_prefill(config, c, cpu);
                           }));
}

TEST_CASE("Chunked prefill equals one prefill", "[props][cache]") {
  CHECK(check_for_each_cpu("prefill in random chunks == one prefill", 250,
                           [](const CpuUnderTest& cpu) {
                             const LayerConfig config = *gen_any_config();
                             const Case c = *gen_case();
                             const std::vector<int64_t> chunks = *gen_chunks(c.tokens());
                             chunked_equals_prefill(config, c, chunks, cpu);
                           }));
}

TEST_CASE("Causality: a token never changes the outputs before it", "[props][cache][mask]") {
  CaseOptions two_tokens;
  two_tokens.min_tokens = 2;
  CHECK(check_for_each_cpu("outputs before token j do not depend on token j", 250,
                           [two_tokens](const CpuUnderTest& cpu) {
                             const LayerConfig config = *gen_any_config();
                             const Case c = *gen_case(two_tokens);
                             const int64_t j = *gen::inRange<int64_t>(1, c.tokens());
                             const int64_t b = *gen::inRange<int64_t>(0, c.batch);
                             causality(config, c, j, b, cpu);
                           }));
}

TEST_CASE("Batch independence: neighbours never change a sequence", "[props][cache][batch]") {
  CHECK(check_for_each_cpu("a sequence's outputs do not depend on its batch neighbours", 250,
                           [](const CpuUnderTest& cpu) {
                             const LayerConfig config = *gen_any_config();
                             const Case c = *gen_case();
                             batch_independence(config, c, cpu);
                           }));
}
