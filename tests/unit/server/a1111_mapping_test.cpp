// A1111 request/response mapping without a server: sampler vocabulary, field names, seeds of
// n_iter batches, refusals, mask inversion and /png-info parsing.
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include "image/png.h"
#include "pipeline/infotext.h"
#include "server/a1111_request.h"
#include "server/a1111_samplers.h"
#include "server/job.h"

using namespace sdxl;
using json = nlohmann::json;

namespace {
const std::vector<std::string> kFeatures = {"euler", "euler_a", "euler_karras", "dpmpp_2m", "dpmpp_2m_karras",
                                            "dpmpp_2m_sde_karras", "dpmpp_2s_a_karras", "ddim_trailing", "lms"};

std::string png_base64(const at::Tensor& px, const std::map<std::string, std::string>& text = {}) {
  auto png = image::encode_png(px, text);
  REQUIRE(png.ok());
  return server::base64_encode(png.value().data(), png.value().size());
}
}  // namespace

TEST_CASE("a1111 sampler and scheduler select our feature", "[a1111]") {
  CHECK(server::a1111_to_feature("DPM++ 2M", "Karras", kFeatures).value() == "dpmpp_2m_karras");
  CHECK(server::a1111_to_feature("DPM++ 2M", "karras", kFeatures).value() == "dpmpp_2m_karras");
  CHECK(server::a1111_to_feature("DPM++ 2M Karras", "", kFeatures).value() == "dpmpp_2m_karras");  // pre-1.9 clients
  CHECK(server::a1111_to_feature("DPM++ 2M", "Automatic", kFeatures).value() == "dpmpp_2m");
  CHECK(server::a1111_to_feature("Euler a", "", kFeatures).value() == "euler_a");
  CHECK(server::a1111_to_feature("DDIM", "uniform", kFeatures).value() == "ddim_trailing");
  CHECK(server::a1111_to_feature("", "", kFeatures).value().empty());
  CHECK(server::a1111_to_feature("euler_ancestral", "", kFeatures).value() == "euler_ancestral");  // our alias: passed on
  auto unknown_schedule = server::a1111_to_feature("Euler", "Zigzag", kFeatures);
  REQUIRE_FALSE(unknown_schedule.ok());
  CHECK_THAT(unknown_schedule.status().message(), Catch::Contains("scheduler") && Catch::Contains("Zigzag"));
  auto missing = server::a1111_to_feature("LMS", "Exponential", kFeatures);
  REQUIRE_FALSE(missing.ok());
  CHECK_THAT(missing.status().message(), Catch::Contains("not available") && Catch::Contains("DPM++ 2M + Karras"));
}

TEST_CASE("a1111 names of every feature map back to the same feature", "[a1111]") {
  for (const auto& f : kFeatures) {
    const auto [sampler, schedule] = server::feature_to_a1111(f);
    INFO(f << " -> " << sampler << " / " << schedule);
    CHECK(sampler != f);  // every listed feature has an A1111 name
    CHECK(server::a1111_to_feature(sampler, schedule, kFeatures).value() == f);
  }
}

TEST_CASE("a1111 txt2img fields become native jobs, n_iter gives consecutive seeds", "[a1111]") {
  server::ServerLimits limits;
  json body = {{"prompt", "a fox"}, {"negative_prompt", "blur"}, {"width", 64},     {"height", 96},
               {"steps", 3},        {"cfg_scale", 6.5},           {"seed", 100},    {"batch_size", 2},
               {"n_iter", 3},       {"sampler_name", "Euler a"},  {"styles", json::array()},
               {"restore_faces", false}, {"override_settings", {{"sd_model_checkpoint", "demo"}}},
               {"some_future_field", 1}};
  auto r = server::a1111_to_jobs(body, false, limits, kFeatures, 7);
  REQUIRE(r.ok());
  REQUIRE(r.value().jobs.size() == 3);
  for (std::size_t k = 0; k < 3; ++k) {
    const json& j = r.value().jobs[k];
    CHECK(j["seed"] == 100 + 2 * static_cast<int>(k));
    CHECK(j["prompt"] == "a fox");
    CHECK(j["negative"] == "blur");
    CHECK(j["width"] == 64);
    CHECK(j["height"] == 96);
    CHECK(j["steps"] == 3);
    CHECK(j["cfg"] == 6.5);
    CHECK(j["batch_size"] == 2);
    CHECK(j["sampler"] == "euler_a");
    CHECK(j["model"] == "demo");
    // The native parser accepts what the mapping produced.
    auto spec = server::parse_job_json(j, limits);
    REQUIRE(spec.ok());
    CHECK(spec.value().seed == 100 + 2 * static_cast<std::int64_t>(k));
  }
  CHECK(r.value().parameters["seed"] == 100);
  CHECK(r.value().parameters["sampler_name"] == "Euler a");

  SECTION("seed -1 draws one seed for the whole request") {
    body["seed"] = -1;
    auto rr = server::a1111_to_jobs(body, false, limits, kFeatures, 4242);
    REQUIRE(rr.ok());
    CHECK(rr.value().jobs[0]["seed"] == 4242);
    CHECK(rr.value().jobs[2]["seed"] == 4246);
  }
  SECTION("absent sizes stay absent (the server's defaults apply)") {
    auto rr = server::a1111_to_jobs({{"prompt", "x"}}, false, limits, kFeatures, 1);
    REQUIRE(rr.ok());
    CHECK_FALSE(rr.value().jobs[0].contains("width"));
    CHECK_FALSE(rr.value().jobs[0].contains("sampler"));
  }
}

TEST_CASE("a1111 requests that cannot be honoured are refused naming the field", "[a1111]") {
  server::ServerLimits limits;
  limits.max_batch = 4;
  auto refuse = [&](const json& body, bool img2img, const std::string& needle) {
    auto r = server::a1111_to_jobs(body, img2img, limits, kFeatures, 1);
    INFO(body.dump());
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == sdk::StatusCode::invalid_argument);
    CHECK_THAT(r.status().message(), Catch::Contains(needle));
  };
  refuse({{"prompt", "x"}, {"steps", "many"}}, false, "steps: expected an integer");
  refuse({{"prompt", "x"}, {"cfg_scale", "7"}}, false, "cfg_scale: expected a number");
  refuse({{"prompt", 5}}, false, "prompt: expected a string");
  refuse({{"prompt", "x"}, {"batch_size", 2}, {"n_iter", 3}}, false, "batch_size x n_iter");
  refuse({{"prompt", "x"}, {"enable_hr", true}}, false, "enable_hr");
  refuse({{"prompt", "x"}, {"script_name", "x/y plot"}}, false, "script_name");
  refuse({{"prompt", "x"}}, true, "init_images");
  refuse({{"prompt", "x"}, {"init_images", json::array({"a", "b"})}}, true, "only one init image");
  refuse(json::array(), false, "expected a JSON object");
}

TEST_CASE("a1111 img2img maps init image, strength and an inverted mask", "[a1111]") {
  at::Tensor init = at::randint(0, 256, {16, 16, 3}, at::kByte);
  at::Tensor mask = at::zeros({16, 16, 1}, at::kByte);
  mask.narrow(1, 0, 8).fill_(255);  // left half white
  json body = {{"prompt", "x"}, {"init_images", json::array({png_base64(init)})}, {"denoising_strength", 0.4},
               {"mask", "data:image/png;base64," + png_base64(mask)}, {"inpainting_mask_invert", 1}};
  auto r = server::a1111_to_jobs(body, true, server::ServerLimits{}, kFeatures, 1);
  REQUIRE(r.ok());
  const json& j = r.value().jobs[0];
  CHECK(j["strength"] == 0.4);
  CHECK(r.value().parameters["init_images"].is_null());  // not echoed back, as A1111
  auto bytes = server::base64_decode(j["mask"].get<std::string>(), "mask");
  REQUIRE(bytes.ok());
  auto png = image::decode_png(bytes.value().data(), bytes.value().size(), "mask");
  REQUIRE(png.ok());
  CHECK(at::equal(png.value().pixels, 255 - mask));
  auto spec = server::parse_job_json(j, server::ServerLimits{});
  REQUIRE(spec.ok());
  CHECK_FALSE(spec.value().init_image.empty());
}

TEST_CASE("a1111 png-info returns the parameters text, other chunks and parsed fields", "[a1111]") {
  pipeline::InfoText info;
  info.prompt = "a red fox, snow";
  info.negative = "blurry";
  info.add("Steps", "2");
  info.add("Sampler", "Euler a");
  info.add("Seed", "5");
  info.add("Size", "64x96");
  const std::string text = info.render();
  at::Tensor px = at::zeros({4, 4, 3}, at::kByte);
  auto r = server::a1111_png_info(png_base64(px, {{"parameters", text}, {"Software", "test"}}));
  REQUIRE(r.ok());
  const json& j = r.value();
  CHECK(j["info"] == text);
  CHECK(j["items"]["Software"] == "test");
  CHECK_FALSE(j["items"].contains("parameters"));
  CHECK(j["parameters"]["Prompt"] == "a red fox, snow");
  CHECK(j["parameters"]["Negative prompt"] == "blurry");
  CHECK(j["parameters"]["Steps"] == "2");
  CHECK(j["parameters"]["Size-1"] == "64");
  CHECK(j["parameters"]["Size-2"] == "96");

  auto bad = server::a1111_png_info("!!!not base64!!!");
  REQUIRE_FALSE(bad.ok());
  auto not_png = server::a1111_png_info(server::base64_encode(reinterpret_cast<const unsigned char*>("GIF89a...."), 10));
  REQUIRE_FALSE(not_png.ok());
  CHECK(not_png.status().code() == sdk::StatusCode::invalid_argument);
}

TEST_CASE("a1111 response carries images, parameters and an info JSON string", "[a1111]") {
  server::A1111Jobs req;
  req.parameters = {{"prompt", "p"}, {"seed", 9}};
  req.seed = 9;
  std::vector<server::JobSnapshot> results(2);
  for (int k = 0; k < 2; ++k) {
    auto& s = results[k];
    s.state = server::JobState::done;
    s.spec.prompt = "p";
    s.spec.width = 64;
    s.spec.height = 64;
    s.spec.steps = 2;
    s.spec.cfg = 5;
    s.sampler = "dpmpp_2m_karras";
    s.model = "demo";
    server::JobImage img;
    img.png = {0x89, 'P', 'N', 'G'};
    img.seed = 9 + k;
    img.infotext = "p\nSeed: " + std::to_string(9 + k);
    s.images.push_back(img);
  }
  const json out = server::a1111_response(req, results);
  REQUIRE(out["images"].size() == 2);
  CHECK(out["images"][1] == server::base64_encode(results[1].images[0].png.data(), 4));
  CHECK(out["parameters"]["seed"] == 9);
  REQUIRE(out["info"].is_string());
  const json info = json::parse(out["info"].get<std::string>());
  CHECK(info["all_seeds"] == json({9, 10}));
  CHECK(info["sampler_name"] == "DPM++ 2M");
  CHECK(info["infotexts"][1] == "p\nSeed: 10");
  CHECK(info["sd_model_name"] == "demo");
}
