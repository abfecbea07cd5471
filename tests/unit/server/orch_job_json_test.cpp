// The native job request: field checks with messages naming the field, limits, base64 pictures.
#include <catch2/catch.hpp>

#include "server/job.h"

using namespace sdxl::server;

namespace {
std::string parse_error(const std::string& body, const ServerLimits& limits = {}) {
  auto r = parse_job_json(body, limits);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == sdxl::sdk::StatusCode::invalid_argument);
  return r.status().message();
}
// The smallest valid PNG (1x1 grey), from the PNG specification's layout (signature + IHDR + IDAT + IEND).
const char* kTinyPngBase64 =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVQI12NgAAAAAgAB4iG8MwAAAABJRU5ErkJggg==";
}  // namespace

TEST_CASE("orch job json: a full request parses with every field", "[orch][json]") {
  auto r = parse_job_json(std::string(R"({"prompt":"a cat","negative":"blur","width":512,"height":768,"steps":20,
      "sampler":"euler_a","cfg":6.5,"guidance_rescale":0.3,"seed":42,"batch_size":2,
      "loras":[{"name":"style","weight":0.7}],"strength":0.5,"model":"demo","priority":3,
      "client":"alice","timeout_s":60})"),
                          ServerLimits{});
  REQUIRE(r.ok());
  const auto& s = r.value();
  CHECK(s.prompt == "a cat");
  CHECK(s.negative == "blur");
  CHECK(s.width == 512);
  CHECK(s.height == 768);
  CHECK(s.size_set);
  CHECK(s.steps == 20);
  CHECK(s.sampler == "euler_a");
  CHECK(s.cfg == 6.5);
  CHECK(s.guidance_rescale == 0.3);
  CHECK(s.seed == 42);
  CHECK(s.batch_size == 2);
  REQUIRE(s.loras.size() == 1);
  CHECK(s.loras[0].name == "style");
  CHECK(s.loras[0].weight == 0.7);
  CHECK(s.priority == 3);
  CHECK(s.client == "alice");
  CHECK(s.timeout_s == 60);
  // to_json gives a request that parses to the same spec.
  auto again = parse_job_json(to_json(s), ServerLimits{});
  REQUIRE(again.ok());
  CHECK(to_json(again.value()) == to_json(s));
}

TEST_CASE("orch job json: bad fields are refused naming the field", "[orch][json]") {
  CHECK_THAT(parse_error("{\"prompt\": \"x\", "), Catch::Contains("malformed JSON"));
  CHECK_THAT(parse_error("[1, 2]"), Catch::Contains("JSON object"));
  CHECK_THAT(parse_error(R"({"width": 64})"), Catch::Contains("prompt: required"));
  CHECK_THAT(parse_error(R"({"prompt": 3})"), Catch::Contains("prompt: expected a string"));
  CHECK_THAT(parse_error(R"({"prompt": "x", "widht": 64})"), Catch::Contains("unknown field 'widht'"));
  CHECK_THAT(parse_error(R"({"prompt": "x", "width": 1004})"), Catch::Contains("width: must be a multiple of 8 (got 1004)"));
  CHECK_THAT(parse_error(R"({"prompt": "x", "width": 64.5})"), Catch::Contains("width: expected an integer"));
  CHECK_THAT(parse_error(R"({"prompt": "x", "height": 4096})"), Catch::Contains("height: must be in [8, 2048]"));
  CHECK_THAT(parse_error(R"({"prompt": "x", "steps": 0})"), Catch::Contains("steps: must be in [1, 150]"));
  CHECK_THAT(parse_error(R"({"prompt": "x", "batch_size": 9})"), Catch::Contains("batch_size"));
  CHECK_THAT(parse_error(R"({"prompt": "x", "cfg": "high"})"), Catch::Contains("cfg: expected a number"));
  CHECK_THAT(parse_error(R"({"prompt": "x", "cfg": -1})"), Catch::Contains("cfg: must be in"));
  CHECK_THAT(parse_error(R"({"prompt": "x", "guidance_rescale": 2})"), Catch::Contains("guidance_rescale"));
  CHECK_THAT(parse_error(R"({"prompt": "x", "strength": 0})"), Catch::Contains("strength"));
  CHECK_THAT(parse_error(R"({"prompt": "x", "seed": -5})"), Catch::Contains("seed"));
  CHECK_THAT(parse_error(R"({"prompt": "x", "loras": {"name": "a"}})"), Catch::Contains("loras: expected an array"));
  CHECK_THAT(parse_error(R"({"prompt": "x", "loras": [{"weight": 1}]})"), Catch::Contains("loras[0].name: required"));
  CHECK_THAT(parse_error(R"({"prompt": "x", "loras": [{"name": "a", "w": 1}]})"), Catch::Contains("loras[0]: unknown field 'w'"));
  CHECK_THAT(parse_error(R"({"prompt": "x", "init_image": "@@@@"})"), Catch::Contains("init_image: invalid base64"));
  CHECK_THAT(parse_error(R"({"prompt": "x", "init_image": "aGVsbG8gd29ybGQ="})"), Catch::Contains("init_image: not a PNG"));
  CHECK_THAT(parse_error(std::string(R"({"prompt": "x", "mask": ")") + kTinyPngBase64 + "\"}"),
             Catch::Contains("mask: needs init_image"));
  CHECK_THAT(parse_error(R"({"prompt": "x", "priority": 1000})"), Catch::Contains("priority"));
  CHECK_THAT(parse_error(R"({"prompt": "x", "timeout_s": -1})"), Catch::Contains("timeout_s"));
  CHECK_THAT(parse_error(R"({"prompt": "x", "controlnets": 5})"), Catch::Contains("controlnets: expected an array"));
}

TEST_CASE("orch job json: server limits bound size, LoRA count and request bytes", "[orch][json]") {
  ServerLimits l;
  l.max_width = l.max_height = 512;
  l.max_loras = 1;
  l.max_request_bytes = 200;
  CHECK_THAT(parse_error(R"({"prompt": "x", "width": 520})", l), Catch::Contains("width: must be in [8, 512]"));
  CHECK_THAT(parse_error(R"({"prompt": "x", "loras": [{"name": "a"}, {"name": "b"}]})", l),
             Catch::Contains("loras: at most 1"));
  CHECK_THAT(parse_error("{\"prompt\": \"" + std::string(300, 'a') + "\"}", l), Catch::Contains("request body"));
}

TEST_CASE("orch job json: base64 pictures, with or without a data URL prefix", "[orch][json]") {
  for (const std::string prefix : {"", "data:image/png;base64,"}) {
    auto r = parse_job_json(std::string(R"({"prompt": "x", "init_image": ")") + prefix + kTinyPngBase64 + "\"}",
                            ServerLimits{});
    REQUIRE(r.ok());
    REQUIRE(r.value().init_image.size() > 8);
    CHECK(r.value().init_image[1] == 'P');
  }
}

TEST_CASE("orch job json: base64 matches the RFC 4648 test vectors", "[orch][json]") {
  const std::pair<std::string, std::string> vectors[] = {{"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},  {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    CHECK(base64_encode(reinterpret_cast<const unsigned char*>(plain.data()), plain.size()) == encoded);
    auto d = base64_decode(encoded, "t");
    REQUIRE(d.ok());
    CHECK(std::string(d.value().begin(), d.value().end()) == plain);
  }
  CHECK_FALSE(base64_decode("Zm9vY", "t").ok());     // one symbol too many
  CHECK_FALSE(base64_decode("Zg==Zg==", "t").ok());  // data after padding
}
