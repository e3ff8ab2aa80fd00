# Loaded after CMake's Darwin platform rules (CMAKE_USER_MAKE_RULES_OVERRIDE_C, set by
# cmake/toolchain-zig.cmake): loadable modules (the Lua and Python modules) are linked as
# dylibs (-shared, MH_DYLIB) instead of bundles. zig 0.17's linker writes no valid Mach-O for
# -bundle (a file of no known format, or a crash); dlopen(), which Lua's require and Python's
# import use, loads a dylib just as well (Rust's cdylib extensions are dylibs too).
set(CMAKE_SHARED_MODULE_CREATE_C_FLAGS "-shared -Wl,-headerpad_max_install_names")
