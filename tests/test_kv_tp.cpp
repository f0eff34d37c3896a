// KV cache per rank under tensor parallelism (variants/kv_tensor_parallel.h) and `attnlab kv
// --tp`: the width2048 family counted by hand (16 query heads of 128; GQA/GTA 4 KV heads; MLA
// latent 512 + rope 64; GLA-2 two latent heads of 256, each with a rope key of 64).
#include <catch2/catch.hpp>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/presets.h"
#include "tests/test_support.h"
#include "variants/kv_tensor_parallel.h"
#include "variants/variant_spec.h"

using namespace attnlab;

namespace {

int64_t per_rank(const char* preset, ImplForm form, int64_t tp) {
  return kv_per_rank(load_preset(preset), form, tp).elements_per_token_layer;
}

test::CliResult attnlab_cli(const std::string& args) {
  return test::run_cli(ATTNLAB_BINARY, args);
}

}  // namespace

TEST_CASE("per-rank KV elements of the width2048 presets at TP 1, 2, 4, 8 and 16") {
  const ImplForm standard = ImplForm::standard, absorb = ImplForm::absorb;
  // MHA: 16 heads x 2 x 128 split over the ranks.
  CHECK(per_rank("width2048-mha", standard, 2) == 2048);
  CHECK(per_rank("width2048-mha", standard, 16) == 256);
  // GQA-4: 4 KV heads; past TP 4 one head (replicated) per rank.
  CHECK(per_rank("width2048-gqa4", standard, 2) == 512);
  CHECK(per_rank("width2048-gqa4", standard, 4) == 256);
  CHECK(per_rank("width2048-gqa4", standard, 8) == 256);
  // MQA and MLA absorb: the whole cache on every rank.
  CHECK(per_rank("width2048-mqa", standard, 8) == 256);
  CHECK(per_rank("width2048-mla", absorb, 2) == 576);
  CHECK(per_rank("width2048-mla", absorb, 16) == 576);
  // GTA-4: tied heads split like GQA's, the 64-wide rope key on every rank.
  CHECK(per_rank("width2048-gta4", standard, 1) == 4 * 128 + 64);
  CHECK(per_rank("width2048-gta4", standard, 2) == 2 * 128 + 64);
  CHECK(per_rank("width2048-gta4", standard, 8) == 128 + 64);
  // GLA-2: 640 per token per layer, 320 per rank at TP 2 (one latent head with its rope copy).
  CHECK(per_rank("width2048-gla2", absorb, 1) == 640);
  CHECK(per_rank("width2048-gla2", absorb, 2) == 320);
  CHECK(per_rank("width2048-gla2", absorb, 8) == 320);
  // The naive forms cache per query head: 16 x (192 + 128) split.
  CHECK(per_rank("width2048-gla2", ImplForm::naive, 4) == 1280);

  const KvPerRank gqa8 = kv_per_rank(load_preset("width2048-gqa4"), standard, 8);
  CHECK(gqa8.split == "replicated");
  CHECK(gqa8.note == "4 KV heads over 8 ranks: each on 2 ranks");
  CHECK(kv_per_rank(load_preset("width2048-mla"), absorb, 2).split == "duplicated");
  CHECK(kv_per_rank(load_preset("width2048-mqa"), standard, 2).split == "duplicated");
  CHECK(kv_per_rank(load_preset("width2048-gla2"), absorb, 2).split == "split");
  CHECK_THAT(kv_per_rank(load_preset("width2048-gta4"), standard, 2).note,
             Catch::Contains("the rope key on every rank"));
}

TEST_CASE("at TP 1 every preset and form holds its whole cache_layout") {
  for (const std::string& name : preset_names("models")) {
    const LayerConfig c = load_preset(name);
    for (ImplForm form : impl_forms_for(c)) {
      INFO(name << " " << to_string(form));
      const KvPerRank r = kv_per_rank(c, form, 1);
      CHECK(r.whole_elements_per_token_layer == kv_elements_per_token_layer(c, form));
      CHECK(r.elements_per_token_layer == r.whole_elements_per_token_layer);
    }
  }
}

TEST_CASE("a tensor-parallel degree that cannot split the heads is a one-line error naming --tp") {
  const LayerConfig gqa = load_preset("width2048-gqa4");
  CHECK_THROWS_WITH(kv_per_rank(gqa, ImplForm::standard, 0), "--tp must be at least 1, got 0");
  CHECK_THROWS_WITH(kv_per_rank(gqa, ImplForm::standard, 3),
                    "--tp 3: does not divide the 16 query heads of 'width2048-gqa4'");
  // 4 KV heads, TP 6 would not divide 16 query heads; a layer of 24 query heads shows the rule.
  LayerConfig wide = gqa;
  wide.n_heads = 24;
  CHECK_THROWS_WITH(kv_per_rank(wide, ImplForm::standard, 6),
                    Catch::StartsWith("--tp 6: is not a multiple of the 4 KV heads"));
  LayerConfig three = gqa;
  three.n_heads = 24;
  three.n_kv_heads = 6;
  CHECK_THROWS_WITH(kv_per_rank(three, ImplForm::standard, 4),
                    "--tp 4: does not divide the 6 KV heads of 'width2048-gqa4'");
}

TEST_CASE("kv --tp 2 --json: GLA-2 320 elements per rank, MLA 576 on every rank") {
  const test::CliResult r = attnlab_cli(
      "kv --tp 2 --json --model width2048-gla2 --model width2048-mla "
      "--model width2048-gta4 --dtype bf16");
  REQUIRE(r.exit_code == 0);
  const auto records = nlohmann::json::parse(r.out);
  int checked = 0;
  for (const auto& rec : records) {
    CHECK(rec["tp"] == 2);
    if (rec["impl"] != "absorb" && rec["attention"] != "gta") continue;
    const std::string model = rec["model"];
    const int64_t expected = model == "width2048-gla2" ? 320 : model == "width2048-mla" ? 576 : 320;
    CHECK(rec["elements_per_token_layer_per_rank"] == expected);
    CHECK(rec["bytes_per_token_per_rank"] == 2.0 * 24 * double(expected));
    ++checked;
  }
  CHECK(checked == 3);
  const test::CliResult table = attnlab_cli("kv --tp 2 --model width2048-mla");
  CHECK_THAT(table.out, Catch::Contains("duplicated: the whole cache on every rank"));
  // Without --tp no per-rank field.
  const test::CliResult plain = attnlab_cli("kv --json --model width2048-mla");
  CHECK(plain.out.find("per_rank") == std::string::npos);
}

TEST_CASE("kv --tp errors: one line naming the flag, exit 2") {
  for (const char* args : {"kv --tp 0", "kv --tp 3 --model width2048-mha", "kv --tp x"}) {
    INFO(args);
    const test::CliResult r = attnlab_cli(args);
    CHECK(r.exit_code == 2);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK_THAT(r.err, Catch::StartsWith("attnlab: ") && Catch::Contains("--tp"));
    CHECK(r.out.empty());
  }
  // Listing every preset, one the degree cannot split (falcon-7b: 71 query heads) is a row of
  // "-" and a line below the table, not an error.
  const test::CliResult all = attnlab_cli("kv --tp 2");
  CHECK(all.exit_code == 0);
  CHECK_THAT(all.out,
             Catch::Contains("- --tp 2: does not divide the 71 query heads of 'falcon-7b'"));
}
