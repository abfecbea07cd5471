# Runs CMD (a ;-list) and checks its exit code is CODE; when MATCH is set, stdout+stderr must
# match that regex; when JSON_EMPTY is set, that JSON array (e.g. "rejected") in stdout must be empty.
# Usage: cmake -DCODE=2 -DMATCH=regex "-DCMD=a;b;c" -P expect.cmake
execute_process(COMMAND ${CMD} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL CODE)
  message(FATAL_ERROR "exit code ${rc}, expected ${CODE}\nstdout:\n${out}\nstderr:\n${err}")
endif()
if(DEFINED MATCH AND NOT "${out}${err}" MATCHES "${MATCH}")
  message(FATAL_ERROR "output does not match '${MATCH}'\nstdout:\n${out}\nstderr:\n${err}")
endif()
if(DEFINED JSON_EMPTY)
  string(JSON n LENGTH "${out}" ${JSON_EMPTY})
  if(NOT n EQUAL 0)
    message(FATAL_ERROR "${JSON_EMPTY} is not empty:\n${out}")
  endif()
endif()
