# Cross-compile for 64-bit Windows with mingw-w64; run targets under Wine.
#   cmake --preset windows   (or -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-mingw64.cmake)
# scripts/windows-test.sh configures, builds, starts a Wine server and runs CTest.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

set(LOCKET_MINGW_PREFIX x86_64-w64-mingw32)
set(CMAKE_C_COMPILER ${LOCKET_MINGW_PREFIX}-gcc)
set(CMAKE_CXX_COMPILER ${LOCKET_MINGW_PREFIX}-g++)
set(CMAKE_RC_COMPILER ${LOCKET_MINGW_PREFIX}-windres)

set(CMAKE_FIND_ROOT_PATH /usr/${LOCKET_MINGW_PREFIX})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# CTest runs every executable target as "wine prog.exe ..." through
# scripts/windows-run.sh (WINEPREFIX defaults to build/wineprefix there).
set(CMAKE_CROSSCOMPILING_EMULATOR ${CMAKE_CURRENT_LIST_DIR}/../scripts/windows-run.sh)

# One output directory for locket.dll and every .exe, so that the Windows
# loader finds the DLL next to the programs that use it.
if(NOT DEFINED CMAKE_RUNTIME_OUTPUT_DIRECTORY)
  set(CMAKE_RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bin)
endif()

# Link libgcc (emulated TLS for the per-thread last error) statically, so
# locket.dll and the programs need only KERNEL32 and msvcrt.
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-static-libgcc")
set(CMAKE_MODULE_LINKER_FLAGS_INIT "-static-libgcc")
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static-libgcc")
