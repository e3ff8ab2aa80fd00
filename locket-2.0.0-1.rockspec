-- `luarocks make` in a locket checkout builds the Lua binding (the C core is
-- compiled into the module, so the rock needs no installed liblocket) and
-- installs locket/core.so and locket/init.lua. Needs CMake >= 3.20, a C11
-- compiler and SWIG >= 4.0 with Lua support.
rockspec_format = "3.0"
package = "locket"
version = "2.0.0-1"
source = {
   -- `luarocks make` builds the checkout it runs in. For a release this is the
   -- one place the Lua source URL is set (docs/packaging.md); the .src.rock
   -- that scripts/wheels.sh packs carries the sources, so it installs offline.
   url = "git+https://example.invalid/locket.git",
   tag = "v2.0.0",
}
description = {
   summary = "Cross-process file locks with timeouts (flock on Linux, LockFileEx on Windows)",
   detailed = [[
A lock is identified by its file: two lock objects on the same file exclude each
other, in one process or in two. Acquire waits without polling, with an optional
timeout; a process that dies releases its locks; Ctrl-C ends a wait.
with_lock() and Lua 5.4 to-be-closed guards make sure a lock cannot leak.]],
   labels = { "lock", "file", "flock", "ipc" },
   license = "BSD-2-Clause",
   homepage = "https://example.invalid/locket",
   maintainer = "the locket authors",
}
dependencies = {
   "lua >= 5.1",
}
build = {
   type = "command",
   build_command = [[
cmake -S . -B build-luarocks -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
  -DLOCKET_BUILD_CLI=OFF -DLOCKET_BUILD_PYTHON=OFF -DLOCKET_BUILD_BENCH=OFF -DLOCKET_WERROR=OFF \
  -DLOCKET_LUA_INCLUDE_DIR="$(LUA_INCDIR)" -DLOCKET_LUA_CMOD_DIR="$(LIBDIR)" -DLOCKET_LUA_LMOD_DIR="$(LUADIR)" \
  -DCMAKE_C_COMPILER="$(CC)" &&
cmake --build build-luarocks --target locket_lua_custom
]],
   install_command = "cmake --install build-luarocks --component lua",
}
