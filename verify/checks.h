// The checks `attnlab verify` runs on every (case, implementation) pair. Each one runs the
// implementation in some way and names what the fp64 truth (the reference of the variant's
// defining form, prefill) says the result must be; judge() then applies the tolerance table.
//   prefill      all tokens in one forward
//   decode       one token per forward through the KV cache
//   prompt_decode  all tokens but the last 3 in one forward, then those 3 one per forward (the
//                decode path after a long context at the cost of a prefill)
//   chunked      prefill in chunks, each attending over the cache the earlier ones filled
//   shift        every position id + 4096: RoPE scores depend only on m - n
//   batch        one sequence alone equals its row in the batch
//   causal       changing the last token changes no earlier output
//   rope_swap    the other RoPE layout with q/k rows permuted (variants/conversions.h; GTA, GLA:
//                the q rope rows and the rope key's rows)
//   as_mha       GQA/MQA rewritten as MHA with repeated k/v heads (not GTA: its heads are tied)
//   as_mla       GQA/MQA (no RoPE) rewritten as MLA with kv_lora_rank = 2 n_kv d (TransMLA);
//                runs the MLA implementations on the GQA cases (not GTA, GLA, MLA)
//   tp_shards    heads split over ranks, outputs summed after o_proj (GTA: over its tied heads
//                as GQA; GLA: over its latent heads, each rank with its groups' query heads)
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "registry/registry.h"
#include "verify/verify_config.h"

namespace attnlab {

// Everything a check needs about one case, computed once per case.
struct CaseData {
  VerifyCase spec;
  LayerConfig config;
  Weights weights;
  Tensor<double> x;
  Tensor<int64_t> positions;
  RunOutput truth;  // reference of defining_form(config), prefill
};
CaseData prepare_case(const VerifyCase& spec);
// The same for a layer config given directly (spec.model is then only a label).
CaseData prepare_case(const LayerConfig& config, const VerifyCase& spec);

struct CheckRun {
  RunOutput actual;
  RunOutput expected;
};

struct Check {
  std::string name;
  // "" when the check applies to (case, implementation), else why not (reported as SKIP).
  std::function<std::string(const CaseData&, const Implementation&)> not_applicable;
  std::function<CheckRun(const CaseData&, const Implementation&)> run;
};

const std::vector<Check>& verify_checks();

// How the checks that feed one case's tokens in pieces split seq tokens into forwards:
// "prefill" {seq}, "decode" all ones, "prompt_decode" {seq - 3, 1, 1, 1}, "chunked" chunks of
// max(2, seq / 3). "" when `phase` applies to a sequence of this length, else why not; the
// golden files (verify/golden.h) write each as a phase.
std::vector<std::string> phase_names();
std::string phase_excluded(const std::string& phase, int64_t seq);
std::vector<int64_t> phase_chunks(const std::string& phase, int64_t seq);
// The names of verify_checks(), in order, and whether `name` is one of them.
std::vector<std::string> check_names();
bool is_check_name(const std::string& name);

}  // namespace attnlab
