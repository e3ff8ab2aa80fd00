cmake_minimum_required(VERSION 3.25)
# Fails when a Lua runtime is installed that this build has no module for: the
# build was configured before the runtime was installed, and would silently test
# fewer languages. Run as: cmake -DBUILT="<runtime names>" -P check_runtimes.cmake
set(_missing "")
foreach(rt lua5.4 lua5.3 lua5.1 luajit)
  if(rt STREQUAL "luajit")
    find_path(_inc luajit.h PATHS /usr/include/luajit-2.1 /usr/local/include/luajit-2.1 NO_DEFAULT_PATH NO_CACHE)
  else()
    find_path(_inc lua.h PATHS /usr/include/${rt} /usr/local/include/${rt} NO_DEFAULT_PATH NO_CACHE)
  endif()
  find_program(_exe ${rt} NO_CACHE)
  if(_inc AND _exe AND NOT rt IN_LIST BUILT)
    list(APPEND _missing ${rt})
  endif()
  unset(_inc)
  unset(_exe)
endforeach()
if(_missing)
  message(FATAL_ERROR "Lua runtimes installed but not built here: ${_missing} (the build was configured "
                      "before they were installed): reconfigure, e.g. cmake --preset default")
endif()
message(STATUS "every installed Lua runtime is built: ${BUILT}")
