# LoRA tests.
#  * test_lora (tests/unit/lora) compiles the format sources of both LoRA plugins directly, so it
#    needs no plugin loading.
#  * CLI contract: every case of golden/lora/manifest.json through `sdxl lora merge --compare`
#    (tolerance from the manifest; unaffected tensors bit-identical), and every file of
#    golden/lora/bad through `sdxl lora merge --out`, which must fail, name the key group and
#    write nothing. The bad-file check runs this same file in script mode (cmake -P).

if(CMAKE_SCRIPT_MODE_FILE)
  # ---- script mode: one bad-file check -----------------------------------------------------------
  file(REMOVE ${OUT})
  execute_process(COMMAND ${SDXL} lora merge --unet ${BASE}/unet.safetensors --text-encoder ${BASE}/text_encoder.safetensors
                          --text-encoder-2 ${BASE}/text_encoder_2.safetensors --lora ${LORA}:0.8 --out ${OUT}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  set(all "${out}${err}")
  if(EXPECT STREQUAL "ok")
    if(NOT rc EQUAL 0 OR NOT EXISTS ${OUT})
      message(FATAL_ERROR "expected success for ${LORA}, got exit ${rc}:\n${all}")
    endif()
    file(REMOVE ${OUT})
    return()
  endif()
  if(rc EQUAL 0)
    message(FATAL_ERROR "${LORA} was accepted:\n${all}")
  endif()
  if(EXISTS ${OUT})
    message(FATAL_ERROR "${LORA} failed but left an output file ${OUT}")
  endif()
  get_filename_component(name ${LORA} NAME)
  string(FIND "${all}" "${name}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "the error does not name the file ${name}:\n${all}")
  endif()
  if(MUST)
    string(REPLACE "|" ";" must_list "${MUST}")
    foreach(m ${must_list})
      string(FIND "${all}" "${m}" at)
      if(at EQUAL -1)
        message(FATAL_ERROR "the error does not mention '${m}':\n${all}")
      endif()
    endforeach()
  endif()
  message(STATUS "refused as expected: ${all}")
  return()
endif()

if(TARGET test_lora)
  set(_lora_plugins ${CMAKE_SOURCE_DIR}/plugins/lora)
  target_sources(test_lora PRIVATE ${_lora_plugins}/kohya_lycoris/kohya_format.cpp
                                   ${_lora_plugins}/diffusers/diffusers_format.cpp)
  target_include_directories(test_lora PRIVATE ${_lora_plugins}/kohya_lycoris ${_lora_plugins}/diffusers)
  target_link_libraries(test_lora PRIVATE sdxl_lora_common)
endif()

set(_lora_golden ${SDXL_GOLDEN_DIR}/lora)
if(TARGET sdxl AND EXISTS ${_lora_golden}/manifest.json AND EXISTS ${_lora_golden}/bad/bad_cases.json)
  set(_base ${_lora_golden}/base)
  set(_components --unet ${_base}/unet.safetensors --text-encoder ${_base}/text_encoder.safetensors
                  --text-encoder-2 ${_base}/text_encoder_2.safetensors)
  file(READ ${_lora_golden}/manifest.json _manifest)
  string(JSON _atol GET "${_manifest}" tolerance fp32_merge atol)
  string(JSON _rtol GET "${_manifest}" tolerance fp32_merge rtol)
  string(JSON _ncases LENGTH "${_manifest}" cases)
  math(EXPR _last "${_ncases} - 1")
  foreach(i RANGE ${_last})
    string(JSON _case GET "${_manifest}" cases ${i} case)
    string(JSON _expected GET "${_manifest}" cases ${i} expected)
    string(JSON _dora_type TYPE "${_manifest}" cases ${i} dora_convention)
    set(_args ${_components})
    if(_dora_type STREQUAL "STRING")
      string(JSON _dora GET "${_manifest}" cases ${i} dora_convention)
      list(APPEND _args --dora-convention ${_dora})
    endif()
    string(JSON _ninputs LENGTH "${_manifest}" cases ${i} inputs)
    math(EXPR _last_input "${_ninputs} - 1")
    set(_first_lora "")
    foreach(j RANGE ${_last_input})
      string(JSON _lora GET "${_manifest}" cases ${i} inputs ${j} lora)
      string(JSON _mult GET "${_manifest}" cases ${i} inputs ${j} multiplier)
      list(APPEND _args --lora ${_lora_golden}/${_lora}:${_mult})
      if(NOT _first_lora)
        get_filename_component(_first_lora ${_lora} NAME_WE)
      endif()
    endforeach()
    add_test(NAME "lora: golden ${_case} (${_first_lora})"
             COMMAND $<TARGET_FILE:sdxl> lora merge ${_args} --compare ${_lora_golden}/${_expected}
                     --atol ${_atol} --rtol ${_rtol})
  endforeach()

  file(READ ${_lora_golden}/bad/bad_cases.json _bad)
  string(JSON _nbad LENGTH "${_bad}" cases)
  math(EXPR _last "${_nbad} - 1")
  foreach(i RANGE ${_last})
    string(JSON _file GET "${_bad}" cases ${i} file)
    string(JSON _expect GET "${_bad}" cases ${i} expect)
    string(JSON _nmust LENGTH "${_bad}" cases ${i} must_mention)
    set(_must "")
    if(_nmust GREATER 0)
      math(EXPR _last_must "${_nmust} - 1")
      foreach(j RANGE ${_last_must})
        string(JSON _m GET "${_bad}" cases ${i} must_mention ${j})
        list(APPEND _must ${_m})
      endforeach()
    endif()
    string(REPLACE ";" "|" _must "${_must}")
    get_filename_component(_name ${_file} NAME_WE)
    add_test(NAME "lora: bad file ${_name}"
             COMMAND ${CMAKE_COMMAND} -DSDXL=$<TARGET_FILE:sdxl> -DBASE=${_base} -DLORA=${_lora_golden}/${_file}
                     -DEXPECT=${_expect} -DMUST=${_must} -DOUT=${CMAKE_BINARY_DIR}/lora_bad_${_name}.safetensors
                     -P ${CMAKE_CURRENT_LIST_FILE})
  endforeach()
endif()

# Checkpoint inputs (host/models/loader): the tiny SDXL as a diffusers folder and as a single
# file must give the same merged tensors. The folder run writes the changed tensors, the
# single-file run is compared against them (and every other tensor against its original).
set(_tiny ${SDXL_GOLDEN_DIR}/models)
if(TARGET sdxl AND EXISTS ${_tiny}/tiny-sdxl AND EXISTS ${_tiny}/tiny-sdxl-fp16.safetensors
   AND EXISTS ${_lora_golden}/bad/reference_valid.safetensors)
  set(_merged ${CMAKE_BINARY_DIR}/lora_checkpoint_folder.safetensors)
  add_test(NAME "lora: checkpoint folder merge"
           COMMAND $<TARGET_FILE:sdxl> lora merge --model ${_tiny}/tiny-sdxl
                   --lora ${_lora_golden}/bad/reference_valid.safetensors:-0.6 --out ${_merged} --changed-only)
  set_tests_properties("lora: checkpoint folder merge" PROPERTIES FIXTURES_SETUP lora_checkpoint)
  add_test(NAME "lora: checkpoint single file equals folder"
           COMMAND $<TARGET_FILE:sdxl> lora merge --model ${_tiny}/tiny-sdxl-fp16.safetensors
                   --lora ${_lora_golden}/bad/reference_valid.safetensors:-0.6 --compare ${_merged} --atol 0 --rtol 0)
  set_tests_properties("lora: checkpoint single file equals folder" PROPERTIES FIXTURES_REQUIRED lora_checkpoint)
endif()
