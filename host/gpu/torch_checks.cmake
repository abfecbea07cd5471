# Included right after find_package(Torch); what the configure checks against torch need.
#
# The torch wheel's CMake package (2.11, pip) names protobuf::libprotobuf in its targets' link
# interface without defining that target (libtorch carries its protobuf inside), and CMake refuses
# to generate anything that links torch. An empty stand-in target lets our own targets go ahead;
# where the package defines the real one (or never names it, as Debian's libtorch 1.13) this does
# nothing.
if(NOT TARGET protobuf::libprotobuf)
  add_library(protobuf::libprotobuf INTERFACE IMPORTED GLOBAL)
endif()

# try_compile / check_cxx_source_compiles copy the imported targets they link into a scratch
# project, and CMake 4 rejects torch's there even with the stand-in ("target was not found"), so
# every check failed to configure on the GPU machine. The checks therefore get torch as plain
# paths instead: sdxl_torch_plain_settings(INCLUDES LIBRARIES) walks TORCH_LIBRARIES' imported
# targets and returns their include folders and library files.
function(sdxl_torch_plain_settings out_includes out_libraries)
  set(queue ${TORCH_LIBRARIES})
  set(seen "")
  set(includes ${TORCH_INCLUDE_DIRS} ${CUDAToolkit_INCLUDE_DIRS})
  set(libraries "")
  while(queue)
    list(POP_FRONT queue item)
    string(REGEX REPLACE "^\\$<LINK_ONLY:(.*)>$" "\\1" item "${item}")
    if(item MATCHES "\\$<")
      # torch_library is "-Wl,--no-as-needed,$<TARGET_FILE:torch> ...;$<TARGET_PROPERTY:torch,...>":
      # follow the targets such expressions name, drop the expression itself.
      string(REGEX MATCHALL "TARGET_(FILE|PROPERTY):[A-Za-z0-9_:.-]+" named "${item}")
      foreach(name IN LISTS named)
        string(REGEX REPLACE "^TARGET_(FILE|PROPERTY):" "" name "${name}")
        list(APPEND queue "${name}")
      endforeach()
      continue()
    endif()
    if(item STREQUAL "" OR item IN_LIST seen)
      continue()
    endif()
    list(APPEND seen "${item}")
    if(TARGET "${item}")
      get_target_property(type "${item}" TYPE)
      if(NOT type STREQUAL "INTERFACE_LIBRARY")
        get_target_property(configs "${item}" IMPORTED_CONFIGURATIONS)
        set(properties IMPORTED_LOCATION)
        foreach(config IN LISTS configs)
          list(APPEND properties IMPORTED_LOCATION_${config})
        endforeach()
        foreach(property IN LISTS properties)
          get_target_property(location "${item}" ${property})
          if(location)
            list(APPEND libraries "${location}")
            break()
          endif()
        endforeach()
      endif()
      get_target_property(dirs "${item}" INTERFACE_INCLUDE_DIRECTORIES)
      foreach(dir IN LISTS dirs)
        if(dir AND NOT dir MATCHES "\\$<")
          list(APPEND includes "${dir}")
        endif()
      endforeach()
      get_target_property(links "${item}" INTERFACE_LINK_LIBRARIES)
      if(links)
        list(APPEND queue ${links})
      endif()
    elseif(IS_ABSOLUTE "${item}" OR item MATCHES "^-")
      list(APPEND libraries "${item}")
    elseif(NOT item MATCHES "::")
      list(APPEND libraries "${item}")  # a system library by name (pthread, dl, ...)
    endif()
  endwhile()
  list(REMOVE_DUPLICATES includes)
  set(${out_includes} "${includes}" PARENT_SCOPE)
  set(${out_libraries} "${libraries}" PARENT_SCOPE)
endfunction()

# sdxl_torch_check_begin() / sdxl_torch_check_end(): around check_cxx_source_compiles calls that
# include torch headers and link libtorch (macros: CMAKE_REQUIRED_* live in the caller's scope).
macro(sdxl_torch_check_begin)
  sdxl_torch_plain_settings(SDXL_TORCH_CHECK_INCLUDES SDXL_TORCH_CHECK_LIBRARIES)
  set(CMAKE_REQUIRED_INCLUDES ${SDXL_TORCH_CHECK_INCLUDES})
  set(CMAKE_REQUIRED_LIBRARIES ${SDXL_TORCH_CHECK_LIBRARIES})
  set(CMAKE_REQUIRED_FLAGS "${TORCH_CXX_FLAGS}")
endmacro()
macro(sdxl_torch_check_end)
  unset(CMAKE_REQUIRED_INCLUDES)
  unset(CMAKE_REQUIRED_LIBRARIES)
  unset(CMAKE_REQUIRED_FLAGS)
endmacro()
