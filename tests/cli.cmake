# CLI contracts: exit codes (0 ok, 1 failure, 2 usage/config), clear messages, shipped configs
# valid, and the conformance kit on every in-tree plugin.
set(SDXL_EXPECT ${CMAKE_CURRENT_SOURCE_DIR}/scripts/expect.cmake)
function(sdxl_cli_test name code match)
  add_test(NAME cli_${name} COMMAND ${CMAKE_COMMAND} -DCODE=${code} "-DMATCH=${match}"
           "-DCMD=$<TARGET_FILE:sdxl>;${ARGN}" -P ${SDXL_EXPECT})
endfunction()

sdxl_cli_test(version 0 "sdxl [0-9]+\\.[0-9]+" --version)
sdxl_cli_test(help 0 "plugin-check" --help)
sdxl_cli_test(unknown_command 2 "unknown command 'frobnicate'" frobnicate)
sdxl_cli_test(unknown_option 2 "unknown option --bogus" plugins --bogus)
sdxl_cli_test(missing_plugin_dir 2 "plugin folder '/nonexistent/plugins' does not exist"
              --plugin-path /nonexistent/plugins plugins)
sdxl_cli_test(missing_config 2 "not found" --config /nonexistent/sdxl.toml plugins)
sdxl_cli_test(config_check_default 0 "ok" config check ${CMAKE_SOURCE_DIR}/config/sdxl.toml)
sdxl_cli_test(config_check_minimal 0 "ok" config check ${CMAKE_SOURCE_DIR}/config/examples/minimal.toml)
sdxl_cli_test(config_check_bad 2 "bad_value.toml:2:[0-9]+: \\[log\\] level"
              config check ${CMAKE_CURRENT_SOURCE_DIR}/data/bad_value.toml)
sdxl_cli_test(config_dump 0 "\\[plugins\\]" config dump)
sdxl_cli_test(plugins_with_rejections_exit_0 0 "rejected libraries" --plugin-path ${SDXL_TEST_PLUGIN_OUTPUT_DIR} plugins)
sdxl_cli_test(log_format_json 2 "\\{\"time\":\"[^\"]+\",\"level\":\"error\",\"msg\":\".*does not exist\"\\}"
              --log-format json --plugin-path /nonexistent plugins)
add_test(NAME cli_plugins_json_no_rejections COMMAND ${CMAKE_COMMAND} -DCODE=0 -DJSON_EMPTY=rejected
         "-DCMD=$<TARGET_FILE:sdxl>;plugins;--json" -P ${SDXL_EXPECT})

# The conformance kit on every built-in plugin library.
get_property(builtin GLOBAL PROPERTY SDXL_BUILTIN_PLUGINS)
foreach(p ${builtin})
  add_test(NAME plugin_check_${p} COMMAND $<TARGET_FILE:sdxl> plugin-check $<TARGET_FILE:${p}>)
endforeach()

# A GPU budget given as a fraction of free GPU memory needs a CUDA runtime: on a machine without
# one the start-up says so instead of running unbounded. (Skipped where CUDA is present.)
if(SDXL_TORCH_DEVICE STREQUAL "cpu")
  sdxl_cli_test(memory_gpu_fraction_without_cuda 2 "\\[memory\\] gpu = \"0.5\": a fraction of the free GPU memory needs a CUDA runtime"
                --config ${CMAKE_CURRENT_SOURCE_DIR}/data/gpu_fraction.toml plugins)
endif()

# `sdxl bench` on small shapes and the demo model: every part runs and reports its figures.
sdxl_cli_test(bench_tiny 0 "\"start_to_first_step_ms\"" bench --tiny --size 64 --steps 2 --iters 1 --device cpu)
sdxl_cli_test(bench_bad_size 2 "--size must be a positive multiple of 8" bench --tiny --size 100)
# Its "auto" VAE figure is the pipeline's own decode choice, under the configured cap.
sdxl_cli_test(bench_vae_auto 0 "\"auto\": {[^}]*\"choice\": \"untiled decode \\(estimate [0-9]+ MiB fits\\)\""
              bench --tiny --parts vae --size 64 --iters 1 --device cpu)
sdxl_cli_test(bench_vae_auto_capped 1 "VAE decode of latents 8x8 needs [0-9]+ MiB untiled and does not fit the 1 MiB allowed by \\[memory\\] vae_decode on cpu"
              --config ${CMAKE_CURRENT_SOURCE_DIR}/data/vae_decode_1mib.toml bench --tiny --parts vae --size 64 --iters 1 --device cpu)

# The VAE decode cap is a size; a fraction (of what?) is a configuration error naming the key.
sdxl_cli_test(memory_vae_decode_fraction 2 "\\[memory\\] vae_decode: '0.5' is a fraction; give a size"
              --config ${CMAKE_CURRENT_SOURCE_DIR}/data/vae_decode_fraction.toml plugins)

# [cpu] threads sets libtorch's intra-op pool (`sdxl bench` reports it); a negative count is refused.
sdxl_cli_test(cpu_threads 0 "\"threads\": 2"
              --config ${CMAKE_CURRENT_SOURCE_DIR}/data/cpu_threads.toml bench --tiny --parts unet --iters 1 --device cpu)
sdxl_cli_test(cpu_threads_negative 2 "\\[cpu\\] threads = -1: expected 0"
              --config ${CMAKE_CURRENT_SOURCE_DIR}/data/cpu_threads_negative.toml plugins)

# [output] png_compression outside zlib's levels is refused, naming the key.
sdxl_cli_test(png_compression_bad 2 "\\[output\\] png_compression = 12: expected a zlib level 0-9"
              --config ${CMAKE_CURRENT_SOURCE_DIR}/data/png_compression_bad.toml plugins)

# [gpu] cuda_graphs reaches the pipeline (`sdxl bench` reports it; on the CPU the job runs eagerly);
# a word where the boolean belongs is refused naming the file, line and key.
sdxl_cli_test(cuda_graphs 0 "\"cuda_graphs\": true"
              --config ${CMAKE_CURRENT_SOURCE_DIR}/data/cuda_graphs.toml bench --tiny --parts generate --size 64 --steps 1 --device cpu)
sdxl_cli_test(cuda_graphs_bad 2 "cuda_graphs_bad.toml:3:[0-9]+: \\[gpu\\] cuda_graphs"
              --config ${CMAKE_CURRENT_SOURCE_DIR}/data/cuda_graphs_bad.toml plugins)
# [gpu] channels_last reaches the pipeline (`sdxl bench` reports the switch; on the CPU the UNet
# keeps its layout): on by default (a configuration without [gpu]), off where the file says so;
# a number where the boolean belongs is refused naming the file, line and key.
sdxl_cli_test(channels_last_default 0 "\"gpu_channels_last\": true"
              --config ${CMAKE_CURRENT_SOURCE_DIR}/data/cpu_threads.toml bench --tiny --parts generate --size 64 --steps 1 --device cpu)
sdxl_cli_test(channels_last 0 "\"gpu_channels_last\": false"
              --config ${CMAKE_CURRENT_SOURCE_DIR}/data/channels_last.toml bench --tiny --parts generate --size 64 --steps 1 --device cpu)
sdxl_cli_test(channels_last_bad 2 "channels_last_bad.toml:3:[0-9]+: \\[gpu\\] channels_last"
              --config ${CMAKE_CURRENT_SOURCE_DIR}/data/channels_last_bad.toml plugins)
# [gpu] fused_qkv reaches the pipeline; on the CPU no weight is stacked (the switch is for CUDA).
sdxl_cli_test(fused_qkv 0 "\"gpu_fused_qkv\": true.*\"unet_stacked_self_attentions\": 0"
              --config ${CMAKE_CURRENT_SOURCE_DIR}/data/fused_qkv.toml bench --tiny --parts generate --size 64 --steps 1 --device cpu)

# [gpu] attention: a name outside the list is refused naming the file, line and key. A kernel
# choice reaches libtorch's switches (`sdxl bench` reports them) on libtorch 2.x; on 1.x, which has
# no scaled_dot_product_attention, it is refused naming the key and the version it needs.
sdxl_cli_test(attention_bad 2 "attention_bad.toml:3:[0-9]+: \\[gpu\\] attention"
              --config ${CMAKE_CURRENT_SOURCE_DIR}/data/attention_bad.toml plugins)
if(Torch_VERSION VERSION_LESS 2.0)
  sdxl_cli_test(attention_needs_torch2 2 "\\[gpu\\] attention = \"math\": attention backend 'math' needs libtorch 2.0"
                --config ${CMAKE_CURRENT_SOURCE_DIR}/data/attention_math.toml plugins)
else()
  sdxl_cli_test(attention_math 0 "\"attention\": \"math\""
                --config ${CMAKE_CURRENT_SOURCE_DIR}/data/attention_math.toml bench --tiny --parts unet --iters 1 --device cpu)
endif()
