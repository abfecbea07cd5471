# Text side (tokenizer + CLIP text encoders): golden replays through the CLI, on top of the
# Catch2 tests in tests/unit/text. `sdxl golden replay CASE` without --out compares with the
# expected values and exits 0 iff they match.
set(SDXL_TEXT_CASES ${SDXL_GOLDEN_DIR}/models/cases)
set(SDXL_TEXT_MODELS ${SDXL_GOLDEN_DIR}/models)
if(EXISTS ${SDXL_TEXT_CASES}/tokenizer.json AND EXISTS ${CMAKE_SOURCE_DIR}/host/cli/golden.cpp)
  add_test(NAME "text golden: tokenizer, diffusers folder"
           COMMAND $<TARGET_FILE:sdxl> golden replay ${SDXL_TEXT_CASES}/tokenizer.json
                   --model ${SDXL_TEXT_MODELS}/tiny-sdxl)
  if(EXISTS ${SDXL_CLIP_VOCAB})
    add_test(NAME "text golden: tokenizer, bpe_simple_vocab_16e6.txt.gz"
             COMMAND $<TARGET_FILE:sdxl> golden replay ${SDXL_TEXT_CASES}/tokenizer.json
                     --model ${SDXL_TEXT_MODELS}/tiny-sdxl-fp16.safetensors --clip-vocab ${SDXL_CLIP_VOCAB})
  endif()
else()
  message(STATUS "Tokenizer golden not found in ${SDXL_TEXT_CASES}: CLI golden test skipped")
endif()
if(EXISTS ${SDXL_TEXT_CASES}/text_encoders.safetensors AND EXISTS ${CMAKE_SOURCE_DIR}/host/cli/golden.cpp)
  add_test(NAME "text golden: text encoders, diffusers folder"
           COMMAND $<TARGET_FILE:sdxl> golden replay ${SDXL_TEXT_CASES}/text_encoders.safetensors
                   --model ${SDXL_TEXT_MODELS}/tiny-sdxl)
  add_test(NAME "text golden: text encoders, fp16 single file"
           COMMAND $<TARGET_FILE:sdxl> golden replay ${SDXL_TEXT_CASES}/text_encoders.safetensors
                   --model ${SDXL_TEXT_MODELS}/tiny-sdxl-fp16.safetensors
                   --model-config ${SDXL_TEXT_MODELS}/tiny-sdxl)
endif()
