# `sdxl generate` end to end on the built-in demo model (cached under the build tree), and its
# refusals of bad input before any model is loaded.
set(SDXL_GEN_ENV "SDXL_CACHE_DIR=${CMAKE_BINARY_DIR}/test-cache")
set(SDXL_GEN_OUT ${CMAKE_BINARY_DIR}/test-generate)
file(MAKE_DIRECTORY ${SDXL_GEN_OUT})
function(sdxl_generate_test name code match)
  add_test(NAME generate_${name} COMMAND ${CMAKE_COMMAND} -DCODE=${code} "-DMATCH=${match}"
           "-DCMD=$<TARGET_FILE:sdxl>;generate;${ARGN}" -P ${CMAKE_CURRENT_SOURCE_DIR}/scripts/expect.cmake)
  set_tests_properties(generate_${name} PROPERTIES ENVIRONMENT "${SDXL_GEN_ENV}" TIMEOUT 300)
endfunction()

sdxl_generate_test(demo_txt2img 0 "\"seed\": 7" --prompt "a (red:1.2) fox BREAK snow" --width 64 --height 64
                   --steps 2 --seed 7 --json --out ${SDXL_GEN_OUT}/fox.png)
sdxl_generate_test(batch_names 0 "fox-3.png" --prompt fox --width 64 --height 64 --steps 1 --batch-size 2
                   --batch-count 2 --seed 1 --json --out ${SDXL_GEN_OUT}/fox.png)
sdxl_generate_test(bad_size 2 "multiples of 8" --prompt x --width 100 --height 64)
sdxl_generate_test(bad_steps 2 "steps must be" --prompt x --steps 0)
sdxl_generate_test(unknown_sampler 2 "unknown sampler 'no_such_sampler'; available: .*euler" --prompt x --sampler no_such_sampler)
sdxl_generate_test(bad_strength 2 "strength must be in" --prompt x --init-image ${CMAKE_SOURCE_DIR}/tests/data/init_64.png --strength 1.5)
sdxl_generate_test(unreadable_init 2 "--init-image: .*nonexistent.png" --prompt x --init-image /nonexistent.png)
sdxl_generate_test(bad_job_key 2 "bad_job.toml:2:[0-9]+: unknown setting 'stepz'" --job ${CMAKE_SOURCE_DIR}/tests/data/bad_job.toml)
sdxl_generate_test(demo_img2img 0 "Denoising|wrote" --prompt "a fox" --init-image ${CMAKE_SOURCE_DIR}/tests/data/init_64.png
                   --strength 0.5 --steps 4 --seed 3 --out ${SDXL_GEN_OUT}/img2img.png)
# The PNG carries A1111's parameters and a second run with the same seed gives the same pixels.
add_test(NAME generate_png_metadata_and_determinism
         COMMAND $<TARGET_FILE:test_pipeline> "[generate-cli]")
set_tests_properties(generate_png_metadata_and_determinism PROPERTIES ENVIRONMENT
  "${SDXL_GEN_ENV};SDXL_BIN=$<TARGET_FILE:sdxl>;SDXL_GEN_OUT=${SDXL_GEN_OUT}" TIMEOUT 300)
sdxl_generate_test(previews 0 "wrote" --prompt fox --width 64 --height 64 --steps 4 --seed 9 --preview-every 2
                   --preview-dir ${SDXL_GEN_OUT}/previews --out ${SDXL_GEN_OUT}/preview-final.png)
sdxl_generate_test(bad_preview_every 2 "--preview-every: .x. is not" --prompt fox --preview-every x)
# Base → refiner flags: checked before loading; a missing refiner is named.
sdxl_generate_test(bad_refiner_switch 2 "refiner switch must be in" --prompt fox --refiner /nonexistent --refiner-switch 1.5)
sdxl_generate_test(missing_refiner 1 "refiner: .*nonexistent" --prompt fox --width 64 --height 64 --steps 2
                   --refiner /nonexistent-refiner)
# TAESD-XL previews (the golden tree's random TAESD-XL) instead of the linear approximation.
if(EXISTS ${SDXL_GOLDEN_DIR}/models/taesdxl-random)
  sdxl_generate_test(taesd_previews 0 "wrote" --prompt fox --width 64 --height 64 --steps 2 --seed 9 --preview-every 1
                     --preview-taesd ${SDXL_GOLDEN_DIR}/models/taesdxl-random --preview-dir ${SDXL_GEN_OUT}/taesd-previews
                     --out ${SDXL_GEN_OUT}/taesd-final.png)
endif()
sdxl_generate_test(bad_preview_taesd 2 "preview_taesd: .*nowhere" --prompt fox --preview-every 1 --preview-taesd /nowhere)
# A VAE of its own (--vae, [model] vae): TAESD-XL decodes the final picture; a missing one is named.
if(EXISTS ${SDXL_GOLDEN_DIR}/models/taesdxl-random)
  sdxl_generate_test(taesd_vae 0 "wrote" --prompt fox --width 64 --height 64 --steps 2 --seed 9
                     --vae ${SDXL_GOLDEN_DIR}/models/taesdxl-random --out ${SDXL_GEN_OUT}/taesd-vae.png)
endif()
sdxl_generate_test(missing_vae 1 "nowhere-vae: no such VAE" --prompt fox --width 64 --height 64 --steps 1 --vae /nowhere-vae)
# [model] paths in a configuration file are relative to that file (as the server reads them).
add_test(NAME generate_config_relative_vae COMMAND ${CMAKE_COMMAND} -DCODE=1 "-DMATCH=tests/data/nowhere-vae: no such VAE"
         "-DCMD=$<TARGET_FILE:sdxl>;--config;${CMAKE_CURRENT_SOURCE_DIR}/data/relative_vae.toml;generate;--prompt;fox;--width;64;--height;64;--steps;1"
         -P ${CMAKE_CURRENT_SOURCE_DIR}/scripts/expect.cmake)
set_tests_properties(generate_config_relative_vae PROPERTIES ENVIRONMENT "${SDXL_GEN_ENV}" TIMEOUT 300)
