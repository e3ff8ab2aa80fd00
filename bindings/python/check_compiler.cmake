# Included before project() in a pip build (pyproject.toml sets
# CMAKE_PROJECT_INCLUDE_BEFORE to this file): a missing C compiler is said in
# words, naming what to install, instead of CMake's "No CMAKE_C_COMPILER could
# be found" or "Could not find compiler set in environment variable CC".
include_guard(GLOBAL)
if(CMAKE_C_COMPILER OR CMAKE_TOOLCHAIN_FILE OR CMAKE_HOST_WIN32)
  return()  # chosen explicitly (a cross build), or a Visual Studio generator
endif()
string(CONCAT _hint "locket's Python binding is C, so pip builds it with a C compiler: install one "
          "(Debian/Ubuntu: apt-get install gcc; Fedora/RHEL: dnf install gcc; Alpine: apk add gcc musl-dev), "
          "or install a prebuilt wheel (pip install --find-links DIR locket: docs/packaging.md)")
# CC may be set without the user knowing (scikit-build-core passes on the
# compiler Python was built with, CC=gcc for many builds): when neither it nor
# any other compiler exists, say that there is none.
find_program(_locket_any_cc NAMES cc gcc clang NO_CACHE)
if(DEFINED ENV{CC} AND NOT "$ENV{CC}" STREQUAL "")
  # CC may carry arguments ("ccache gcc", "zig cc"): its first word is the program.
  separate_arguments(_cc UNIX_COMMAND "$ENV{CC}")
  list(GET _cc 0 _cc0)
  find_program(_locket_cc NAMES "${_cc0}" NO_CACHE)
  if(NOT _locket_cc AND NOT _locket_any_cc)
    message(FATAL_ERROR "No C compiler found (CC=$ENV{CC} does not exist, and neither cc, gcc nor clang "
            "is on the PATH).\n${_hint}")
  elseif(NOT _locket_cc)
    message(FATAL_ERROR "The C compiler named by the environment variable CC (CC=$ENV{CC}) does not exist. "
            "Unset CC to use the system's compiler (${_locket_any_cc}), or point it at an installed one.\n${_hint}")
  endif()
elseif(NOT _locket_any_cc)
  message(FATAL_ERROR "No C compiler found (looked for cc, gcc and clang on the PATH).\n${_hint}")
endif()
