// KV cache per rank under tensor parallelism; see kv_tensor_parallel.h.
#include "variants/kv_tensor_parallel.h"

#include "core/error.h"

namespace attnlab {

namespace {

// The cache as heads that split over ranks, plus what every rank holds whole.
struct CacheHeads {
  int64_t heads = 0;      // distinct K/V, tied or latent heads
  int64_t per_head = 0;   // elements each caches per token
  int64_t shared = 0;     // elements per token every rank holds besides (GTA's rope key)
  const char* what = "";  // "KV heads", "latent heads", ...
};

CacheHeads cache_heads(const LayerConfig& c, ImplForm form) {
  switch (form) {
    case ImplForm::standard:
      if (c.is_gta()) return {c.n_kv_heads, c.head_dim, c.qk_rope_head_dim, "tied KV heads"};
      return {c.n_kv_heads, 2 * c.head_dim, 0, "KV heads"};
    case ImplForm::naive:
      return {c.n_heads, c.qk_head_dim() + c.v_head_dim, 0, "K/V heads"};
    case ImplForm::absorb:
      // GLA (and MLA, h_c = 1): each latent head with its own rope key; a layer lowered from
      // GTA (variants/latent_lowering.h) caches one rope key for all of them.
      if (c.n_latent_heads == 1) return {1, c.kv_lora_rank + c.qk_rope_head_dim, 0, "latent head"};
      if (c.rope_key_per_latent_head)
        return {c.n_latent_heads, c.kv_lora_rank + c.qk_rope_head_dim, 0,
                "latent heads (each with its rope key)"};
      return {c.n_latent_heads, c.kv_lora_rank, c.qk_rope_head_dim, "latent heads"};
  }
  return {};
}

std::string count(int64_t n, const std::string& what) {
  return std::to_string(n) + " " + what;
}

}  // namespace

KvPerRank kv_per_rank(const LayerConfig& c, ImplForm form, int64_t tp, const std::string& flag) {
  const std::string head = flag + " " + std::to_string(tp) + ": ";
  if (tp < 1) throw Error(flag + " must be at least 1, got " + std::to_string(tp));
  if (c.n_heads % tp != 0)
    throw Error(head + "does not divide the " + std::to_string(c.n_heads) + " query heads of '" +
                c.name + "'");
  const CacheHeads h = cache_heads(c, form);
  KvPerRank r;
  r.tp = tp;
  r.heads = h.heads;
  r.whole_elements_per_token_layer = h.heads * h.per_head + h.shared;
  if (tp <= h.heads && h.heads % tp != 0)
    throw Error(head + "does not divide the " + count(h.heads, h.what) + " of '" + c.name + "'");
  if (tp > h.heads && tp % h.heads != 0)
    throw Error(head + "is not a multiple of the " + count(h.heads, h.what) + " of '" + c.name +
                "' (each must be on the same number of ranks)");
  r.heads_per_rank = tp <= h.heads ? h.heads / tp : 1;
  r.elements_per_token_layer = r.heads_per_rank * h.per_head + h.shared;
  if (tp == 1) {
    r.split = "split";
    r.note = "one rank";
  } else if (h.heads == 1) {
    r.split = "duplicated";
    r.note = "the whole cache on every rank (all query heads read it)";
  } else if (tp > h.heads) {
    r.split = "replicated";
    r.note = count(h.heads, h.what) + " over " + std::to_string(tp) + " ranks: each on " +
             std::to_string(tp / h.heads) + " ranks";
  } else {
    r.split = "split";
    r.note = std::to_string(r.heads_per_rank) + " of " + count(h.heads, h.what) + " per rank";
  }
  if (h.shared > 0) r.note += "; the rope key on every rank";
  return r;
}

}  // namespace attnlab
