// The HTTP API end to end in one process: the orchestrator on the demo model behind the HTTP
// front on a free loopback port, driven by an httplib client with JSON and base64 PNGs.
#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include <chrono>
#include <thread>

#include "http_test_support.h"
#include "test_paths.h"

using namespace sdxl;
using json = nlohmann::json;

TEST_CASE("http: bad requests are 4xx with a message, never a crash", "[http]") {
  server::HttpOptions opts;
  opts.max_request_bytes = 4096;
  test::TestServer srv(opts, [](server::OrchestratorOptions& o) { o.start_paused = true; });
  auto c = srv.client();

  auto r = c->Post("/v1/jobs", "{\"prompt\": \"x\", ", "application/json");
  REQUIRE(r);
  CHECK(r->status == 400);
  CHECK_THAT(r->body, Catch::Contains("malformed JSON"));

  auto [s1, j1] = test::post_json(*c, "/v1/jobs", {{"prompt", "x"}, {"width", 100}});
  CHECK(s1 == 400);
  CHECK_THAT(j1["detail"].get<std::string>(), Catch::Contains("width"));
  auto [s2, j2] = test::post_json(*c, "/v1/jobs", {{"prompt", "x"}, {"stepz", 3}});
  CHECK(s2 == 400);
  CHECK_THAT(j2["detail"].get<std::string>(), Catch::Contains("stepz"));
  auto [s3, j3] = test::post_json(*c, "/v1/jobs", {{"prompt", "x"}, {"init_image", "@@@@"}});
  CHECK(s3 == 400);
  CHECK_THAT(j3["detail"].get<std::string>(), Catch::Contains("init_image"));
  auto [s4, j4] = test::post_json(*c, "/sdapi/v1/txt2img", {{"prompt", "x"}, {"steps", "two"}});
  CHECK(s4 == 400);
  CHECK_THAT(j4["detail"].get<std::string>(), Catch::Contains("steps"));
  auto [s5, j5] = test::post_json(*c, "/sdapi/v1/png-info", {{"image", "not base64 at all!"}});
  CHECK(s5 == 400);
  auto [s6, j6] = test::post_json(*c, "/v1/jobs", json::array({1, 2}));
  CHECK(s6 == 400);

  // Too large for max_request_bytes: refused before the body is read whole.
  auto big = c->Post("/v1/jobs", std::string(8192, ' '), "application/json");
  REQUIRE(big);
  CHECK(big->status == 413);

  auto [s7, j7] = test::get_json(*c, "/v1/jobs/no-such-job");
  CHECK(s7 == 404);
  CHECK(j7["error"] == "not_found");
  auto del = c->Delete("/v1/jobs/no-such-job");
  REQUIRE(del);
  CHECK(del->status == 404);
  auto [s8, j8] = test::get_json(*c, "/v1/nothing-here");
  CHECK(s8 == 404);
  CHECK(j8.is_object());

  auto [s9, j9] = test::get_json(*c, "/healthz");
  CHECK(s9 == 200);
  CHECK(j9["status"] == "ok");
}

TEST_CASE("http: the API key guards everything but /healthz", "[http]") {
  server::HttpOptions opts;
  opts.api_key = "s3cret";
  test::TestServer srv(opts, [](server::OrchestratorOptions& o) { o.start_paused = true; });
  auto c = srv.client();
  CHECK(test::get_json(*c, "/healthz").first == 200);
  auto [s, j] = test::get_json(*c, "/v1/models");
  CHECK(s == 401);
  CHECK(j["error"] == "unauthorized");
  CHECK(test::get_json(*c, "/v1/models", {{"Authorization", "Bearer wrong"}}).first == 401);
  CHECK(test::get_json(*c, "/v1/models", {{"Authorization", "Bearer s3cret"}}).first == 200);
  CHECK(test::get_json(*c, "/sdapi/v1/options", {{"X-API-Key", "s3cret"}}).first == 200);
  CHECK(test::post_json(*c, "/v1/jobs", {{"prompt", "x"}}).first == 401);
}

TEST_CASE("http: cancel a queued job, its event stream ends with cancelled", "[http]") {
  test::TestServer srv({}, [](server::OrchestratorOptions& o) { o.start_paused = true; });
  auto c = srv.client();
  auto [s, j] = test::post_json(*c, "/v1/jobs", {{"prompt", "x"}, {"width", 64}, {"height", 64}, {"steps", 1}});
  REQUIRE(s == 200);
  const std::string id = j["id"];
  auto [gs, gj] = test::get_json(*c, "/v1/jobs/" + id);
  CHECK(gs == 200);
  CHECK(gj["state"] == "queued");

  std::string stream;
  std::thread reader([&] {
    auto rc = srv.client();
    rc->Get(("/v1/jobs/" + id + "/events").c_str(), [&](const char* data, size_t n) {
      stream.append(data, n);
      return true;
    });
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto del = c->Delete(("/v1/jobs/" + id).c_str());
  REQUIRE(del);
  CHECK(del->status == 200);
  reader.join();
  INFO(stream);
  const auto queued = stream.find("event: queued");
  const auto cancelled = stream.find("event: cancelled");
  REQUIRE(queued != std::string::npos);
  REQUIRE(cancelled != std::string::npos);
  CHECK(queued < cancelled);
  CHECK(stream.find("event: done") == std::string::npos);
  CHECK(test::get_json(*c, "/v1/jobs/" + id).second["state"] == "cancelled");
  // Cancelling again: the job has ended.
  auto again = c->Delete(("/v1/jobs/" + id).c_str());
  REQUIRE(again);
  CHECK(again->status == 409);
}

TEST_CASE("http: a native job streams queued, progress with previews, then done", "[http]") {
  test::TestServer srv({}, [](server::OrchestratorOptions& o) {
    o.start_paused = true;
    o.preview_every = 1;
  });
  auto c = srv.client();
  auto [s, j] = test::post_json(*c, "/v1/jobs", {{"prompt", "a fox"}, {"width", 64}, {"height", 64}, {"steps", 3}, {"seed", 11}});
  REQUIRE(s == 200);
  const std::string id = j["id"];
  std::string stream;
  std::thread reader([&] {
    auto rc = srv.client();
    rc->Get(("/v1/jobs/" + id + "/events").c_str(), [&](const char* data, size_t n) {
      stream.append(data, n);
      return true;
    });
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  srv.orch->resume();
  reader.join();
  INFO(stream);
  // Parse the stream: event names in order, progress steps, previews.
  std::vector<std::string> names;
  std::vector<json> data;
  for (std::size_t pos = 0; (pos = stream.find("event: ", pos)) != std::string::npos;) {
    const auto eol = stream.find('\n', pos);
    names.push_back(stream.substr(pos + 7, eol - pos - 7));
    const auto d = stream.find("data: ", eol);
    data.push_back(json::parse(stream.substr(d + 6, stream.find('\n', d) - d - 6)));
    pos = eol;
  }
  REQUIRE(names.size() >= 3);
  CHECK(names.front() == "queued");
  CHECK(names.back() == "done");
  std::int64_t last_step = 0, progress = 0;
  bool preview = false;
  for (std::size_t i = 0; i < names.size(); ++i) {
    CHECK((i + 1 == names.size() || (names[i] != "done" && names[i] != "failed" && names[i] != "cancelled")));
    if (names[i] != "progress") continue;
    ++progress;
    CHECK(data[i]["step"].get<std::int64_t>() > last_step);
    last_step = data[i]["step"];
    if (data[i].contains("preview")) {
      auto png = test::decode_base64_png(data[i]["preview"]);
      CHECK(png.pixels.size(0) > 0);
      preview = true;
    }
  }
  CHECK(progress >= 1);
  CHECK(preview);
  auto [gs, gj] = test::get_json(*c, "/v1/jobs/" + id);
  REQUIRE(gs == 200);
  CHECK(gj["state"] == "done");
}

TEST_CASE("http: A1111 txt2img and png-info round trip", "[http][a1111]") {
  test::TestServer srv;
  auto c = srv.client();
  auto [ms, models] = test::get_json(*c, "/sdapi/v1/sd-models");
  REQUIRE(ms == 200);
  REQUIRE(models.is_array());
  REQUIRE_FALSE(models.empty());
  CHECK(models[0].contains("title"));
  CHECK(models[0].contains("model_name"));
  auto [ss, samplers] = test::get_json(*c, "/sdapi/v1/samplers");
  REQUIRE(ss == 200);
  bool euler_a = false;
  for (const auto& s : samplers) euler_a = euler_a || s["name"] == "Euler a";
  CHECK(euler_a);
  auto [sch, schedulers] = test::get_json(*c, "/sdapi/v1/schedulers");
  REQUIRE(sch == 200);
  CHECK(schedulers[0]["name"] == "automatic");

  const json request = {{"prompt", "a red fox"}, {"negative_prompt", "blurry"}, {"width", 64}, {"height", 64},
                        {"steps", 2},  {"cfg_scale", 6},  {"seed", 5},  {"n_iter", 2},
                        {"sampler_name", "Euler a"}, {"send_images", true}};
  auto [s, out] = test::post_json(*c, "/sdapi/v1/txt2img", request);
  INFO(out.dump().substr(0, 500));
  REQUIRE(s == 200);
  REQUIRE(out["images"].size() == 2);
  const json info = json::parse(out["info"].get<std::string>());
  CHECK(info["all_seeds"] == json({5, 6}));
  CHECK(info["sampler_name"] == "Euler a");
  CHECK(out["parameters"]["prompt"] == "a red fox");
  for (int k = 0; k < 2; ++k) {
    auto png = test::decode_base64_png(out["images"][k]);
    CHECK(png.pixels.size(0) == 64);
    CHECK(png.pixels.size(1) == 64);
    // /png-info reads the A1111 parameters chunk back.
    auto [ps, pj] = test::post_json(*c, "/sdapi/v1/png-info", {{"image", out["images"][k]}});
    REQUIRE(ps == 200);
    CHECK(pj["info"] == png.text["parameters"]);
    CHECK(pj["parameters"]["Prompt"] == "a red fox");
    CHECK(pj["parameters"]["Negative prompt"] == "blurry");
    CHECK(pj["parameters"]["Seed"] == std::to_string(5 + k));
    CHECK(pj["parameters"]["Steps"] == "2");
    CHECK(pj["parameters"]["Sampler"] == "Euler a");
    CHECK(pj["parameters"]["Size-1"] == "64");
  }

  // img2img with a base64 init image of the requested size.
  const json i2i = {{"prompt", "a fox"}, {"init_images", json::array({test::gradient_png_base64(64, 64)})},
                    {"denoising_strength", 0.5}, {"steps", 2}, {"seed", 3}, {"width", 64}, {"height", 64}};
  auto [is, iout] = test::post_json(*c, "/sdapi/v1/img2img", i2i);
  INFO(iout.dump().substr(0, 500));
  REQUIRE(is == 200);
  REQUIRE(iout["images"].size() == 1);
  CHECK(json::parse(iout["info"].get<std::string>())["denoising_strength"] == 0.5);
  CHECK(iout["parameters"]["init_images"].is_null());

  // Idle server: progress 0 and the A1111 state fields.
  auto [pr, prog] = test::get_json(*c, "/sdapi/v1/progress");
  REQUIRE(pr == 200);
  CHECK(prog["progress"] == 0.0);
  CHECK(prog["state"].contains("sampling_steps"));
  CHECK(test::post_json(*c, "/sdapi/v1/interrupt", json::object()).first == 200);
}

TEST_CASE("http: options select the model, unknown models are 404", "[http][a1111]") {
  test::TestServer srv({}, [](server::OrchestratorOptions& o) { o.start_paused = true; });
  auto c = srv.client();
  auto [gs, opts] = test::get_json(*c, "/sdapi/v1/options");
  REQUIRE(gs == 200);
  const std::string current = opts["sd_model_checkpoint"];
  CHECK_FALSE(current.empty());
  CHECK(test::post_json(*c, "/sdapi/v1/options", {{"sd_model_checkpoint", current}}).first == 200);
  auto [bs, bj] = test::post_json(*c, "/sdapi/v1/options", {{"sd_model_checkpoint", "../../etc/passwd"}});
  CHECK(bs == 404);
  CHECK(test::post_json(*c, "/sdapi/v1/options", {{"sd_model_checkpoint", 3}}).first == 400);
  auto [ls, loras] = test::get_json(*c, "/sdapi/v1/loras");
  CHECK(ls == 200);
  CHECK(loras.is_array());
  CHECK(test::get_json(*c, "/sdapi/v1/sd-vae").second == json::array());  // no [model] vae: none listed
  CHECK(opts["sd_vae"] == "Automatic");
  auto [ps, plugins] = test::get_json(*c, "/v1/plugins");
  REQUIRE(ps == 200);
  CHECK(plugins["plugins"].is_array());
  CHECK_FALSE(plugins["plugins"].empty());
  auto metrics = c->Get("/metrics");
  REQUIRE(metrics);
  CHECK(metrics->status == 200);
  CHECK_THAT(metrics->body, Catch::Contains("sdxl_queue_length") && Catch::Contains("# TYPE sdxl_queue_length gauge"));
  CHECK_THAT(metrics->get_header_value("Content-Type"), Catch::Contains("text/plain"));
}

TEST_CASE("http: the VAE of [model] vae decodes, is listed and is named in the parameters", "[http][a1111]") {
  const auto taesd = sdxl::test_paths::golden_models_dir() / "taesdxl-random";
  if (!std::filesystem::exists(taesd)) {
    WARN("SKIPPED: " << taesd << " is absent (set SDXL_GOLDEN_DIR)");
    return;
  }
  test::TestServer srv({}, [&](server::OrchestratorOptions& o) { o.config.vae_path = taesd.string(); });
  auto c = srv.client();
  auto [vs, vaes] = test::get_json(*c, "/sdapi/v1/sd-vae");
  REQUIRE(vs == 200);
  CHECK(vaes == json::array({{{"model_name", "taesdxl-random"}, {"filename", "taesdxl-random"}}}));  // no path
  CHECK(test::get_json(*c, "/sdapi/v1/options").second["sd_vae"] == "taesdxl-random");
  auto [s, out] = test::post_json(*c, "/sdapi/v1/txt2img", {{"prompt", "a fox"}, {"width", 64}, {"height", 64},
                                                             {"steps", 2}, {"seed", 4}});
  INFO(out.dump().substr(0, 500));
  REQUIRE(s == 200);
  auto [ps, pj] = test::post_json(*c, "/sdapi/v1/png-info", {{"image", out["images"][0]}});
  REQUIRE(ps == 200);
  CHECK(pj["parameters"]["VAE"] == "taesdxl-random");
}
