// The [server] section as the server's settings: values reach ServerSettings, defaults stand in
// for absent keys, and bad values are refused naming the file and key.
#include <catch2/catch.hpp>

#include "config/config.h"
#include "server/http_config.h"
#include "temp_file.h"

using namespace sdxl;

using test_support::write_temp_file;

TEST_CASE("[server] settings: values, defaults and refusals", "[server][config]") {
  auto plain = server::server_settings(config::default_config());
  REQUIRE(plain.ok());
  CHECK_FALSE(plain.value().overlap_decode);
  CHECK(plain.value().max_batch == 4);
  CHECK(plain.value().http.port == 7860);

  auto cfg = config::load_config(write_temp_file("sdxl_server_settings.toml",
                                            "[server]\nport = 0\nmax_batch = 3\noverlap_decode = true\n"));
  REQUIRE(cfg.ok());
  auto s = server::server_settings(cfg.value());
  REQUIRE(s.ok());
  CHECK(s.value().overlap_decode);
  CHECK(s.value().max_batch == 3);
  CHECK(s.value().http.port == 0);

  auto far = config::load_config(write_temp_file("sdxl_server_settings_port.toml", "[server]\nport = 70000\n"));
  REQUIRE(far.ok());
  auto refused = server::server_settings(far.value());
  REQUIRE_FALSE(refused.ok());
  CHECK_THAT(refused.status().message(), Catch::Contains("sdxl_server_settings_port.toml") &&
                                             Catch::Contains("[server] port") && Catch::Contains("70000"));

  auto word = config::load_config(write_temp_file("sdxl_server_settings_word.toml", "[server]\noverlap_decode = \"yes\"\n"));
  REQUIRE_FALSE(word.ok());
  CHECK_THAT(word.status().message(), Catch::Contains("sdxl_server_settings_word.toml:2") && Catch::Contains("overlap_decode"));
}
