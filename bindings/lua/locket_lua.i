/*
 * The Lua entry of the SWIG interface: builds the low-level module
 * `locket.core` (luaopen_locket_core). The idiomatic API is the hand-written
 * locket/init.lua on top of it.
 */
%module core

/* SWIG names the entry point after %module ("core"); require "locket.core"
 * looks for luaopen_locket_core. */
%header %{
#undef SWIG_init
#define SWIG_init luaopen_locket_core
%}

/* The C functions without their prefix: core.error_name(), core.strerror()... */
%rename(error_name) locket_error_name;
%rename(strerror) locket_strerror;
%rename(last_error_code) locket_last_error_code;
%rename(last_os_error) locket_last_os_error;
%rename(last_error_message) locket_last_error_message;
%rename(version) locket_version;
%rename(version_number) locket_version_number;

/*
 * Integers. SWIG pushes every C number with lua_pushnumber, so on Lua 5.3+
 * codes and pids would come back as floats (5.0). lua_pushinteger exists on
 * every Lua version (5.1 and LuaJIT push a number).
 */
%typemap(out) int, unsigned int, long, unsigned long, enum SWIGTYPE
%{ lua_pushinteger(L, (lua_Integer)$1); SWIG_arg++; %}
%typemap(out) int64_t
%{ lua_pushinteger(L, (lua_Integer)$1); SWIG_arg++; %}

/* A timeout in milliseconds: NaN and values beyond int64_t are refused
 * (casting them would be undefined behaviour). init.lua checks first; this
 * protects direct users of locket.core. */
%typemap(in, checkfn="lua_isnumber") int64_t
%{ {
	lua_Number n = lua_tonumber(L, $input);
	SWIG_contract_assert(n == n && n >= -9.2e18 && n <= 9.2e18, "number out of range");
	$1 = (int64_t)n;
} %}

%include "../swig/locket.i"

/* A monotonic clock in microseconds, for timeouts measured in Lua, the
 * tests and the benchmarks (plain Lua has none). */
%{
#ifdef _WIN32
#include <windows.h>
#else
#include <time.h>
#endif
static int64_t locket_lua_monotonic_us(void)
{
#ifdef _WIN32
	LARGE_INTEGER f, c;
	QueryPerformanceFrequency(&f);
	QueryPerformanceCounter(&c);
	return (int64_t)(c.QuadPart / f.QuadPart * 1000000 + c.QuadPart % f.QuadPart * 1000000 / f.QuadPart);
#else
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
#endif
}
%}
%rename(monotonic_us) locket_lua_monotonic_us;
int64_t locket_lua_monotonic_us(void);
