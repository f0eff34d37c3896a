// Checked JSON reading (core/json_fields.h) through the real readers: a number that overflows a
// double, a non-finite, non-integer, negative, zero or out-of-range value, and sizes whose
// products would overflow int64 end in one attnlab::Error line naming the input and the field
// — for layer configs, sweep and verify configs, results files, sweep journals and merges, and
// safetensors headers.
#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/checked_math.h"
#include "core/error.h"
#include "core/json_fields.h"
#include "core/layer_config.h"
#include "io/safetensors.h"
#include "reports/results_file.h"
#include "sweep/sweep_config.h"
#include "sweep/sweep_results.h"
#include "tests/test_support.h"
#include "verify/verify_config.h"

using namespace attnlab;
using Catch::Contains;
using nlohmann::json;
using nlohmann::ordered_json;

namespace {

// The message of the attnlab::Error `read` throws; fails the test for any other outcome.
template <class Read>
std::string error_of(Read read) {
  try {
    read();
  } catch (const Error& e) {
    const std::string message = e.what();
    CHECK(message.find('\n') == std::string::npos);
    return message;
  }
  return "no error";
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

const char* kGqa = R"({"attention": "gqa", "hidden_size": 64, "n_heads": 8, "n_kv_heads": 2,
    "head_dim": 8, "rope": {"layout": "half_split", "theta": THETA}})";

std::string gqa_with_theta(const std::string& theta) {
  std::string text = kGqa;
  return text.replace(text.find("THETA"), 5, theta);
}

std::string layer_file_error(const std::string& text) {
  test::TempDir dir;
  const std::string path = dir.file("bad.json");
  write_text(path, text);
  std::string message = error_of([&] { load_layer_config_file(path); });
  const std::string prefix = path + ": ";
  CHECK(message.rfind(prefix, 0) == 0);
  return message.rfind(prefix, 0) == 0 ? message.substr(prefix.size()) : message;
}

std::string layer_error(const json& j) {
  return error_of([&] { parse_layer_config(j, "cfg.json"); });
}

json gqa() {
  return json::parse(gqa_with_theta("10000"));
}

// A results file with one case, as `attnlab sweep` writes it (the fields the reader checks).
json results_file() {
  return json::parse(R"({
    "context": {"num_cpus": 2},
    "benchmarks": [{"name": "c", "run_name": "c", "run_type": "iteration", "real_time": 5.0,
                    "time_unit": "ms"}],
    "attnlab": {"sweep": "s", "fingerprint": "f", "min_time_s": 0.1,
                "calibration": {"1": {"dram_read_gbps": 10.0, "gemm_gflops": 50.0}},
                "cases": [{"name": "c", "status": "ok",
                           "info": {"model": "tiny-gqa", "impl": "standard", "backend": "cpu",
                                    "dtype": "fp32", "phase": "decode", "attention": "gqa",
                                    "batch": 1, "context": 8, "new_tokens": 1, "threads": 1,
                                    "verify": {"status": "pass"},
                                    "roofline": {"bound": "memory"}}}]}})");
}

std::string results_error(const std::string& text) {
  test::TempDir dir;
  const std::string path = dir.file("r.json");
  write_text(path, text);
  return error_of([&] { reports::load_results_file(path, "[1]"); });
}

// A results file `attnlab merge` accepts: one shard of a one-case sweep.
ordered_json shard_file() {
  return ordered_json::parse(R"({"context": {}, "benchmarks": [],
      "attnlab": {"sweep": "s", "fingerprint": "f", "shard": "1/1", "total_cases": 1,
                  "cases": [{"index": 0, "name": "c", "status": "ok", "message": "",
                             "runs": [], "info": {}}]}})");
}

std::string merge_error(const std::string& text) {
  test::TempDir dir;
  write_text(dir.file("s.json"), text);
  return error_of([&] { merge_results({dir.file("s.json")}, dir.file("out.json")); });
}

}  // namespace

TEST_CASE("json_fields: overflow names the field's path; syntax errors name the input") {
  CHECK(error_of([] { parse_json(R"({"a": [1, {"b": 1e3084}]})", "x.json"); }) ==
        "x.json: a[1].b (1e3084) overflows a double");
  CHECK(error_of([] { parse_json("-1e400", "x.json"); }) ==
        "x.json: the top level (-1e400) overflows a double");
  CHECK(error_of([] { parse_ordered_json(R"([[0, 1], [2, 3e999]])", "o.json"); }) ==
        "o.json: [1][1] (3e999) overflows a double");
  CHECK_THAT(error_of([] { parse_json("{\"a\": ", "x.json"); }),
             Catch::StartsWith("x.json: not valid JSON (parse error at line 1, column 7"));
  // A key with a newline stays on one line.
  CHECK(error_of([] { parse_json("{\"a\\nb\": 1e999}", "x.json"); }) ==
        "x.json: a?b (1e999) overflows a double");
  CHECK(error_of([] {
          parse_json(R"({"a": {"k": 1, "k": 2}})", "x.json", {"bad", true});
        }) == "x.json: a names 'k' twice");
  CHECK(parse_json(R"({"a": {"k": 1, "k": 2}})", "x.json")["a"]["k"] == 2);
}

TEST_CASE("json_fields: the readers check type, range and finiteness") {
  CHECK(read_int(json(7), "o", "f", 1, 8) == 7);
  CHECK(error_of([] { read_int(json(2.5), "o", "n_heads", 1, 8); }) ==
        "o: n_heads must be an integer, got 2.5");
  CHECK(error_of([] { read_int(json(2.0), "o", "f", 1, 8); }) ==
        "o: f must be an integer, got 2.0");
  CHECK(error_of([] { read_int(json(-3), "o", "f", 1, 8); }) == "o: f (-3) must be in [1, 8]");
  CHECK(error_of([] { read_int(json(UINT64_MAX), "o", "f", 0, INT64_MAX); }) ==
        "o: f (18446744073709551615) must be in [0, 9223372036854775807]");
  CHECK(read_uint(json(UINT64_MAX), "o", "seed") == UINT64_MAX);
  CHECK(error_of([] { read_uint(json(-1), "o", "seed"); }) ==
        "o: seed (-1) must be in [0, 18446744073709551615]");
  CHECK(error_of([] { read_number(json(NAN), "o", "t", 0, 1); }) == "o: t (nan) must be in [0, 1]");
  CHECK(error_of([] { read_number(json(INFINITY), "o", "t"); }) ==
        "o: t (inf) must be in [-1.7976931348623157e+308, 1.7976931348623157e+308]");
  CHECK(error_of([] { read_number(json(0.0001), "o", "t", 0.001, 60); }) ==
        "o: t (0.0001) must be in [0.001, 60]");
  CHECK(error_of([] { read_positive_number(json(-INFINITY), "o", "t"); }) ==
        "o: t (-inf) must be a finite number > 0");
  CHECK(error_of([] { read_positive_number(json(0), "o", "t"); }) ==
        "o: t (0) must be a finite number > 0");
  CHECK(error_of([] { read_bool(json("yes"), "o", "b"); }) ==
        "o: b must be true or false, got \"yes\"");
  CHECK(error_of([] { read_string(json::array({1}), "o", "s"); }) ==
        "o: s must be a string, got an array");
}

TEST_CASE("checked_math: products and sums that overflow int64 give nothing") {
  CHECK(checked_mul(int64_t{1} << 31, int64_t{1} << 31) == int64_t{1} << 62);
  CHECK_FALSE(checked_mul(int64_t{1} << 32, int64_t{1} << 31));
  CHECK(checked_mul(-(int64_t{1} << 32), int64_t{1} << 31) == INT64_MIN);
  CHECK_FALSE(checked_mul(-(int64_t{1} << 32), (int64_t{1} << 31) + 1));
  CHECK_FALSE(checked_add(INT64_MAX, 1));
  CHECK(checked_product({2, 3, 7}) == 42);
  CHECK_FALSE(checked_product({int64_t{1} << 40, int64_t{1} << 30, 0}));
}

TEST_CASE("layer config: overflow, non-finite, non-integer and out-of-range fields") {
  CHECK(layer_file_error(gqa_with_theta("1e3084")) == "rope.theta (1e3084) overflows a double");
  CHECK(layer_file_error(gqa_with_theta("-1e400")) == "rope.theta (-1e400) overflows a double");
  CHECK(layer_file_error(R"({"attention": "mha", "hidden_size": 1e999, "n_heads": 1})") ==
        "hidden_size (1e999) overflows a double");
  // An integer beyond uint64 is parsed as a float.
  CHECK(layer_file_error(R"({"attention": "mha", "hidden_size": 100000000000000000000,
        "n_heads": 1})") == "hidden_size must be an integer, got 1e+20");
  CHECK(layer_file_error(gqa_with_theta("0")) == "rope.theta (0) must be a finite number > 0");

  json j = gqa();
  j["rope"]["theta"] = INFINITY;  // only a config built in code can hold one
  CHECK(layer_error(j) == "cfg.json: rope.theta (inf) must be a finite number > 0");
  j["rope"]["theta"] = NAN;
  CHECK(layer_error(j) == "cfg.json: rope.theta (nan) must be a finite number > 0");
  j = gqa();
  j["rms_norm_eps"] = -1e-6;
  CHECK(layer_error(j) == "cfg.json: rms_norm_eps (-1e-06) must be a finite number > 0");
  j = gqa();
  j["n_heads"] = 2.5;
  CHECK(layer_error(j) == "cfg.json: n_heads must be an integer, got 2.5");
  j = gqa();
  j["hidden_size"] = -64;
  CHECK(layer_error(j) == "cfg.json: hidden_size (-64) must be in [1, 16777216]");
  j = gqa();
  j["n_layers"] = 0;
  CHECK(layer_error(j) == "cfg.json: n_layers (0) must be in [1, 16777216]");
  j = gqa();
  j["n_kv_heads"] = UINT64_MAX;
  CHECK(layer_error(j) == "cfg.json: n_kv_heads (18446744073709551615) must be in [1, 16777216]");
  j = gqa();
  j["latent_norms"] = 1;
  CHECK_THAT(layer_error(j), Contains("latent_norms applies only to attention 'mla'"));
  j = gqa();
  j["biases"] = {"q_proj", 3};
  CHECK(layer_error(j) == "cfg.json: biases[1] must be a string, got 3");
}

TEST_CASE("sweep config: bad numbers in lists, settings and exclusions name the field") {
  const auto sweep_error = [](const std::string& fields) {
    return error_of([&] {
      parse_sweep(R"({"models": ["tiny-gqa"], "phases": ["decode"], "context": [8])" + fields + "}",
                  "s.json");
    });
  };
  CHECK(sweep_error(R"(, "batch": [1, 1e999])") == "s.json: batch[1] (1e999) overflows a double");
  CHECK(sweep_error(R"(, "batch": [2.5])") == "s.json: batch[0] must be an integer, got 2.5");
  CHECK(sweep_error(R"(, "threads": [-1])") == "s.json: threads[0] (-1) must be in [1, 1024]");
  CHECK(sweep_error(R"(, "repetitions": "3")") ==
        "s.json: repetitions must be an integer, got \"3\"");
  CHECK(sweep_error(R"(, "min_time_s": 1e-9)") ==
        "s.json: min_time_s (1e-09) must be in [0.001, 60]");
  CHECK(sweep_error(R"(, "verify": 1)") == "s.json: verify must be true or false, got 1");
  CHECK(sweep_error(R"(, "name": 5)") == "s.json: name must be a string, got 5");
  CHECK(sweep_error(R"(, "exclude": [{"batch": "one"}])") ==
        "s.json: exclude[0].batch must be an integer, got \"one\"");
  CHECK(sweep_error(R"(, "exclude": [{"context": -8}])") ==
        "s.json: exclude[0].context (-8) must be in [0, 16777216]");
  CHECK(error_of([] {
          parse_sweep(R"({"models": [{"attention": "mha", "hidden_size": 64, "n_heads": 4,
                          "rope": {"layout": "interleaved", "theta": 1e3084}}],
                          "phases": ["decode"], "context": [8]})",
                      "s.json");
        }) == "s.json: models[0].rope.theta (1e3084) overflows a double");
}

TEST_CASE("model names the file system refuses, or with control characters, are one-line errors") {
  // Found by fuzz_sweep_config's kind of input: std::filesystem::exists threw (ENAMETOOLONG)
  // past the readers, and a name with a newline broke the message in two.
  const std::string long_name(300, 'x');
  CHECK(error_of([&] {
          parse_sweep(
              R"({"models": [")" + long_name + R"("], "phases": ["decode"], "context": [8]})",
              "s.json");
        }).rfind("s.json: models[0]: unknown preset '" + long_name.substr(0, 80) + "...'", 0) == 0);
  CHECK_THAT(error_of([] {
               parse_sweep(R"({"models": ["a\nb/c.json"], "phases": ["decode"], "context": [8]})",
                           "s.json");
             }),
             Catch::StartsWith("s.json: models[0]: a?b/c.json: no such layer-config file"));
  // fuzz_sweep_config's crash input (build-fuzz/crashes/sweep_config-crash-0485d418...), reduced.
  CHECK_THAT(error_of([] {
               parse_sweep(R"({"models": ["llama-3-8b", "falco\n-7b"], "phases": ["decode"],
                               "context": [8]})",
                           "s.json");
             }),
             Catch::StartsWith("s.json: models[1]: unknown preset 'falco?-7b' (known: "));
  CHECK_THAT(error_of([&] { load_sweep(long_name); }),
             Contains("no such sweep config file or built-in sweep"));
}

TEST_CASE("sweep config: lists whose product is too large are refused before expansion") {
  std::string many = "[1";
  for (int i = 2; i <= 400; ++i) {
    many += ",";
    many += std::to_string(i);
  }
  many += "]";
  const std::string text = R"({"models": ["tiny-gqa"], "impls": ["standard"], "phases": ["decode"],
      "context": )" + many +
                           R"(, "batch": )" + many + "}";
  CHECK_THAT(error_of([&] { parse_sweep(text, "s.json"); }),
             Catch::StartsWith("s.json: the lists name 160000 combinations") &&
                 Contains("at most 100000"));
}

TEST_CASE("verify config: seeds, batch and seq are checked numbers") {
  const auto verify_error = [](const std::string& fields) {
    return error_of([&] {
      parse_verify_cases(R"({"cases": [{"model": "tiny-gqa")" + fields + "}]}", "v.json");
    });
  };
  CHECK(verify_error(R"(, "seed": -1)") ==
        "v.json: cases[0].seed (-1) must be in [0, 18446744073709551615]");
  CHECK(verify_error(R"(, "seed": 1.5)") == "v.json: cases[0].seed must be an integer, got 1.5");
  CHECK(verify_error(R"(, "batch": 1e999)") == "v.json: cases[0].batch (1e999) overflows a double");
  CHECK(verify_error(R"(, "seq": 0)") == "v.json: cases[0].seq (0) must be in [1, 4096]");
  CHECK(parse_verify_cases(R"({"cases": [{"model": "tiny-gqa", "seed": 18446744073709551615}]})",
                           "v.json")
            .front()
            .seed == UINT64_MAX);
}

TEST_CASE("results file (report reader): every field the report reads is checked") {
  CHECK(results_error(results_file().dump()) == "no error");
  const auto with = [](const std::string& pointer, const json& value) {
    json j = results_file();
    j[json::json_pointer(pointer)] = value;
    return j.dump();
  };
  CHECK_THAT(results_error(with("/benchmarks/0/real_time", "fast")),
             Contains("r.json: benchmark run 'c' has no real_time"));
  CHECK_THAT(results_error(with("/benchmarks/0/real_time", -1.0)),
             Contains("r.json: benchmarks[0].real_time (-1) must be in [0, "));
  CHECK_THAT(results_error(with("/benchmarks/0/run_type", 5)),
             Contains("r.json: benchmarks[0].run_type must be a string, got 5"));
  CHECK_THAT(results_error(with("/benchmarks/0/error_occurred", "no")),
             Contains("benchmarks[0].error_occurred must be true or false"));
  CHECK_THAT(results_error(with("/attnlab/min_time_s", "0.1")),
             Contains("r.json: attnlab.min_time_s must be a number, got \"0.1\""));
  CHECK_THAT(results_error(with("/attnlab/sweep", 1)),
             Contains("r.json: attnlab.sweep must be a string, got 1"));
  CHECK_THAT(results_error(with("/attnlab/calibration", json::array())),
             Contains("r.json: attnlab.calibration must be an object, got an array"));
  CHECK_THAT(results_error(with("/attnlab/calibration/1/gemm_gflops", "fast")),
             Contains("attnlab.calibration.1.gemm_gflops must be a number"));
  CHECK_THAT(results_error(with("/attnlab/cases/0/info/batch", 0)),
             Contains("r.json: case 0 (c): info.batch (0) must be in [1, 1048576]"));
  CHECK_THAT(results_error(with("/attnlab/cases/0/info/context", UINT64_MAX)),
             Contains("info.context (18446744073709551615) must be in [0, 1073741824]"));
  CHECK_THAT(results_error(with("/attnlab/cases/0/info/verify/status", 5)),
             Contains("info.verify.status must be a string, got 5"));
  CHECK_THAT(results_error(with("/attnlab/cases/0/info/roofline/bound", json::object())),
             Contains("info.roofline.bound must be a string, got an object"));
  CHECK_THAT(results_error(with("/attnlab/cases/0/message", 7)),
             Contains("message must be a string, got 7"));
  std::string text = results_file().dump();
  text.replace(text.find("5.0"), 3, "5e999");
  CHECK_THAT(results_error(text),
             Catch::EndsWith("r.json: benchmarks[0].real_time (5e999) overflows a double"));
}

TEST_CASE("merge: a shard's bad index, name or fields are errors naming the file and field") {
  CHECK(merge_error(shard_file().dump()) == "no error");
  const auto with = [](const std::string& pointer, const ordered_json& value) {
    ordered_json j = shard_file();
    j[ordered_json::json_pointer(pointer)] = value;
    return j.dump();
  };
  CHECK_THAT(merge_error(with("/attnlab/cases/0/index", "0")),
             Contains("attnlab.cases[0].index must be an integer, got \"0\""));
  CHECK_THAT(merge_error(with("/attnlab/cases/0/index", -1)),
             Contains("attnlab.cases[0].index (-1) must be in [0, 2147483648]"));
  CHECK_THAT(merge_error(with("/attnlab/cases/0/name", 1)),
             Contains("attnlab.cases[0].name must be a string, got 1"));
  CHECK_THAT(merge_error(with("/attnlab/cases/0/runs", 1)),
             Contains("attnlab.cases[0].runs must be an array of benchmark runs, got 1"));
  CHECK_THAT(merge_error(with("/attnlab/fingerprint", 1)),
             Contains("attnlab.fingerprint must be a string, got 1"));
  CHECK_THAT(merge_error(with("/attnlab/total_cases", 1.5)),
             Contains("attnlab.total_cases must be an integer, got 1.5"));
  CHECK_THAT(merge_error(with("/attnlab/cases", ordered_json::object())),
             Contains("attnlab.cases must be an array, got an object"));
  CHECK_THAT(merge_error(R"({"attnlab": {"fingerprint": "f", "total_cases": 1e400}})"),
             Contains("s.json: attnlab.total_cases (1e400) overflows a double"));
}

TEST_CASE("journal: a record with bad fields is not loaded (its case runs again)") {
  test::TempDir dir;
  const std::string out = dir.file("r.json");
  const ordered_json header = {{"fingerprint", "f"}, {"shard", "1/1"}};
  const std::string good =
      R"({"index": 0, "name": "a", "status": "ok", "message": "", "runs": [], "info": {}})";
  const std::string bad = R"({"index": "1", "name": "b", "status": "ok", "runs": [], "info": {}})";
  write_text(out + ".partial", header.dump() + "\n" + good + "\n" + bad + "\n");
  SweepJournal journal(out, header, true);
  CHECK(journal.finished().size() == 1);
  CHECK(journal.finished().count(0) == 1);

  write_text(out + ".partial", R"({"fingerprint": 7})"
                               "\n");
  CHECK(error_of([&] { SweepJournal(out, header, true); }) ==
        out + ".partial: fingerprint must be a string, got 7");
}

TEST_CASE("safetensors header: an overflowing number and a repeated key are named") {
  test::TempDir dir;
  const auto header_error = [&](const std::string& header) {
    std::string bytes(8, '\0');
    for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
    write_text(dir.file("x.safetensors"), bytes + header);
    return error_of([&] { SafetensorsFile::read(dir.file("x.safetensors")); });
  };
  CHECK(header_error(R"({"w": {"dtype": "F32", "shape": [1e999], "data_offsets": [0, 0]}})") ==
        dir.file("x.safetensors") + ": w.shape[0] (1e999) overflows a double");
  CHECK(header_error(
            R"({"w": {"dtype": "F32", "dtype": "F64", "shape": [], "data_offsets": [0, 4]}})") ==
        dir.file("x.safetensors") + ": w names 'dtype' twice");
}
