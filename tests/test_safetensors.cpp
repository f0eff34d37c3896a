// Tests of io/safetensors: file round trips per dtype, the on-disk layout, and rejection of
// every class of malformed file with a one-line message naming the file and the problem.
// (The scalar BF16/F16 conversions are core/dtype's: tests/test_dtype.cpp.)
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "io/safetensors.h"
#include "tests/test_support.h"

using namespace attnlab;
using Catch::Matchers::Contains;

namespace {

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

// A file made by hand: 8-byte little-endian `length` (the header's size unless given), the
// header text, then `data_size` bytes of data.
void write_raw(const std::string& path, const std::string& header, size_t data_size,
               int64_t length = -1) {
  const uint64_t n = length < 0 ? header.size() : static_cast<uint64_t>(length);
  std::vector<uint8_t> bytes;
  for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<uint8_t>(n >> (8 * i)));
  for (char c : header) bytes.push_back(static_cast<uint8_t>(c));
  bytes.resize(bytes.size() + data_size, 0x11);
  write_bytes(path, bytes);
}

// Reading `path` must fail with an attnlab::Error whose one-line message starts with the path
// and contains `word`.
void require_rejected(const std::string& path, const std::string& word) {
  INFO("expecting rejection mentioning '" << word << "'");
  try {
    SafetensorsFile::read(path);
    FAIL("read succeeded");
  } catch (const Error& e) {
    const std::string message = e.what();
    INFO("message: " << message);
    CHECK(message.rfind(path + ": ", 0) == 0);
    CHECK_THAT(message, Contains(word));
    CHECK(message.find('\n') == std::string::npos);
  }
}

Tensor<double> ramp(Shape shape, double start, double step) {
  Tensor<double> t(std::move(shape));
  for (int64_t i = 0; i < t.numel(); ++i) t.data[i] = start + step * static_cast<double>(i);
  return t;
}

}  // namespace

TEST_CASE("safetensors dtype names and parsing") {
  CHECK(std::string(dtype_name(DType::fp64)) == "F64");
  CHECK(std::string(dtype_name(DType::bf16)) == "BF16");
  for (DType d : {DType::fp64, DType::fp32, DType::bf16, DType::fp16, DType::i64})
    CHECK(parse_dtype_name(dtype_name(d)) == d);
  CHECK_THROWS_WITH(parse_dtype_name("U8"), Contains("unknown dtype 'U8'"));
  CHECK_THROWS_AS(parse_dtype_name("f32"), Error);  // names are case-sensitive, as on disk
}

TEST_CASE("file round trip per dtype") {
  test::TempDir dir;
  const std::string path = dir.file("t.safetensors");
  Tensor<double> exact({2, 3}, std::vector<double>{0.1, -1e300, 5e-324, -0.0, 1.0 / 3.0, 42.0});
  Tensor<double> fp32_values({4}, std::vector<double>{0.5, -3.25, 0x1p-140, 16777216.0});
  Tensor<double> approx = ramp({3, 5}, -7.3, 0.917);
  SafetensorsWriter w;
  w.add("a.f64", exact, DType::fp64);
  w.add("b.f32", fp32_values, DType::fp32);
  w.add("c.bf16", approx, DType::bf16);
  w.add("d.f16", approx, DType::fp16);
  w.add("e.f32.rounded", exact, DType::fp32);
  w.write(path);

  const SafetensorsFile f = SafetensorsFile::read(path);
  CHECK(f.path() == path);
  CHECK(f.names() ==
        std::vector<std::string>{"a.f64", "b.f32", "c.bf16", "d.f16", "e.f32.rounded"});

  const Tensor<double> a = f.to_double("a.f64");
  CHECK(a.shape == Shape{2, 3});
  CHECK(f.get("a.f64").dtype == DType::fp64);
  for (int i = 0; i < 6; ++i) CHECK(a.data[i] == exact.data[i]);
  CHECK(std::signbit(a.data[3]));

  const Tensor<double> b = f.to_double("b.f32");
  CHECK(f.get("b.f32").bytes.size() == 16);
  for (int i = 0; i < 4; ++i) CHECK(b.data[i] == fp32_values.data[i]);

  const Tensor<double> c = f.to_double("c.bf16");
  const Tensor<double> d = f.to_double("d.f16");
  CHECK(c.shape == Shape{3, 5});
  CHECK(f.get("c.bf16").bytes.size() == 30);
  for (int64_t i = 0; i < approx.numel(); ++i) {
    const double x = approx.data[i];
    CHECK(c.data[i] == bf16_to_float(float_to_bf16(static_cast<float>(x))));
    CHECK(std::fabs(c.data[i] - x) <= std::fabs(x) * 0x1p-8);
    CHECK(d.data[i] == fp16_to_float(float_to_fp16(static_cast<float>(x))));
    CHECK(std::fabs(d.data[i] - x) <= std::fabs(x) * 0x1p-11);
  }
  const Tensor<double> e = f.to_double("e.f32.rounded");
  CHECK(e.data[0] == static_cast<double>(0.1f));
  CHECK(std::isinf(e.data[1]));  // -1e300 overflows fp32
  CHECK(e.data[2] == 0.0);
}

TEST_CASE("the writer rounds fp64 to BF16/F16 once, not through fp32") {
  // Just above a tie of the 16-bit format, but so little above it that fp32 would round the
  // value onto the tie itself, and a second rounding would then go to even (down).
  test::TempDir dir;
  const double above_f16_tie = 1.0 + 0x1p-11 + 0x1p-40;
  const double above_bf16_tie = 1.0 + 0x1p-8 + 0x1p-40;
  REQUIRE(static_cast<float>(above_f16_tie) == 1.0f + 0x1p-11f);
  SafetensorsWriter w;
  w.add("h", Tensor<double>({1}, above_f16_tie), DType::fp16);
  w.add("b", Tensor<double>({1}, above_bf16_tie), DType::bf16);
  w.add("nan", Tensor<double>({2}, std::vector<double>{NAN, -NAN}), DType::fp16);
  w.add("big", Tensor<double>({2}, std::vector<double>{1e300, -1e300}), DType::bf16);
  w.add("tiny", Tensor<double>({1}, 1e-300), DType::fp16);
  w.write(dir.file("r.safetensors"));
  const SafetensorsFile f = SafetensorsFile::read(dir.file("r.safetensors"));
  CHECK(f.to_double("h").data[0] == 1.0 + 0x1p-10);
  CHECK(f.to_double("b").data[0] == 1.0 + 0x1p-7);
  CHECK(std::isnan(f.to_double("nan").data[0]));
  CHECK(std::isnan(f.to_double("nan").data[1]));
  CHECK(f.to_double("big").data == std::vector<double>{INFINITY, -INFINITY});
  CHECK(f.to_double("tiny").data[0] == 0.0);
}

TEST_CASE("I64 round trip and dtype checks on access") {
  test::TempDir dir;
  const std::string path = dir.file("i.safetensors");
  const Tensor<int64_t> ids(
      {2, 3}, std::vector<int64_t>{0, 1, -1, std::numeric_limits<int64_t>::max(),
                                   std::numeric_limits<int64_t>::min(), 1234567890123});
  SafetensorsWriter w;
  w.add("ids", ids);
  w.add("x", ramp({2}, 1, 1), DType::fp32);
  w.write(path);
  const SafetensorsFile f = SafetensorsFile::read(path);
  CHECK(f.get("ids").dtype == DType::i64);
  const Tensor<int64_t> back = f.to_int64("ids");
  CHECK(back.shape == ids.shape);
  CHECK(back.data == ids.data);
  CHECK_THROWS_WITH(f.to_double("ids"), Contains(path) && Contains("I64"));
  CHECK_THROWS_WITH(f.to_int64("x"), Contains(path) && Contains("F32"));
  CHECK_THROWS_WITH(f.get("nope"), Contains(path) && Contains("'nope'"));
  CHECK_FALSE(f.has("nope"));
}

TEST_CASE("metadata round trip") {
  test::TempDir dir;
  SafetensorsWriter w;
  w.add("x", ramp({1}, 1, 0), DType::fp64);
  w.set_metadata("format", "pt");
  w.set_metadata("note", "ünïcode \"quoted\" {json}");
  w.write(dir.file("m.safetensors"));
  const SafetensorsFile f = SafetensorsFile::read(dir.file("m.safetensors"));
  CHECK(f.metadata().size() == 2);
  CHECK(f.metadata().at("format") == "pt");
  CHECK(f.metadata().at("note") == "ünïcode \"quoted\" {json}");

  SafetensorsWriter plain;
  plain.add("x", ramp({1}, 1, 0), DType::fp64);
  plain.write(dir.file("p.safetensors"));
  CHECK(SafetensorsFile::read(dir.file("p.safetensors")).metadata().empty());
}

TEST_CASE("written layout: padded header, tensors sorted by name and contiguous") {
  test::TempDir dir;
  const std::string path = dir.file("l.safetensors");
  SafetensorsWriter w;
  w.add("zeta", ramp({3}, 1, 1), DType::fp32);      // 12 bytes
  w.add("alpha", ramp({2, 2}, 1, 1), DType::bf16);  // 8 bytes
  w.add("mid", ramp({1}, 1, 1), DType::fp64);       // 8 bytes
  w.set_metadata("k", "v");
  w.write(path);
  const std::vector<uint8_t> bytes = read_bytes(path);
  REQUIRE(bytes.size() >= 8);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | bytes[i];
  CHECK(n % 8 == 0);
  CHECK(bytes.size() == 8 + n + 28);
  const std::string text(bytes.begin() + 8, bytes.begin() + 8 + static_cast<long>(n));
  const nlohmann::json header = nlohmann::json::parse(text);
  CHECK(header["alpha"]["data_offsets"] == nlohmann::json::array({0, 8}));
  CHECK(header["mid"]["data_offsets"] == nlohmann::json::array({8, 16}));
  CHECK(header["zeta"]["data_offsets"] == nlohmann::json::array({16, 28}));
  CHECK(header["zeta"]["dtype"] == "F32");
  CHECK(header["alpha"]["shape"] == nlohmann::json::array({2, 2}));
  CHECK(header["__metadata__"]["k"] == "v");
  // Little-endian bytes: "mid" holds 1.0 as F64 = 0x3FF0000000000000.
  const size_t mid = 8 + n + 8;
  CHECK(bytes[mid + 7] == 0x3F);
  CHECK(bytes[mid + 6] == 0xF0);
  CHECK(bytes[mid] == 0x00);
  // "alpha" starts with bf16 1.0 = 0x3F80, low byte first.
  CHECK(bytes[8 + n] == 0x80);
  CHECK(bytes[8 + n + 1] == 0x3F);
}

TEST_CASE("zero-sized and scalar tensors") {
  test::TempDir dir;
  const std::string path = dir.file("z.safetensors");
  SafetensorsWriter w;
  w.add("empty", Tensor<double>({0, 3}), DType::fp32);
  w.add("empty_ids", Tensor<int64_t>({4, 0}));
  w.add("scalar", Tensor<double>({}, std::vector<double>{2.5}), DType::fp64);
  w.write(path);
  const SafetensorsFile f = SafetensorsFile::read(path);
  CHECK(f.to_double("empty").shape == Shape{0, 3});
  CHECK(f.to_double("empty").numel() == 0);
  CHECK(f.to_int64("empty_ids").shape == Shape{4, 0});
  CHECK(f.to_double("scalar").shape == Shape{});
  CHECK(f.to_double("scalar").data == std::vector<double>{2.5});

  // Hand-made: a zero-sized tensor between two others, sharing their boundary offset.
  write_raw(dir.file("z2.safetensors"),
            R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
            R"("e":{"dtype":"F16","shape":[5,0],"data_offsets":[4,4]},)"
            R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
            8);
  const SafetensorsFile g = SafetensorsFile::read(dir.file("z2.safetensors"));
  CHECK(g.names().size() == 3);
  CHECK(g.to_double("e").shape == Shape{5, 0});
}

TEST_CASE("read with a filter keeps only the wanted tensors but validates all") {
  test::TempDir dir;
  const std::string path = dir.file("f.safetensors");
  SafetensorsWriter w;
  w.add("layer.0.a", ramp({2}, 1, 1), DType::fp32);
  w.add("layer.1.a", ramp({2}, 3, 1), DType::fp32);
  w.write(path);
  const auto wanted = [](const std::string& name) { return name.rfind("layer.1.", 0) == 0; };
  const SafetensorsFile f = SafetensorsFile::read(path, wanted);
  CHECK(f.names() == std::vector<std::string>{"layer.1.a"});
  CHECK(f.to_double("layer.1.a").data == std::vector<double>{3, 4});

  write_raw(dir.file("bad.safetensors"),
            R"({"layer.0.a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]},)"
            R"("layer.1.a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
            8);
  CHECK_THROWS_WITH(SafetensorsFile::read(dir.file("bad.safetensors"), wanted),
                    Contains("'layer.0.a'") && Contains("needs 8"));
}

TEST_CASE("Hugging Face style file: header keys and data in arbitrary order") {
  test::TempDir dir;
  const std::string path = dir.file("hf.safetensors");
  // Header lists "b" first but its data comes second; padded with spaces like the reference.
  std::string header =
      R"({"__metadata__":{"format":"pt"},"b":{"dtype":"F32","shape":[1],"data_offsets":[2,6]},)"
      R"("a":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]}})";
  header.append((8 - header.size() % 8) % 8, ' ');
  std::vector<uint8_t> bytes;
  for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<uint8_t>(header.size() >> (8 * i)));
  for (char ch : header) bytes.push_back(static_cast<uint8_t>(ch));
  for (uint8_t byte : {0x80, 0x3F, 0x00, 0x00, 0x20, 0xC0}) bytes.push_back(byte);  // 1.0, -2.5f
  write_bytes(path, bytes);
  const SafetensorsFile f = SafetensorsFile::read(path);
  CHECK(f.to_double("a").data == std::vector<double>{1.0});
  CHECK(f.to_double("b").data == std::vector<double>{-2.5});
  CHECK(f.metadata().at("format") == "pt");
}

TEST_CASE("corrupt files are rejected with the path and the problem") {
  test::TempDir dir;
  const std::string p = dir.file("x.safetensors");
  const std::string one = R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";

  SECTION("missing file") {
    require_rejected(dir.file("absent.safetensors"), "no such file");
  }
  SECTION("a path through a regular file") {
    write_raw(p, one, 8);
    require_rejected(p + "/inner.safetensors", "cannot access");
  }
  SECTION("a directory") {
    std::filesystem::create_directory(p);
    require_rejected(p, "directory");
  }
  SECTION("empty file") {
    write_bytes(p, {});
    require_rejected(p, "too short");
  }
  SECTION("shorter than 8 bytes") {
    write_bytes(p, {1, 0, 0});
    require_rejected(p, "too short");
  }
  SECTION("header length larger than the file") {
    write_raw(p, one, 8, 1000);
    require_rejected(p, "larger than");
  }
  SECTION("absurd header length") {
    write_raw(p, one, 8, int64_t{1} << 40);
    require_rejected(p, "absurd");
  }
  SECTION("absurd header length with the top bit set") {
    std::vector<uint8_t> bytes(16, 0xFF);
    write_bytes(p, bytes);
    require_rejected(p, "absurd");
  }
  SECTION("header not JSON") {
    write_raw(p, "{\"t\": [1, 2", 0);
    require_rejected(p, "not valid JSON");
  }
  SECTION("header with invalid UTF-8") {
    write_raw(p, "{\"t\xff\xfe\": {}}", 0);
    require_rejected(p, "not valid JSON");
  }
  SECTION("header not an object") {
    write_raw(p, "[1, 2, 3]", 0);
    require_rejected(p, "not a JSON object");
  }
  SECTION("truncated data (header fine, bytes missing)") {
    write_raw(p, one, 4);
    require_rejected(p, "beyond the data section");
  }
  SECTION("entry not an object") {
    write_raw(p, R"({"t": [0, 8]})", 8);
    require_rejected(p, "must be an object");
  }
  SECTION("missing dtype") {
    write_raw(p, R"({"t":{"shape":[2],"data_offsets":[0,8]}})", 8);
    require_rejected(p, "missing field 'dtype'");
  }
  SECTION("missing shape") {
    write_raw(p, R"({"t":{"dtype":"F32","data_offsets":[0,8]}})", 8);
    require_rejected(p, "missing field 'shape'");
  }
  SECTION("missing data_offsets") {
    write_raw(p, R"({"t":{"dtype":"F32","shape":[2]}})", 8);
    require_rejected(p, "missing field 'data_offsets'");
  }
  SECTION("dtype of the wrong type") {
    write_raw(p, R"({"t":{"dtype":4,"shape":[2],"data_offsets":[0,8]}})", 8);
    require_rejected(p, "dtype must be a string");
  }
  SECTION("shape not an array") {
    write_raw(p, R"({"t":{"dtype":"F32","shape":2,"data_offsets":[0,8]}})", 8);
    require_rejected(p, "shape must be an array");
  }
  SECTION("shape holding a string") {
    write_raw(p, R"({"t":{"dtype":"F32","shape":["2"],"data_offsets":[0,8]}})", 8);
    require_rejected(p, "must hold integers");
  }
  SECTION("shape holding a fraction") {
    write_raw(p, R"({"t":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}})", 8);
    require_rejected(p, "must hold integers");
  }
  SECTION("data_offsets of the wrong form") {
    write_raw(p, R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,4,8]}})", 8);
    require_rejected(p, "data_offsets must be [begin, end]");
  }
  SECTION("negative data_offsets") {
    write_raw(p, R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}})", 8);
    require_rejected(p, "non-negative");
  }
  SECTION("unknown dtype") {
    write_raw(p, R"({"t":{"dtype":"U8","shape":[8],"data_offsets":[0,8]}})", 8);
    require_rejected(p, "unknown dtype 'U8'");
  }
  SECTION("negative dimension") {
    write_raw(p, R"({"t":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8);
    require_rejected(p, "negative dimension");
  }
  SECTION("huge dimension") {
    write_raw(p, R"({"t":{"dtype":"F32","shape":[18446744073709551615],"data_offsets":[0,8]}})", 8);
    require_rejected(p, "too large");
  }
  SECTION("dimensions whose product overflows 64 bits") {
    // 2^32 * 2^32 * 4 bytes wraps to 0 in unchecked uint64 arithmetic.
    write_raw(p, R"({"t":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}})",
              0);
    require_rejected(p, "too large");
  }
  SECTION("overflowing dimensions hidden behind a zero") {
    write_raw(p, R"({"t":{"dtype":"F32","shape":[4294967296,4294967296,0],"data_offsets":[0,0]}})",
              0);
    require_rejected(p, "too large");
  }
  SECTION("offsets out of order") {
    write_raw(p, R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 8);
    require_rejected(p, "out of order");
  }
  SECTION("offsets beyond the data section") {
    write_raw(p, R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})", 8);
    require_rejected(p, "beyond the data section");
  }
  SECTION("overlapping tensors") {
    write_raw(p,
              R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
              R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
              12);
    require_rejected(p, "overlap");
  }
  SECTION("two tensors on the same bytes") {
    write_raw(p,
              R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
              R"("b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
              8);
    require_rejected(p, "overlap");
  }
  SECTION("a hole between tensors") {
    write_raw(p,
              R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
              R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
              12);
    require_rejected(p, "belong to no tensor");
  }
  SECTION("a hole at the start") {
    write_raw(p, R"({"t":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8);
    require_rejected(p, "belong to no tensor");
  }
  SECTION("trailing bytes after the last tensor") {
    write_raw(p, one, 12);
    require_rejected(p, "cover 8");
  }
  SECTION("byte count disagrees with the shape") {
    write_raw(p, R"({"q_proj.weight":{"dtype":"F32","shape":[4,8],"data_offsets":[0,100]}})", 100);
    require_rejected(p,
                     "tensor 'q_proj.weight': data_offsets [0, 100] hold 100 bytes, shape [4, 8] "
                     "of F32 needs 128");
  }
  SECTION("metadata not an object of strings") {
    write_raw(
        p, R"({"__metadata__":{"format":1},"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
        8);
    require_rejected(p, "__metadata__");
  }
  SECTION("metadata not an object") {
    write_raw(p, R"({"__metadata__":"pt","t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
              8);
    require_rejected(p, "__metadata__");
  }
  SECTION("duplicate tensor name") {
    write_raw(p,
              R"({"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
              R"("t":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
              8);
    require_rejected(p, "twice");
  }
  SECTION("control characters from the file do not break the one-line message") {
    write_raw(p, "{\"a\\nb\":{\"dtype\":\"X\\n\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4);
    require_rejected(p, "unknown dtype");
  }
}

TEST_CASE("writer rejects bad requests and leaves no partial file") {
  test::TempDir dir;
  SafetensorsWriter w;
  w.add("x", ramp({2}, 1, 1), DType::fp32);
  CHECK_THROWS_WITH(w.add("x", ramp({2}, 1, 1), DType::fp32), Contains("twice"));
  CHECK_THROWS_AS(w.add("__metadata__", ramp({2}, 1, 1), DType::fp32), Error);
  CHECK_THROWS_AS(w.add("", ramp({2}, 1, 1), DType::fp32), Error);
  CHECK_THROWS_WITH(w.add("y", ramp({2}, 1, 1), DType::i64), Contains("I64"));

  SECTION("missing directory") {
    const std::string path = dir.file("no/such/dir/out.safetensors");
    CHECK_THROWS_WITH(w.write(path), Contains(path) && Contains("does not exist"));
    CHECK_FALSE(std::filesystem::exists(dir.file("no")));
  }
  SECTION("target is a directory: rename fails, temporary file removed") {
    const std::string path = dir.file("taken");
    std::filesystem::create_directory(path);
    CHECK_THROWS_WITH(w.write(path), Contains(path));
    int entries = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
      ++entries;
      CHECK(e.path().filename() == "taken");
    }
    CHECK(entries == 1);
  }
  SECTION("an existing file is replaced whole") {
    const std::string path = dir.file("out.safetensors");
    write_bytes(path, std::vector<uint8_t>(1000, 0xAB));
    w.write(path);
    CHECK(SafetensorsFile::read(path).names() == std::vector<std::string>{"x"});
    CHECK(std::filesystem::file_size(path) < 1000);
  }
}
