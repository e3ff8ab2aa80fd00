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
	SWIG_contract_assert(n == n && n >= -9223372036854775808.0 && n < 9223372036854775808.0,
			     "number out of range");
	$1 = (int64_t)n;
} %}

/* Defined below; Handle.acquire (which SWIG emits with the class) calls it. */
%{
#include <stdint.h>
struct locket_box;
static int locket_lua_wait(lua_State *L, struct locket_box *box, int64_t timeout_ms, unsigned int flags);
%}

%include "../swig/locket.i"

/*
 * Waiting: one call to locket_acquire_with(), with the core's deadline and
 * an interrupt callback. lua.c's SIGINT handler (and luaposix's signal
 * handlers) cannot raise from inside a C function: they set a hook with
 * lua_sethook() that raises ("interrupted!") or runs the Lua handler at the
 * next instruction. So the callback, called by the core on this thread after
 * a signal handler ran and at least every 50 ms, ends the wait when the
 * state's hook changed since the wait began; the binding returns
 * "interrupted" and the hook does the rest. Reading the hook is what lua.c
 * itself does from its handler: three loads, no allocation.
 */
%{
typedef struct locket_lua_wait_state {
	lua_State *L;
	lua_Hook hook;
	int mask, count;
} locket_lua_wait_state;

static int locket_lua_interrupted(void *arg)
{
	locket_lua_wait_state *w = (locket_lua_wait_state *)arg;
	return lua_gethook(w->L) != w->hook || lua_gethookmask(w->L) != w->mask ||
	       lua_gethookcount(w->L) != w->count;
}

/* flags: LOCKET_SHARED, and LOCKET_INTERRUPTIBLE for the hook check. A
 * grant that raced a signal is given back (LOCKET_EINTR): the hook would
 * raise in the caller's Lua code with the lock held. */
static int locket_lua_wait(lua_State *L, struct locket_box *box, int64_t timeout_ms, unsigned int flags)
{
	locket_wait_options o;
	locket_lua_wait_state w;
	int rc;
	locket_wait_options_init(&o);
	o.flags = flags & LOCKET_SHARED;
	o.timeout_ms = timeout_ms;
	if (flags & LOCKET_INTERRUPTIBLE) {
		w.L = L;
		w.hook = lua_gethook(L);
		w.mask = lua_gethookmask(L);
		w.count = lua_gethookcount(L);
		o.interrupted = locket_lua_interrupted;
		o.interrupted_arg = &w;
	}
	rc = locket_acquire_with(box == NULL ? NULL : box->handle, &o);
	if (rc == LOCKET_OK && o.interrupted != NULL && locket_lua_interrupted(&w)) {
		locket_release(box->handle);
		rc = LOCKET_EINTR;
	}
	return rc;
}
%}

%extend locket_box {
	/* acquire(timeout_ms, flags) -> code (see locket_lua_wait). */
	int acquire(lua_State *L, int64_t timeout_ms, unsigned int flags) {
		return locket_lua_wait(L, $self, timeout_ms, flags);
	}
}

/*
 * timeout_ms(seconds) -> milliseconds (-1: forever), or nil and a message
 * for NaN and negative numbers: locket_timeout_ms(), the rule of every
 * language (+inf and anything too large for the core wait forever; rounded
 * up to whole milliseconds).
 */
%{
static int locket_lua_timeout_ms(lua_State *L)
{
	int64_t ms;
	double s = (double)luaL_checknumber(L, 1);
	if (locket_timeout_ms(s, &ms) != LOCKET_OK) {
		lua_pushnil(L);
		lua_pushstring(L, locket_last_error_message());
		return 2;
	}
	lua_pushinteger(L, (lua_Integer)ms);
	return 1;
}
%}
%native(timeout_ms) int locket_lua_timeout_ms(lua_State *L);

/*
 * with(handle, timeout_ms, flags, fn, ...): acquire, call fn(...) in a
 * protected call, release, then return true and fn's results or raise fn's
 * error again (the same value). Returns nil, message, code when the lock
 * cannot be taken. All in C: a hook that raises (Ctrl-C in lua.c) can fire
 * only inside fn, where the protected call catches it, or before the
 * acquisition or after the release, never with the lock held outside fn.
 * On Lua 5.3+ fn may yield (lua_pcallk); on 5.1 and LuaJIT it may not.
 */
%{
static int locket_lua_with_finish(lua_State *L, int status)
{
	locket_box *box = NULL;
	if (SWIG_IsOK(SWIG_ConvertPtr(L, 1, (void **)&box, SWIGTYPE_p_locket_box, 0)) && box != NULL &&
	    locket_locked(box->handle) == 1)
		locket_release(box->handle); /* an unlock failure still closes, which releases */
	if (status != 0 && status != LUA_YIELD)
		return lua_error(L); /* fn's error, as it was */
	lua_pushboolean(L, 1);
	lua_insert(L, 2);
	return lua_gettop(L) - 1;
}

#if LUA_VERSION_NUM >= 503
static int locket_lua_with_k(lua_State *L, int status, lua_KContext ctx)
{
	(void)ctx;
	return locket_lua_with_finish(L, status);
}
#endif

static int locket_lua_with(lua_State *L)
{
	locket_box *box = NULL;
	lua_Number ms;
	unsigned int flags;
	int rc, status;
	if (!SWIG_IsOK(SWIG_ConvertPtr(L, 1, (void **)&box, SWIGTYPE_p_locket_box, 0)) || box == NULL)
		return luaL_error(L, "with: Handle expected");
	ms = luaL_checknumber(L, 2);
	flags = (unsigned int)luaL_checknumber(L, 3);
	luaL_checkany(L, 4);
	if (!(ms >= -9223372036854775808.0 && ms < 9223372036854775808.0))
		return luaL_error(L, "with: timeout out of range");
	rc = locket_lua_wait(L, box, (int64_t)ms, flags);
	if (rc != LOCKET_OK) {
		const char *msg = locket_last_error_message();
		lua_pushnil(L);
		lua_pushstring(L, msg[0] != '\0' ? msg : locket_strerror(rc));
		lua_pushstring(L, locket_error_name(rc));
		return 3;
	}
	lua_remove(L, 2);
	lua_remove(L, 2); /* [handle, fn, args...] */
#if LUA_VERSION_NUM >= 503
	status = lua_pcallk(L, lua_gettop(L) - 2, LUA_MULTRET, 0, 0, locket_lua_with_k);
#else
	status = lua_pcall(L, lua_gettop(L) - 2, LUA_MULTRET, 0);
#endif
	return locket_lua_with_finish(L, status);
}
%}
%native(with) int locket_lua_with(lua_State *L);

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
