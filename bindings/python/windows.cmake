# The Python binding cross-built for Windows CPython (included by
# CMakeLists.txt when LOCKET_WIN_PYTHONS is set; scripts/windows-python.sh
# and scripts/windows-test.sh --python set it). One SWIG run, then one
# extension per interpreter: ${CMAKE_BINARY_DIR}/python-win/X.Y/locket/
# holds the package with __core.cpXY-win_amd64.pyd, linked against that
# interpreter's python3XY.dll. Toolchain: the project's mingw-w64 (msvcrt.dll;
# CPython uses the UCRT): no CRT object may cross between the module and
# the interpreter; docs/windows.md, "Python on Windows", says why that holds
# and tests/windows/check_pyd.cmake checks the imports that would break it.
find_package(SWIG 4.0 REQUIRED COMPONENTS python)

set(_gen ${CMAKE_CURRENT_BINARY_DIR}/gen)
set(_wrap ${_gen}/locket_pythonPYTHON_wrap.c)
set(_i ${CMAKE_CURRENT_SOURCE_DIR}/locket_python.i)
include(${PROJECT_SOURCE_DIR}/cmake/LocketSwig.cmake)
locket_swig(python ${_i} ${_wrap} OUTDIR ${_gen} OPTIONS -builtin
  DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/python_wait.i ${CMAKE_CURRENT_SOURCE_DIR}/python_lock.i
  BYPRODUCTS ${_gen}/_core.py)

set(LOCKET_WIN_PYTHON_VERSIONS "" CACHE INTERNAL "X.Y of each Windows CPython built for")
set(_versions "")
foreach(_py ${LOCKET_WIN_PYTHONS})
  file(GLOB _dll LIST_DIRECTORIES false "${_py}/python3*.dll")
  list(FILTER _dll EXCLUDE REGEX "/python3\\.dll$")
  list(LENGTH _dll _n)
  if(NOT _n EQUAL 1 OR NOT EXISTS "${_py}/include/Python.h")
    message(FATAL_ERROR "LOCKET_WIN_PYTHONS: ${_py} is not a Windows CPython (python3X.dll, include/Python.h)")
  endif()
  string(REGEX REPLACE ".*/python3([0-9]+)\\.dll$" "\\1" _minor "${_dll}")
  set(_ver 3.${_minor})
  set(_tag 3${_minor})
  list(APPEND _versions ${_ver})
  set(_pkg ${CMAKE_BINARY_DIR}/python-win/${_ver}/locket)
  set(_target locket_python_win${_tag})
  add_library(${_target} MODULE ${_wrap})
  target_include_directories(${_target} SYSTEM PRIVATE ${_py}/include)
  # Straight against the interpreter's DLL (no import library needed).
  target_link_libraries(${_target} PRIVATE locket_static ${_dll})
  # The project's warnings, less those SWIG's output trips (as bindings/python/CMakeLists.txt),
  # shown but not fatal: one wrapper is compiled against every CPython from 3.9 to 3.14, whose
  # headers change what it trips (3.14: a deprecated PyWeakref_GET_OBJECT, and braces around a
  # scalar initializer, a warning no -Wno option names). The Linux build makes them errors, so the
  # hand-written C of the .i files is held to -Werror there.
  target_compile_options(${_target} PRIVATE ${LOCKET_WARNINGS} -Wno-missing-prototypes
                                            -Wno-missing-field-initializers -Wno-deprecated-declarations -Wno-error)
  # MS_WIN64 is what pyconfig.h keys 64-bit Windows on (MSVC defines _WIN64 only).
  target_compile_definitions(${_target} PRIVATE MS_WIN64)
  # The tag in the name: a build for one interpreter is never loaded by another.
  set_target_properties(${_target} PROPERTIES
    PREFIX "" OUTPUT_NAME __core SUFFIX ".cp${_tag}-win_amd64.pyd"
    LIBRARY_OUTPUT_DIRECTORY ${_pkg} RUNTIME_OUTPUT_DIRECTORY ${_pkg})
  set(_copies "")
  foreach(f __init__.py _args.py _errors.py _lock.py _asyncio.py _scope.py py.typed _core.pyi)
    add_custom_command(OUTPUT ${_pkg}/${f}
      COMMAND ${CMAKE_COMMAND} -E copy ${CMAKE_CURRENT_SOURCE_DIR}/locket/${f} ${_pkg}/${f}
      DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/locket/${f})
    list(APPEND _copies ${_pkg}/${f})
  endforeach()
  add_custom_command(OUTPUT ${_pkg}/_core.py
    COMMAND ${CMAKE_COMMAND} -E copy ${_gen}/_core.py ${_pkg}/_core.py
    DEPENDS ${_gen}/_core.py)
  add_custom_target(${_target}_package ALL DEPENDS ${_copies} ${_pkg}/_core.py)
  add_dependencies(${_target} ${_target}_package)
  set(LOCKET_WIN_PYTHON_DIR_${_tag} ${_py} CACHE INTERNAL "")
endforeach()
set(LOCKET_WIN_PYTHON_VERSIONS ${_versions} CACHE INTERNAL "X.Y of each Windows CPython built for")

# A win_amd64 wheel per interpreter, in ${CMAKE_BINARY_DIR}/wheels
# (tests/windows: pip installs it in the Windows Python under Wine).
find_package(Python3 COMPONENTS Interpreter)
if(Python3_Interpreter_FOUND)
  foreach(_ver ${LOCKET_WIN_PYTHON_VERSIONS})
    string(REPLACE "." "" _tag "${_ver}")
    set(_pkg ${CMAKE_BINARY_DIR}/python-win/${_ver}/locket)
    set(_whl ${CMAKE_BINARY_DIR}/wheels/locket-${PROJECT_VERSION}-cp${_tag}-cp${_tag}-win_amd64.whl)
    add_custom_command(OUTPUT ${_whl}
      COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/windows_wheel.py ${_pkg}
              ${PROJECT_SOURCE_DIR}/pyproject.toml ${CMAKE_BINARY_DIR}/wheels ${_ver}
      DEPENDS locket_python_win${_tag} locket_python_win${_tag}_package ${CMAKE_CURRENT_SOURCE_DIR}/windows_wheel.py
              ${PROJECT_SOURCE_DIR}/pyproject.toml ${PROJECT_SOURCE_DIR}/include/locket.h ${PROJECT_SOURCE_DIR}/LICENSE
              $<TARGET_FILE:locket_python_win${_tag}>
      COMMENT "wheel for Windows CPython ${_ver}")
    add_custom_target(locket_python_win${_tag}_wheel ALL DEPENDS ${_whl})
    set(LOCKET_WIN_WHEEL_${_tag} ${_whl} CACHE INTERNAL "")
  endforeach()
endif()
