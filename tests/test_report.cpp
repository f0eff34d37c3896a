// Tests of `attnlab report` (reports/): the Mann-Whitney U test against scipy, the naive/absorb
// crossover, gnuplot scripts and inlined SVG, a report of a real results file with each section,
// errors for missing, corrupt and foreign files, and `--baseline` / `--fail-on-regression` on a
// results file with one case deliberately slowed down.
#include <sys/wait.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "reports/baseline.h"
#include "reports/chart_script.h"
#include "reports/crossover.h"
#include "reports/format.h"
#include "reports/gnuplot_runner.h"
#include "reports/render.h"
#include "reports/report.h"
#include "reports/results_file.h"
#include "reports/stats.h"
#include "tests/test_support.h"

using namespace attnlab;
using namespace attnlab::reports;
using nlohmann::json;

namespace {

using test::CliResult;
using test::slurp;

void write(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

// Runs the attnlab binary; `env` is prepended to the command (e.g. "PATH=/nonexistent").
CliResult attnlab_cli(const std::string& args, const std::string& env = "") {
  return test::run_cli(ATTNLAB_BINARY, args, env);
}

// One run of the built-in ci sweep, shared by the tests of this program.
const std::string& ci_results() {
  static test::TempDir dir;
  static const std::string path = [] {
    const std::string p = dir.file("ci.json");
    const CliResult r = attnlab_cli("sweep ci --out " + p);
    REQUIRE(r.exit_code == 0);
    return p;
  }();
  return path;
}

// Real repetitions on a shared machine vary by several times (the 2-core machine this was
// written on showed 3 us to 22 us for one tiny case), so no 1.5x slowdown could be told from
// them. The baseline fixture is therefore a real sweep (two decode cases, 7 repetitions) whose
// repetitions are then steadied: each becomes the case's median times (1 + 0.2% x repetition).
void steady_repetitions(json& j) {
  std::map<std::string, std::vector<json*>> runs;  // iteration runs by case (run_name)
  for (json& run : j["benchmarks"])
    if (run.value("run_type", "") == "iteration") runs[run["run_name"]].push_back(&run);
  for (json& c : j["attnlab"]["cases"])
    for (json& run : c["runs"])
      if (run.value("run_type", "") == "iteration") runs[run["run_name"]].push_back(&run);
  for (auto& [name, list] : runs) {
    std::vector<double> times;
    for (json* run : list) times.push_back((*run)["real_time"].get<double>());
    const double m = median(times);
    for (json* run : list)
      (*run)["real_time"] = m * (1 + 0.002 * (*run)["repetition_index"].get<double>());
  }
}

const std::string& repeated_results() {
  static test::TempDir dir;
  static const std::string path = [] {
    const std::string config = dir.file("sweep.json"), p = dir.file("base.json");
    write(config, R"({"name": "report-baseline-test", "models": ["tiny-gqa", "tiny-mla"],
      "impls": ["standard", "absorb"], "phases": ["decode"], "context": [16], "threads": [1],
      "repetitions": 7, "min_time_s": 0.002, "calibration": "quick"})");
    const CliResult r = attnlab_cli("sweep " + config + " --out " + p);
    REQUIRE(r.exit_code == 0);
    json j = json::parse(slurp(p));
    steady_repetitions(j);
    write(p, j.dump(1));
    return p;
  }();
  return path;
}

const std::string kSlowed = "decode/tiny-gqa/standard/cpu/fp32/b1/ctx16/t1";

// A copy of a results file with every time of one case multiplied by `factor`: its repetitions
// and aggregates in "benchmarks" and in its case record, and its recorded latencies.
void write_slowed_copy(const std::string& from, const std::string& to, const std::string& name,
                       double factor) {
  json j = json::parse(slurp(from));
  const auto slow = [&](json& run) {
    if (run.value("aggregate_unit", "time") != "time") return;  // cv is a percentage
    for (const char* key : {"real_time", "cpu_time"})
      if (run.contains(key)) run[key] = run[key].get<double>() * factor;
  };
  int slowed = 0;
  for (json& run : j["benchmarks"])
    if (run.value("run_name", "").rfind(name + "/", 0) == 0) slow(run), ++slowed;
  for (json& c : j["attnlab"]["cases"]) {
    if (c["name"] != name) continue;
    for (json& run : c["runs"]) slow(run);
    for (const char* key : {"latency_ms_median", "latency_ms_p10", "latency_ms_p90"})
      c["info"][key] = c["info"][key].get<double>() * factor;
  }
  REQUIRE(slowed > 0);
  write(to, j.dump(1));
}

bool has_temp_files(const std::filesystem::path& dir) {
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir))
    if (entry.path().filename().string().find(".tmp-") != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_CASE("Mann-Whitney U p-values match scipy's asymptotic two-sided test") {
  // References: /usr/bin/python3 -c "from scipy.stats import mannwhitneyu;
  //   print(mannwhitneyu(a, b, alternative='two-sided', method='asymptotic'))" (scipy 1.10.1).
  struct Case {
    std::vector<double> a, b;
    double u, p;
  };
  const std::vector<Case> cases = {
      {{1, 2, 3, 4, 5}, {6, 7, 8, 9, 10}, 0.0, 0.012185780355344813},
      {{1.1, 2.2, 3.3, 4.4}, {1.5, 2.5, 3.5, 4.5, 5.5}, 6.0, 0.3912672792826394},
      {{10, 10, 11, 12, 12, 13}, {11, 12, 12, 14, 15, 15}, 7.5, 0.10122077690805986},  // ties
      {{1, 2, 3}, {4, 5, 6}, 0.0, 0.08085559837005224},
      {{5.1, 4.9, 5.3, 5.0, 5.2, 4.8, 5.05},
       {5.6, 5.4, 5.2, 5.9, 5.5, 5.7, 5.45},
       1.5,
       0.004000668303482264},
  };
  for (const Case& c : cases) {
    const MannWhitney r = mann_whitney_u(c.a, c.b);
    CHECK(r.possible);
    CHECK(r.u == Approx(c.u));
    CHECK(r.p_value == Approx(c.p).epsilon(1e-9));
  }
  // By hand, first case: U = 0, mean 12.5, sd sqrt(25 * 11 / 12) = 4.787, z = (25 - 12.5 - 0.5)
  // / 4.787 = 2.507, p = erfc(z / sqrt 2) = 0.0122.
  CHECK(mann_whitney_u(cases[0].a, cases[0].b).z == Approx(12.0 / std::sqrt(25.0 * 11 / 12)));
}

TEST_CASE("Mann-Whitney U: identical samples give p = 1; too few repetitions is no test") {
  CHECK(mann_whitney_u({3, 3, 3}, {3, 3, 3}).p_value == 1.0);  // scipy: 1.0
  const MannWhitney few = mann_whitney_u({1, 2}, {3, 4, 5});
  CHECK_FALSE(few.possible);
  CHECK(few.n1 == 2);
  CHECK(median({3, 1, 2}) == 2);
  CHECK(median({4, 1, 2, 3}) == 2.5);
  CHECK(std::isnan(median({})));
}

TEST_CASE("crossover: absorb/naive ratio interpolated in log(context)") {
  // Ratio 1.2 at 512, 0.8 at 2048: 1 is halfway, at the geometric mean 1024.
  CrossoverResult r = find_crossover({{2048, 0.8}, {512, 1.2}});
  REQUIRE(r.kind == CrossoverResult::Kind::crosses);
  REQUIRE(r.crossings.size() == 1);
  CHECK(r.crossings[0].length == Approx(1024));
  CHECK(r.crossings[0].absorb_starts);
  CHECK_THAT(describe(r, "context"), Catch::Contains("absorb starts to win at about 1,024"));
  // 1.5 at 1000, 0.5 at 10000: log10 crossing at 3.5.
  r = find_crossover({{1000, 1.5}, {10000, 0.5}, {100000, 0.4}});
  CHECK(r.crossings.at(0).length == Approx(std::pow(10.0, 3.5)));

  r = find_crossover({{512, 0.9}, {2048, 0.5}});
  CHECK(r.kind == CrossoverResult::Kind::absorb_always);
  CHECK_THAT(describe(r, "context"), Catch::Contains("absorb wins at every measured context"));
  r = find_crossover({{512, 13.4}, {2048, 9.1}});
  CHECK(r.kind == CrossoverResult::Kind::absorb_never);
  CHECK_THAT(describe(r, "context"), Catch::Contains("absorb never wins"));
  r = find_crossover({{512, 1.0}});  // a tie is not a win
  CHECK(r.kind == CrossoverResult::Kind::absorb_never);
  CHECK(find_crossover({}).kind == CrossoverResult::Kind::no_data);

  // Wins at short contexts only: the crossing back is reported as naive winning again.
  r = find_crossover({{100, 0.5}, {1000, 2.0}});
  REQUIRE(r.crossings.size() == 1);
  CHECK_FALSE(r.crossings[0].absorb_starts);
  CHECK(r.crossings[0].length == Approx(std::pow(10.0, 2 + 1.0 / 3)));  // 1 is 1/3 of 0.5 -> 2
  CHECK_THAT(describe(r, "context"), Catch::Contains("naive wins again"));
}

TEST_CASE("gnuplot script: log axes, quoted titles, only plottable points in the data") {
  ChartSpec spec;
  spec.id = "t";
  spec.title = "it's a test";
  spec.xlabel = "context (tokens)";
  spec.ylabel = "ms";
  spec.logx = spec.logy = true;
  spec.logx_base = 2;
  spec.series.push_back({"a", {{16, 1.0}, {64, 0.0}, {256, NAN}, {1024, 2.0}}, 0, 0});
  CHECK(spec.data_points() == 2);  // 0 and NaN cannot be drawn on a log axis
  const auto data = gnuplot_data(spec);
  REQUIRE(data.size() == 1);
  CHECK(data[0] == "16 1\n1024 2\n");
  const std::string script = gnuplot_script(spec, {"/tmp/d0.dat"}, "/tmp/out.svg");
  CHECK_THAT(script, Catch::Contains("set terminal svg"));
  CHECK_THAT(script, Catch::Contains("set logscale x 2"));
  CHECK_THAT(script, Catch::Contains("set logscale y 10"));
  CHECK_THAT(script, Catch::Contains("set title 'it''s a test'"));
  CHECK_THAT(script, Catch::Contains("set output '/tmp/out.svg'"));
  CHECK_THAT(script, Catch::Contains("'/tmp/d0.dat' using 1:2"));
}

TEST_CASE("inlined SVG: ids and references prefixed, colours untouched") {
  const std::string svg =
      "<?xml version=\"1.0\"?>\n<svg><defs><path id='gpPt1' d=''/><path id='gpPt10'/></defs>"
      "<g id=\"gnuplot_plot_1\"><use xlink:href='#gpPt1' fill='#ffffff'/>"
      "<use xlink:href='#gpPt10'/><rect filter='url(#gpPt1)' gid='x'/></g></svg>";
  const std::string out = inline_svg(svg, "f3-");
  CHECK(out.rfind("<svg>", 0) == 0);  // the XML prologue is gone
  CHECK_THAT(out, Catch::Contains("id='f3-gpPt1'"));
  CHECK_THAT(out, Catch::Contains("id='f3-gpPt10'"));
  CHECK_THAT(out, Catch::Contains("id=\"f3-gnuplot_plot_1\""));
  CHECK_THAT(out, Catch::Contains("href='#f3-gpPt1'"));
  CHECK_THAT(out, Catch::Contains("href='#f3-gpPt10'"));
  CHECK_THAT(out, Catch::Contains("url(#f3-gpPt1)"));
  CHECK_THAT(out, Catch::Contains("fill='#ffffff'"));
  CHECK_THAT(out, Catch::Contains("gid='x'"));
}

TEST_CASE("report of a real results file has every section, in Markdown and HTML") {
  test::TempDir dir;
  const std::string out = dir.file("report");
  const CliResult r = attnlab_cli("report " + ci_results() + " --out " + out);
  REQUIRE(r.exit_code == 0);
  const std::string md = slurp(out + "/report.md");
  const std::string html = slurp(out + "/report.html");
  for (const char* heading :
       {"## Runs: machine and build", "## KV cache per token",
        "## Decode: latency and tokens/s vs context", "## Prefill: throughput vs sequence length",
        "## Roofline", "## Arithmetic intensity of decode", "## MLA and GLA: naive vs absorb",
        "## Accuracy against the fp64 reference"})
    CHECK_THAT(md, Catch::Contains(heading));
  for (const char* id :
       {"runs", "kv-cache", "decode", "prefill", "roofline", "intensity", "mla", "accuracy"})
    CHECK_THAT(html, Catch::Contains("<section id=\"" + std::string(id) + "\">"));
  // KV figures from variants/variant_spec on the stored configs; every preset of the ci sweep.
  for (const char* model : {"tiny-mha", "tiny-gqa", "tiny-mqa", "tiny-mla"})
    CHECK_THAT(md, Catch::Contains(std::string("| ") + model + " |"));
  CHECK_THAT(md, Catch::Contains("reduction vs MHA"));
  CHECK_THAT(md, Catch::Contains("GEMM"));
  CHECK_THAT(md, Catch::Contains("PASS"));
  CHECK_THAT(md, Catch::Contains("tiny-mla MLA b1, decode: absorb"));  // ci: batch 1 and 2
  // Self-contained: nothing fetched from elsewhere.
  CHECK_THAT(html, !Catch::Contains("<link") && !Catch::Contains("src=\"http") &&
                       !Catch::Contains("<script src"));
  CHECK_FALSE(has_temp_files(out));
  if (!find_on_path("gnuplot").empty()) {
    for (const char* chart :
         {"kv-per-token", "decode-latency", "decode-tokens-per-s", "prefill-tokens-per-s",
          "roofline", "decode-intensity", "decode-intensity-achieved", "mla-ratio-decode",
          "mla-ratio-prefill", "accuracy-nmse"}) {
      CAPTURE(chart);
      CHECK(std::filesystem::exists(out + "/charts/" + chart + ".svg"));
      CHECK_THAT(md, Catch::Contains(std::string("(charts/") + chart + ".svg)"));
    }
    CHECK_THAT(html, Catch::Contains("<figure class=\"chart\""));
    CHECK_THAT(html, !Catch::Contains("class=\"chart-skipped\""));
  }
}

TEST_CASE("report without gnuplot on PATH writes its tables and names the skipped charts") {
  test::TempDir dir;
  const std::string out = dir.file("report");
  const CliResult r = attnlab_cli("report " + ci_results() + " --out " + out, "PATH=/nonexistent");
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("0 of 10 charts drawn"));
  CHECK_THAT(r.out, Catch::Contains("skipped: gnuplot is not installed"));
  const std::string md = slurp(out + "/report.md");
  CHECK_THAT(md, Catch::Contains("| tiny-gqa | GQA |"));
  CHECK_THAT(md, Catch::Contains("(Roofline: achieved GFLOP/s vs arithmetic intensity) skipped: "
                                 "gnuplot is not installed"));
  CHECK_THAT(slurp(out + "/report.html"), Catch::Contains("class=\"chart-skipped\""));
  CHECK_FALSE(std::filesystem::exists(out + "/charts"));
}

TEST_CASE("report: a missing results file is a one-line error naming it, exit 2") {
  test::TempDir dir;
  const std::string missing = dir.file("nope.json"), out = dir.file("report");
  const CliResult r = attnlab_cli("report " + missing + " --out " + out);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::StartsWith("attnlab: " + missing + ": cannot open results file"));
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  CHECK_FALSE(std::filesystem::exists(out));
}

TEST_CASE("report: a corrupt or foreign results file is an error naming it, exit 2") {
  test::TempDir dir;
  const std::string out = dir.file("report");
  const std::string cut = dir.file("cut.json");
  const std::string full = slurp(ci_results());
  write(cut, full.substr(0, full.size() / 2));  // a file cut short
  CliResult r = attnlab_cli("report " + cut + " --out " + out);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::StartsWith("attnlab: " + cut + ": not a results file: not valid JSON"));
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);

  const std::string foreign = dir.file("gbench.json");  // Google Benchmark JSON, not attnlab's
  write(foreign, R"({"context": {}, "benchmarks": []})");
  r = attnlab_cli("report " + foreign + " --out " + out);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains(foreign + ": not an attnlab results file"));

  const std::string broken = dir.file("broken.json");  // a case without its phase
  json j = json::parse(full);
  j["attnlab"]["cases"][3]["info"].erase("phase");
  write(broken, j.dump());
  r = attnlab_cli("report " + broken + " --out " + out);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains(broken + ": case 3"));
  CHECK_THAT(r.err, Catch::Contains("'info.phase'"));
  CHECK_FALSE(std::filesystem::exists(out));

  CHECK_THROWS_AS(load_results_file(cut, "[1]"), Error);
}

TEST_CASE("report --baseline flags a deliberately slowed case and passes an unchanged one") {
  test::TempDir dir;
  const std::string& base = repeated_results();
  const std::string slowed = dir.file("slowed.json");
  write_slowed_copy(base, slowed, kSlowed, 1.5);

  const ResultsFile old_run = load_results_file(base, "[baseline]");
  const ResultsFile new_run = load_results_file(slowed, "[1]");
  REQUIRE(old_run.cases.size() == 2);
  CHECK(old_run.cases[0].repetitions_ms.size() == 7);
  const BaselineComparison cmp = compare_with_baseline({new_run}, old_run);
  REQUIRE(cmp.changes.size() == 2);
  for (const CaseChange& c : cmp.changes) {
    CAPTURE(c.name, c.change_pct, c.test.p_value);
    if (c.name == kSlowed) {
      CHECK(c.verdict == CaseChange::Verdict::regression);
      CHECK(c.change_pct == Approx(50).margin(1e-6));
      CHECK(c.test.p_value < 0.05);
    } else {
      CHECK(c.verdict == CaseChange::Verdict::no_change);
      CHECK(c.change_pct == 0);
      CHECK(c.test.p_value == 1.0);
    }
  }

  // The same through the command line: the report flags it, and only a stricter gate fails.
  const std::string out = dir.file("report");
  CliResult r = attnlab_cli("report " + slowed + " --baseline " + base + " --out " + out);
  CHECK(r.exit_code == 0);
  const std::string md = slurp(out + "/report.md");
  CHECK_THAT(md, Catch::Contains("## Change vs baseline"));
  CHECK_THAT(md, Catch::Contains("| [1] | " + kSlowed + " |"));
  CHECK_THAT(md, Catch::Contains("+50.0% | 7 vs 7 |"));
  CHECK_THAT(md, Catch::Contains("REGRESSION"));
  CHECK_THAT(md, Catch::Contains("no significant change"));
  CHECK_THAT(r.out, Catch::Contains("1 regression(s), 0 improvement(s), 1 unchanged"));
}

TEST_CASE("report --fail-on-regression exits 1 only for a significant regression above PCT") {
  test::TempDir dir;
  const std::string& base = repeated_results();
  const std::string slowed = dir.file("slowed.json"), out = dir.file("report");
  write_slowed_copy(base, slowed, kSlowed, 1.5);
  const auto report = [&](const std::string& args) {
    return attnlab_cli("report " + args + " --out " + out);
  };
  // Unchanged run: passes.
  CHECK(report(base + " --baseline " + base + " --fail-on-regression 5").exit_code == 0);
  // 50% slower: fails a 10% gate, naming the case; passes a 60% gate.
  const CliResult failing = report(slowed + " --baseline " + base + " --fail-on-regression 10");
  CHECK(failing.exit_code == 1);
  CHECK_THAT(failing.out, Catch::Contains("REGRESSION [1] " + kSlowed));
  CHECK(std::filesystem::exists(out + "/report.html"));  // the report is written all the same
  CHECK(report(slowed + " --baseline " + base + " --fail-on-regression 60").exit_code == 0);
  // 50% faster is an improvement, never a failure.
  const CliResult faster = report(base + " --baseline " + slowed + " --fail-on-regression 10");
  CHECK(faster.exit_code == 0);
  CHECK_THAT(faster.out, Catch::Contains("0 regression(s), 1 improvement(s)"));
  // The ci sweep has 2 repetitions per case: no test is possible, so nothing fails, and it says so.
  const CliResult untestable =
      report(ci_results() + " --baseline " + ci_results() + " --fail-on-regression 10");
  CHECK(untestable.exit_code == 0);
  CHECK_THAT(untestable.out, Catch::Contains("--fail-on-regression cannot judge them"));
  // Bad flags: exit 2.
  CHECK(report(base + " --fail-on-regression 10").exit_code == 2);
  CHECK(report(base + " --baseline " + base + " --fail-on-regression -3").exit_code == 2);
  CHECK(report(base + " --baseline " + dir.file("missing.json")).exit_code == 2);
}

TEST_CASE("report: decode intensity per variant, exact and the paper's, by the measured rates") {
  test::TempDir dir;
  const std::string out = dir.file("report");
  REQUIRE(attnlab_cli("report " + ci_results() + " --out " + out).exit_code == 0);
  const std::string md = slurp(out + "/report.md");
  // g_q, m_kv, 2 g_q / m_kv, exact MACs per cached element, speculative at context 64, FLOP per
  // fp32 KV byte. MHA (4 heads of 8): 1 and 131/66; GQA 6 over 2: 3; MQA 5 heads: 5; MLA absorb
  // 3 heads over latent 16 + rope 4: 3 x 36 / 20 = 5.4 (paper 6), 2 x 5.4 x 131/132 speculative;
  // MLA naive 1.
  for (const char* row : {"| tiny-mha | MHA | 1 | 2 | 1.00 | 1.00 | 1.98 | 0.500 | 64 |",
                          "| tiny-gqa | GQA | 3 | 2 | 3.00 | 3.00 | 5.95 | 1.50 | 64 |",
                          "| tiny-mqa | MQA | 5 | 2 | 5.00 | 5.00 | 9.92 | 2.50 | 64 |",
                          "| tiny-mla | MLA absorb | 3 | 1 | 6.00 | 5.40 | 10.7 | 2.70 | 64 |",
                          "| tiny-mla | MLA naive | 1 | 2 | 1.00 | 1.00 | 1.98 | 0.500 | 64 |"}) {
    CAPTURE(row);
    CHECK_THAT(md, Catch::Contains(row));
  }
  // The measured columns are the case's modelled core FLOPs and KV bytes over its latency.
  const ResultsFile f = load_results_file(ci_results(), "[1]");
  const ResultCase* longest = nullptr;
  for (const ResultCase& c : f.cases)
    if (c.ok() && c.phase() == "decode" && c.model() == "tiny-mqa" &&
        (!longest || c.context() > longest->context()))
      longest = &c;
  REQUIRE(longest);
  const double seconds = longest->number("/latency_ms_median") * 1e-3;
  const std::string tail = " | " + sig3(longest->number("/cost/attention_flops") / seconds / 1e9) +
                           " | " + sig3(longest->number("/cost/cache_read_bytes") / seconds / 1e9) +
                           " | " + or_dash(longest->number("/gflop_per_s")) + " | " +
                           or_dash(longest->number("/gbyte_per_s")) + " |";
  const size_t at = md.find("| tiny-mqa | MQA | 5 |");
  REQUIRE(at != std::string::npos);
  CHECK(md.substr(at, md.find('\n', at) - at).size() > tail.size());
  CHECK(md.substr(md.find('\n', at) - tail.size(), tail.size()) == tail);
}

TEST_CASE("report: KV per rank at the sweep config's tp, '-' and why where it cannot split") {
  test::TempDir dir;
  const std::string config = dir.file("tp.json"), results = dir.file("tp-results.json");
  write(config, R"({"name": "report-tp-test", "models": ["tiny-mha", "tiny-gqa", "tiny-mqa"],
      "backends": ["cpu"], "dtypes": ["fp32"], "phases": ["decode"], "context": [16],
      "threads": [1], "repetitions": 2, "min_time_s": 0.002, "calibration": "quick",
      "verify": false, "tp": 2})");
  REQUIRE(attnlab_cli("sweep " + config + " --out " + results).exit_code == 0);
  const std::string out = dir.file("report");
  REQUIRE(attnlab_cli("report " + results + " --out " + out).exit_code == 0);
  const std::string md = slurp(out + "/report.md");
  CHECK_THAT(md, Catch::Contains("| split at TP 2 |"));
  // MHA 4 heads x 2 x 8 = 64 -> 32 per rank (x 2 layers x 4 bytes); GQA 2 KV heads -> 1 per
  // rank; MQA's 5 query heads do not split in 2.
  CHECK_THAT(md, Catch::Contains("| 32 | 256 | split: 2 of 4 KV heads per rank |"));
  CHECK_THAT(md, Catch::Contains("| 16 | 128 | split: 1 of 2 KV heads per rank |"));
  CHECK_THAT(md,
             Catch::Contains("| - | - | tp 2: does not divide the 5 query heads of 'tiny-mqa' |"));
  // Without tp (the ci sweep) no per-rank column.
  const std::string plain = dir.file("plain");
  REQUIRE(attnlab_cli("report " + ci_results() + " --out " + plain).exit_code == 0);
  CHECK_THAT(slurp(plain + "/report.md"), !Catch::Contains("per rank"));
}
