-- The Lua suite: run with the interpreter under test, with LUA_PATH and
-- LUA_CPATH pointing at the build (tests/lua/CMakeLists.txt does this):
--     lua5.4 tests/lua/test_locket.lua
local here = (arg[0]:match("^(.*)[/\\]") or ".")
package.path = here .. "/?.lua;" .. package.path
local H = require "harness"
local locket = require "locket"
local core = require "locket.core"

H.here = here
H.lua = os.getenv("LOCKET_TEST_LUA") or arg[-1]
math.randomseed(os.time() + core.monotonic_us() % 100000)

local test, eq, ok, raises, fails = H.test, H.eq, H.ok, H.raises, H.fails
local now_us = core.monotonic_us
local lua54 = _VERSION == "Lua 5.4"
local has_integers = math.type ~= nil

local function ms_since(t0)
	return (now_us() - t0) / 1000
end

-- A lock file path in a fresh directory.
local function tmp_lock()
	local d = H.tmpdir()
	return d .. "/x.lock", d
end

test("module: version, codes and constants", function()
	eq(locket.version, core.version(), "version")
	ok(locket._VERSION:find("^locket %d+%.%d+%.%d+"), "_VERSION")
	eq(core.error_name(core.ETIMEDOUT), "timeout", "error_name")
	eq(locket.error_name(core.EWOULDBLOCK), "would_block", "error_name")
	eq(core.OK, 0, "OK")
	if has_integers then
		for _, v in ipairs({ core.OK, core.EIO, core.SHARED, core.version_number(), core.last_error_code(),
			core.monotonic_us() }) do
			eq(math.type(v), "integer", "math.type of " .. tostring(v))
		end
		local p = tmp_lock()
		local h = core.Handle(p, 438, 0)
		eq(math.type(h.open_error), "integer", "open_error")
		eq(math.type(h:acquire(0, 0)), "integer", "acquire code")
		eq(math.type(h:holder_pid()), "integer", "holder_pid")
		eq(math.type(h:locked()), "integer", "locked")
		h:close()
	end
end)

test("acquire, locked, release; a second lock object on the same file is excluded", function()
	local p, d = tmp_lock()
	local a = assert(locket.lock_file(p))
	local b = assert(locket.lock_file(d .. "/../" .. d:match("[^/]+$") .. "/./x.lock"))
	eq(a:locked(), false, "locked before")
	eq(a:acquire(), true, "acquire")
	eq(a:locked(), true, "locked after")
	fails("would_block", b:acquire(0))
	eq(b:locked(), false, "b locked")
	local t0 = now_us()
	local msg = fails("timeout", b:acquire(0.2))
	local ms = ms_since(t0)
	ok(ms >= 190 and ms < 5000, "timeout after 0.2 s took " .. ms .. " ms")
	ok(msg:find("x.lock", 1, true), "message names the file: " .. msg)
	eq(a:release(), true, "release")
	eq(a:locked(), false, "locked after release")
	eq(b:acquire(0), true, "b acquires")
	fails("would_block", a:acquire(0))
	b:release()
	eq(a:path(), p, "path")
	a:close()
	b:close()
end)

test("relative paths are resolved once; path() is absolute", function()
	local p, d = tmp_lock()
	local cwd = assert(io.popen("pwd")):read("*l")
	local rel = ("../"):rep(select(2, cwd:gsub("/[^/]+", ""))) .. p:sub(2)
	local a = assert(locket.lock_file(rel))
	eq(a:path():sub(1, 1), "/", "absolute path")
	local b = assert(locket.lock_file(p))
	assert(a:acquire(0))
	fails("would_block", b:acquire(0))
	a:close()
	ok(b:acquire(0), "close released")
	b:close()
end)

test("shared locks: readers share, a writer is excluded", function()
	local p = tmp_lock()
	local r1 = assert(locket.lock_file(p, { shared = true }))
	local r2 = assert(locket.lock_file(p, { shared = true }))
	local w = assert(locket.lock_file(p, { timeout = 0 }))
	assert(r1:acquire(0))
	assert(r2:acquire(0))
	fails("would_block", w:acquire())
	r1:release()
	fails("would_block", w:acquire())
	r2:release()
	eq(w:acquire(), true, "writer after readers")
	fails("would_block", r1:acquire(0))
	w:release()
end)

test("acquire(t, {shared = ...}) chooses the mode for one call", function()
	local p = tmp_lock()
	local a = assert(locket.lock_file(p))
	local b = assert(locket.lock_file(p))
	assert(a:acquire(0, { shared = true }))
	assert(b:acquire(0, { shared = true }))
	fails("would_block", locket.lock_file(p):acquire(0))
	a:release()
	b:release()
	assert(a:acquire(0, { shared = false }))
	fails("would_block", b:acquire(0, { shared = true }))
	a:release()
	raises("boolean expected", a.acquire, a, 0, { shared = 1 })
	raises("unknown acquire option", a.acquire, a, 0, { mode = "x" })
	raises("table expected", a.acquire, a, 0, "shared")
end)

test("the default timeout comes from lock_file; acquire(t) overrides it", function()
	local p = tmp_lock()
	local a = assert(locket.lock_file(p))
	local b = assert(locket.lock_file(p, { timeout = 0 }))
	assert(a:acquire())
	fails("would_block", b:acquire())
	local t0 = now_us()
	fails("timeout", b:acquire(0.1))
	ok(ms_since(t0) >= 90, "override waited")
	a:release()
end)

test("the lock file is created, never truncated, kept after release", function()
	local p = tmp_lock()
	H.write_file(p, "precious data\n")
	local a = assert(locket.lock_file(p))
	assert(a:acquire())
	a:release()
	a:close()
	eq(H.read_file(p), "precious data\n", "content")
	local q = tmp_lock()
	local c = assert(locket.lock_file(q, { mode = tonumber("600", 8) }))
	eq(H.read_file(q), "", "created empty")
	c:close()
	eq(H.read_file(q), "", "kept after close")
end)

test("expected failures return nil, message, code", function()
	local p, d = tmp_lock()
	fails("not_found", locket.lock_file(d .. "/missing/x.lock"))
	fails("is_a_directory", locket.lock_file(d))
	fails("invalid_argument", locket.lock_file(""))
	fails("invalid_argument", locket.lock_file(p .. "\0.other"))
	fails("not_found", locket.lock_file(d .. "/absent", { create = false }))
	eq(H.read_file(d .. "/absent"), nil, "create=false created nothing")
	eq(H.read_file(p), nil, "a NUL path created nothing")
	ok(fails("not_found", locket.lock_file(d .. "/missing/x.lock")):find("missing", 1, true), "message names path")
	-- The lock file's directory removed after lock_file: acquire fails, not held.
	local sub = H.tmpdir()
	local l = assert(locket.lock_file(sub .. "/y.lock"))
	assert(H.sh("rm -rf " .. H.shq(sub)))
	local okv, msg, code = l:acquire(0)
	fails(code == "not_found" and "not_found" or "io_error", okv, msg, code)
	eq(l:locked(), false, "not held after a failure")
end)

test("misuse raises: wrong types, bad timeouts, unknown options", function()
	local p = tmp_lock()
	raises("string expected, got nil", locket.lock_file)
	raises("string expected, got number", locket.lock_file, 42)
	raises("table or nil expected", locket.lock_file, p, "fast")
	raises("unknown option", locket.lock_file, p, { timout = 1 })
	raises("boolean expected", locket.lock_file, p, { shared = "yes" })
	raises("boolean expected", locket.lock_file, p, { create = 0 })
	raises("permission bits", locket.lock_file, p, { mode = -1 })
	raises("permission bits", locket.lock_file, p, { mode = 1.5 })
	raises("number of seconds or nil expected", locket.lock_file, p, { timeout = "1" })
	for _, t in ipairs({ -1, 0 / 0, -math.huge }) do
		raises("bad option 'timeout'", locket.lock_file, p, { timeout = t })
	end
	local l = assert(locket.lock_file(p))
	for _, t in ipairs({ -0.001, 0 / 0, -math.huge }) do
		raises("bad timeout", l.acquire, l, t)
	end
	raises("number of seconds or nil expected", l.acquire, l, "1")
	eq(l:locked(), false, "no lock after a bad timeout")
	raises("call lock methods with ':'", l.acquire)
	raises("call lock methods with ':'", l.locked, 5)
	-- math.huge waits forever, like nil: on a free lock it returns at once. So does any
	-- timeout too large for the core (one rule for every language: locket_timeout_ms).
	for _, t in ipairs({ math.huge, 1e300, 2 ^ 40, 2 ^ 63 }) do
		eq(l:acquire(t), true, "timeout " .. tostring(t))
		l:release()
		local big = assert(locket.lock_file(p, { timeout = t }))
		eq(big:acquire(), true, "lock_file timeout " .. tostring(t))
		big:close()
	end
	-- locket.core refuses NaN too (casting it to int64_t would be undefined).
	local h = core.Handle(p, 438, 0)
	raises("out of range", h.acquire, h, 0 / 0, 0)
	h:close()
end)

test("timeouts: one rule for every language (core.timeout_ms)", function()
	for _, c in ipairs({ { 0, 0 }, { 1e-9, 1 }, { 0.0011, 2 }, { 2, 2000 }, { 1.5, 1500 },
		{ math.huge, -1 }, { 1e300, -1 }, { 1e17, -1 } }) do
		eq(core.timeout_ms(c[1]), c[2], "timeout_ms(" .. tostring(c[1]) .. ")")
	end
	for _, t in ipairs({ -1, -0.001, 0 / 0, -math.huge }) do
		eq(core.timeout_ms(t), nil, "timeout_ms(" .. tostring(t) .. ") refused")
	end
end)

test("misuse raises: releasing an unlocked lock, re-entrant acquire, use after close", function()
	local p = tmp_lock()
	local l = assert(locket.lock_file(p))
	raises("does not hold", l.release, l)
	assert(l:acquire())
	raises("not re-entrant", l.acquire, l)
	raises("not re-entrant", l.acquire, l, 0)
	eq(l:locked(), true, "still held after the refused re-entry")
	l:release()
	raises("does not hold", l.release, l)
	assert(l:acquire())
	l:close()
	eq(l:closed(), true, "closed")
	l:close() -- idempotent
	for _, m in ipairs({ "acquire", "release", "locked", "holder_pid", "path", "with", "scope" }) do
		raises("closed lock", l[m], l, function() end)
	end
	eq(tostring(l), "locket lock (closed)", "tostring")
	local other = assert(locket.lock_file(p))
	eq(other:acquire(0), true, "close released the lock")
	other:close()
end)

test("holder_pid: this process, then nobody", function()
	local p = tmp_lock()
	local l = assert(locket.lock_file(p))
	eq(l:holder_pid(), nil, "no holder")
	assert(l:acquire())
	local pid = l:holder_pid()
	local me = H.read_file("/proc/self/stat"):match("^(%d+)")
	eq(tostring(pid), me, "holder is this process")
	if has_integers then
		eq(math.type(pid), "integer", "pid is an integer")
	end
	l:release()
end)

test("with_lock returns fn's results and passes arguments", function()
	local p = tmp_lock()
	local probe = assert(locket.lock_file(p))
	local a, b, c = locket.with_lock(p, { timeout = 1 }, function(x, y)
		fails("would_block", probe:acquire(0))
		return x + y, nil, "z"
	end, 2, 3)
	eq(a, 5, "first result")
	eq(b, nil, "second result")
	eq(c, "z", "third result")
	eq(select("#", locket.with_lock(p, function() end)), 0, "no results")
	eq(locket.with_lock(p, function(...) return select("#", ...) end, nil, nil), 2, "nil arguments kept")
	eq(probe:acquire(0), true, "released after")
	probe:release()
end)

test("with_lock and lock:with release when fn errors and re-raise the error", function()
	local p = tmp_lock()
	local probe = assert(locket.lock_file(p))
	local err = raises("boom", locket.with_lock, p, nil, function() error("boom") end)
	ok(err:find("test_locket.lua", 1, true), "position kept: " .. err)
	eq(probe:acquire(0), true, "released after error")
	probe:release()
	local obj = { reason = "table error" }
	local okv, e = pcall(locket.with_lock, p, function() error(obj) end)
	eq(okv, false, "raised")
	eq(e, obj, "error object re-raised as is")
	local l = assert(locket.lock_file(p))
	raises("boom2", l.with, l, function() error("boom2") end)
	eq(l:locked(), false, "lock:with released")
	eq(l:with(function(x) return x * 2 end, 21), 42, "lock:with result")
	eq(l:closed(), false, "lock:with keeps the lock object")
	-- fn may release early; nothing is released twice.
	eq(l:with(function() l:release() return "early" end), "early", "early release")
	eq(probe:acquire(0), true, "released")
	probe:release()
end)

test("with_lock raises when the lock cannot be taken, without calling fn", function()
	local p, d = tmp_lock()
	local holder = assert(locket.lock_file(p))
	assert(holder:acquire())
	local called = false
	raises("(timeout)", locket.with_lock, p, { timeout = 0.05 }, function() called = true end)
	raises("(would_block)", locket.with_lock, p, { timeout = 0 }, function() called = true end)
	raises("(not_found)", locket.with_lock, d .. "/none/x", function() called = true end)
	raises("function expected", locket.with_lock, p, { timeout = 0 }, 42)
	eq(called, false, "fn not called")
	holder:release()
end)

test("scope(): a guard that releases (to-be-closed on Lua 5.4)", function()
	local p = tmp_lock()
	local l = assert(locket.lock_file(p))
	local probe = assert(locket.lock_file(p))
	local g = assert(l:scope(1))
	eq(l:locked(), true, "held in scope")
	g:release()
	eq(l:locked(), false, "guard:release")
	assert(probe:acquire())
	fails("would_block", l:scope(0))
	probe:release()
	if not lua54 then
		H.skip("to-be-closed variables need Lua 5.4 (" .. _VERSION .. ")")
	end
	local chunk = assert(load([[
		local l, probe, fails = ...
		do
			local guard <close> = assert(l:scope())
			fails("would_block", probe:acquire(0))
		end
		assert(probe:acquire(0), "released at scope exit")
		probe:release()
		local ok, err = pcall(function()
			local guard <close> = assert(l:scope())
			error("inside")
		end)
		assert(not ok and err:find("inside"), "error passed through")
		assert(probe:acquire(0), "released on error")
		probe:release()
		do
			local lock2 <close> = assert(require("locket").lock_file(l:path()))
			assert(lock2:acquire())
			fails("would_block", probe:acquire(0))
		end
		assert(probe:acquire(0), "lock <close> closed the lock")
		probe:release()
	]]))
	chunk(l, probe, fails)
end)

test("a lock collected by the GC while held is released", function()
	local p = tmp_lock()
	do
		local l = assert(locket.lock_file(p))
		assert(l:acquire())
	end
	collectgarbage()
	collectgarbage()
	assert(locket.lock_file(p):acquire(0), "released by the GC") -- never stored
	collectgarbage()
	collectgarbage()
	local probe = assert(locket.lock_file(p))
	eq(probe:acquire(0), true, "released by the GC")
	probe:release()
end)

-- ---- with other processes ----

local function mkfifo(d)
	local f = d .. "/fifo"
	assert(H.sh("mkfifo " .. H.shq(f)))
	return f
end

test("processes: a Lua holder excludes this process, any path spelling; release hands over", function()
	local p, d = tmp_lock()
	local fifo = mkfifo(d)
	local child = H.spawn({ "hold", d .. "/./x.lock", fifo })
	local pid = tonumber(child:line("locked")[2])
	local l = assert(locket.lock_file(p))
	fails("would_block", l:acquire(0))
	eq(l:holder_pid(), pid, "holder_pid names the child")
	local t0 = now_us()
	fails("timeout", l:acquire(0.2))
	ok(ms_since(t0) >= 190, "waited the timeout")
	local w = assert(io.open(fifo, "w"))
	w:write("go\n")
	w:close()
	eq(l:acquire(10), true, "acquired after the child released")
	child:line("released")
	child:close()
	l:release()
end)

test("processes: a Lua waiter gets the lock when this process releases; times out otherwise", function()
	local p = tmp_lock()
	local l = assert(locket.lock_file(p))
	assert(l:acquire())
	local c = H.spawn({ "wait", p, "0.3" })
	eq(c:line("try")[2], "would_block", "child's try")
	local r = c:line("result")
	eq(r[2], "timeout", "child's wait")
	local ms = tonumber(r[3])
	ok(ms >= 290 and ms < 5000, "child waited " .. ms .. " ms for 0.3 s")
	c:close()
	c = H.spawn({ "wait", p, "30" })
	eq(c:line("try")[2], "would_block", "child's try")
	l:release()
	r = c:line("result")
	eq(r[2], "ok", "child acquired")
	ok(tonumber(r[3]) < 10000, "hand-off took " .. r[3] .. " ms")
	c:close()
	eq(l:acquire(0), true, "child released at exit")
	l:release()
end)

test("processes: kill -9 of the holder releases the lock", function()
	local p, d = tmp_lock()
	local fifo = mkfifo(d)
	local child = H.spawn({ "hold", p, fifo })
	local pid = child:line("locked")[2]
	local l = assert(locket.lock_file(p))
	fails("would_block", l:acquire(0))
	assert(H.sh("kill -9 " .. pid))
	local t0 = now_us()
	eq(l:acquire(10), true, "acquired after kill -9")
	ok(ms_since(t0) < 5000, "promptly")
	child:close()
	l:release()
end)

test("processes: a holder's child started while holding does not keep the lock after kill -9", function()
	local p, d = tmp_lock()
	local child = H.spawn({ "hold_spawn", p, mkfifo(d) })
	local sleeper = child:line("spawned")[2]
	local pid = child:line("locked")[2]
	local l = assert(locket.lock_file(p))
	fails("would_block", l:acquire(0))
	assert(H.sh("kill -9 " .. pid))
	local okv, msg, code = l:acquire(10)
	H.sh("kill " .. sleeper)
	child:close()
	eq(okv, true, "acquired while the grandchild lives: " .. tostring(msg) .. " " .. tostring(code))
	l:release()
end)

test("processes: opening and closing the file elsewhere in the holder keeps the lock", function()
	local p = tmp_lock()
	local l = assert(locket.lock_file(p))
	assert(l:acquire())
	local f = assert(io.open(p, "r"))
	f:close() -- drops a POSIX record lock (lfs.lock, luaposix); must not drop ours
	local other = assert(locket.lock_file(p))
	other:close() -- nor does closing another lock object on the file
	local c = H.spawn({ "open", p })
	eq(c:line("open")[2], "would_block", "another process is still refused")
	c:close()
	eq(l:locked(), true, "still held")
	l:release()
end)

test("processes: SIGINT ends a wait in the lua interpreter promptly, lock not held", function()
	local p = tmp_lock()
	local l = assert(locket.lock_file(p))
	assert(l:acquire())
	local c = H.spawn({ "sigint", p })
	local pid = c:line("waiting")[2]
	ok(H.wait_sleeping(pid, now_us), "child blocked in the wait")
	local t0 = now_us()
	assert(H.sh("kill -INT " .. pid))
	local words, line = c:line("caught")
	ok(ms_since(t0) < 5000, "interrupt took " .. ms_since(t0) .. " ms")
	ok(line:find("interrupted", 1, true), "child saw: " .. line)
	eq(c:line("locked")[2], "false", "child does not hold the lock")
	c:close()
	eq(l:locked(), true, "parent still holds")
	l:release()
end)

test("processes: Ctrl-C during lock:with() in a loop never leaves the lock held (20 runs)", function()
	-- lua.c's SIGINT handler sets a hook that raises "interrupted!" at the next instruction: if
	-- that ran between the acquisition and the protected call of fn, or between fn's return and
	-- the release, with() left the lock held (13-17 of 20 runs with the Lua-written with()).
	local p, d = tmp_lock()
	local fifo = mkfifo(d)
	local other = assert(locket.lock_file(p))
	local leaks, inside = 0, 0
	for run = 1, 20 do
		local c = H.spawn({ "with_loop", p, fifo })
		local pid = c:line("ready")[2]
		local t0 = now_us()
		while now_us() - t0 < 2000 + (run % 5) * 1000 do end -- into the loop, at varying phases
		assert(H.sh("kill -INT " .. pid))
		local caught = select(2, c:line("caught"))
		ok(caught:find("interrupted!", 1, true), "child saw: " .. caught)
		local words = c:line("locked")
		if tonumber(words[3]) > 0 then
			inside = inside + 1
		end
		-- Whatever the child thinks, the kernel's view: another lock object must get it now.
		local got = other:acquire(0)
		if words[2] ~= "false" or not got then
			leaks = leaks + 1
		end
		if got then
			other:release()
		end
		local w = assert(io.open(fifo, "w"))
		w:write("go\n")
		w:close()
		c:close()
	end
	eq(leaks, 0, "runs that left the lock held")
	ok(inside >= 10, "the loop ran before the interrupt in " .. inside .. " of 20 runs")
	other:close()
end)

test("processes: a signal handler without a raising hook ends the wait with 'interrupted'", function()
	if not pcall(require, "posix.signal") then
		H.skip("luaposix (posix.signal) is not installed for " .. _VERSION)
	end
	local p = tmp_lock()
	local l = assert(locket.lock_file(p))
	assert(l:acquire())
	local c = H.spawn({ "sigusr1", p })
	local pid = c:line("waiting")[2]
	ok(H.wait_sleeping(pid, now_us), "child blocked in the wait")
	assert(H.sh("kill -USR1 " .. pid))
	local r = c:line("result")
	eq(r[2], "interrupted", "code")
	ok(tonumber(r[3]) < 5000, "ended after " .. r[3] .. " ms")
	local h = c:line("handled")
	eq(h[3], "false", "child does not hold the lock")
	c:close()
	l:release()
end)

test("processes: a forked child neither holds nor releases the parent's lock", function()
	local okf, U = pcall(require, "posix.unistd")
	if not okf then
		H.skip("luaposix (posix.unistd) is not installed for " .. _VERSION)
	end
	local Wt = require "posix.sys.wait"
	local p = tmp_lock()
	local l = assert(locket.lock_file(p))
	assert(l:acquire())
	io.stdout:flush()
	local pid = U.fork()
	if pid == 0 then
		-- The child: not the holder; release raises; close and GC leave the parent's lock alone.
		local code = 0
		if l:locked() then code = 1 end
		if pcall(l.release, l) then code = code + 2 end
		l:close()
		collectgarbage()
		collectgarbage()
		U._exit(code)
	end
	local _, how, status = Wt.wait(pid)
	eq(how .. " " .. tostring(status), "exited 0", "child's checks (1: held, 2: released)")
	eq(l:locked(), true, "parent still holds")
	-- A child that just exits, closing its Lua state (the GC frees the inherited handle).
	io.stdout:flush()
	pid = U.fork()
	if pid == 0 then
		os.exit(0, true)
	end
	Wt.wait(pid)
	eq(l:locked(), true, "parent still holds")
	local c = H.spawn({ "open", p })
	eq(c:line("open")[2], "would_block", "a third process is still refused")
	c:close()
	l:release()
end)

test("processes: permission denied is reported at once, as permission_denied", function()
	if H.read_file("/proc/self/status"):match("\nUid:%s+(%d+)") ~= "0" then
		local p, d = tmp_lock()
		H.write_file(p, "")
		assert(H.sh("chmod 000 " .. H.shq(p)))
		local t0 = now_us()
		fails("permission_denied", locket.lock_file(p))
		ok(ms_since(t0) < 1000, "at once")
		return
	end
	if not H.sh("command -v setpriv >/dev/null") then
		H.skip("running as root without setpriv to drop privileges")
	end
	local drop = "setpriv --reuid=65534 --regid=65534 --clear-groups"
	-- The child (uid 65534) must reach the module and this directory.
	local probe = H.spawn({ "open", "/nonexistent-dir/x" }, drop)
	local got = probe.p:read("*l")
	probe:close()
	if got ~= "open not_found" then
		H.skip("an unprivileged child cannot load the module from the build tree (" .. tostring(got) .. ")")
	end
	local d = H.tmpdir() -- mode 700, owned by root
	assert(H.sh("chmod 755 " .. H.shq(d)))
	H.write_file(d .. "/ro.lock", "")
	assert(H.sh("chmod 644 " .. H.shq(d .. "/ro.lock")))
	local t0 = now_us()
	local c = H.spawn({ "open", d .. "/new.lock" }, drop) -- cannot create in a root 755 directory
	eq(c:line("open")[2], "permission_denied", "creating")
	c:close()
	c = H.spawn({ "open", d .. "/ro.lock" }, drop) -- exists, not writable: read-only open still locks
	local code = c:line("open")[2]
	c:close()
	ok(code == "ok" or code == "permission_denied", "existing read-only file: " .. code)
	assert(H.sh("chmod 700 " .. H.shq(d)))
	c = H.spawn({ "open", d .. "/ro.lock" }, drop) -- directory not searchable
	eq(c:line("open")[2], "permission_denied", "unsearchable directory")
	c:close()
	ok(ms_since(t0) < 10000, "no waiting on permission errors")
end)

test("locket.scope: kind, filesystem type and reason; a missing file is its directory's", function()
	local s = assert(locket.scope("/dev/shm/locket-lua-scope-missing"))
	if s.fs_type ~= "tmpfs" then
		H.skip("/dev/shm is not a tmpfs here")
	end
	eq(s.kind, "local", "kind")
	ok(s.reason:find("/dev/shm", 1, true), "reason names the mount: " .. s.reason)
	local p, d = tmp_lock()
	local t = assert(locket.scope(p))
	ok(t.kind == "local" or t.kind == "network" or t.kind == "this-host" or t.kind == "unknown", t.kind)
	fails("not_found", locket.scope(d .. "/no/such/dir/x"))
	fails("invalid_argument", locket.scope(""))
	raises("bad argument #1 to 'scope'", locket.scope, 42)
	raises("bad argument #2 to 'scope'", locket.scope, p, "posix")
	-- The lock kind asked about: both answer alike on a local filesystem
	-- (the NFS rows where they differ are the C table's tests).
	assert(assert(locket.scope(p, "ofd")).kind == t.kind)
	assert(assert(locket.scope(p, "flock")).kind == t.kind)
	raises("bad option 'across_hosts'", locket.lock_file, p, { across_hosts = 1 })
	eq(core.scope_name(core.SCOPE_THIS_HOST), "this-host", "scope_name")
end)

test("lock:check(): true while intact; lock_lost after unlink, rename over, directory replaced", function()
	local p, d = tmp_lock()
	local l = assert(locket.lock_file(p))
	raises("which this lock object does not hold", l.check, l)
	assert(l:acquire(0))
	eq(l:check(), true, "intact")
	assert(os.remove(p))
	fails("lock_lost", l:check())
	eq(l:locked(), true, "lock_lost leaves the lock held")
	assert(l:release())
	assert(l:acquire(0))
	eq(l:check(), true, "the new file")
	H.write_file(d .. "/other", "")
	assert(os.rename(d .. "/other", p))
	local msg = fails("lock_lost", l:check())
	ok(msg:find("another file", 1, true), msg)
	assert(l:release())
	l:close()
	-- The directory replaced by a deploy.
	local sub = d .. "/app"
	assert(H.sh("mkdir " .. H.shq(sub) .. " " .. H.shq(sub .. ".new")))
	H.write_file(sub .. ".new/x.lock", "")
	l = assert(locket.lock_file(sub .. "/x.lock"))
	assert(l:acquire(0))
	assert(os.rename(sub, sub .. ".old"))
	assert(os.rename(sub .. ".new", sub))
	fails("lock_lost", l:check())
	assert(l:release())
	raises("which this lock object does not hold", l.check, l)
	l:close()
end)

test("FUSE (bindfs): the view is this-host, does not exclude the real file, across_hosts refuses it", function()
	local f = io.open("/dev/fuse", "r+b")
	if not f then
		H.skip("/dev/fuse cannot be used here")
	end
	f:close()
	if not H.sh("command -v bindfs >/dev/null") then
		error("bindfs is not installed (scripts/install-deps.sh installs it)")
	end
	local d = H.tmpdir()
	local real, view = d .. "/real", d .. "/view"
	assert(H.sh("mkdir " .. H.shq(real) .. " " .. H.shq(view)))
	if not H.sh("bindfs " .. H.shq(real) .. " " .. H.shq(view)) then
		H.skip("bindfs could not mount here")
	end
	local okay, err = pcall(function()
		H.write_file(real .. "/f", "")
		local s = assert(locket.scope(view .. "/f"))
		eq(s.kind, "this-host", "view kind")
		ok(s.fs_type:find("^fuse"), "view type " .. s.fs_type)
		local r = assert(locket.scope(real .. "/f"))
		ok(r.kind ~= "this-host", "real kind " .. r.kind)
		-- Two views of one file: two inodes, two locks that do not exclude.
		local a = assert(locket.lock_file(real .. "/f"))
		local b = assert(locket.lock_file(view .. "/f"))
		assert(a:acquire(0))
		eq(b:acquire(0), true, "the view's lock is granted while the real file's is held")
		b:close()
		a:close()
		local c = assert(locket.lock_file(view .. "/f", { across_hosts = true }))
		local msg = fails("scope", c:acquire(0))
		ok(msg:find("filesystem fuse", 1, true), msg)
		eq(c:locked(), false, "refused: not held")
		c:close()
		if r.kind == "local" then
			local e = assert(locket.lock_file(real .. "/f", { across_hosts = true }))
			assert(e:acquire(0))
			e:close()
		end
	end)
	H.sh("umount -l " .. H.shq(view) .. " 2>/dev/null || fusermount3 -uz " .. H.shq(view) .. " 2>/dev/null")
	if not okay then
		error(err, 0)
	end
end)

-- ---- kind = "ofd": OFD locks against POSIX record locks (Python's fcntl.lockf, fasteners) ----

local PY = os.getenv("LOCKET_TEST_PYTHON") or "python3"
local PY_POSIX = [[
import fcntl, os, sys
cmd, how, path, start, length = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
if how == "fasteners":
    import fasteners
    lock = fasteners.InterProcessLock(path)
    got = lock.acquire(blocking=cmd == "hold")
else:
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | (0 if cmd == "hold" else fcntl.LOCK_NB), length, start)
        got = True
    except OSError:
        got = False
print("got" if got else "busy", flush=True)
if cmd == "hold":
    open(sys.argv[6]).readline()
    if how == "fasteners":
        lock.release()
    else:
        fcntl.lockf(fd, fcntl.LOCK_UN, length, start)
    print("released", flush=True)
]]

local function py_posix(cmd, how, path, start, length, fifo)
	local argv = { H.shq(PY), "-c", H.shq(PY_POSIX), cmd, how, H.shq(path), tostring(start or 0),
		tostring(length or 0), fifo and H.shq(fifo) or "" }
	return assert(io.popen(table.concat(argv, " "), "r"))
end

-- Does a fresh process get a POSIX lock (lockf or fasteners) on the range?
local function posix_gets(how, path, start, length)
	local p = py_posix("try", how, path, start, length)
	local l = p:read("*l")
	p:close()
	return l == "got"
end

local has_fasteners = H.sh(H.shq(PY) .. " -c 'import fasteners' 2>/dev/null")

test("kind = 'ofd': options are checked; flock takes no range", function()
	local p = tmp_lock()
	raises("kind", function() locket.lock_file(p, { kind = "fcntl" }) end)
	raises("start", function() locket.lock_file(p, { kind = "ofd", start = -1 }) end)
	raises("length", function() locket.lock_file(p, { kind = "ofd", length = 0.5 }) end)
	local _, _, code = locket.lock_file(p, { start = 3 })
	eq(code, "invalid_argument", "a range on a flock lock")
end)

test("kind = 'ofd': excludes and is excluded by lockf and fasteners, not by flock", function()
	local p, d = tmp_lock()
	local l = assert(locket.lock_file(p, { kind = "ofd", timeout = 0 }))
	local hows = { "lockf" }
	if has_fasteners then hows[2] = "fasteners" else io.stderr:write("note: no fasteners for " .. PY .. "\n") end
	for _, how in ipairs(hows) do
		eq(l:acquire(), true, "acquire")
		eq(posix_gets(how, p), false, how .. " excluded by the OFD lock")
		l:release()
		eq(posix_gets(how, p), true, how .. " after the release")
		local fifo = mkfifo(d)
		local holder = py_posix("hold", how, p, 0, 0, fifo)
		eq(holder:read("*l"), "got", how .. " holder")
		fails("would_block", l:acquire())
		fails("timeout", l:acquire(0.1))
		local w = assert(io.open(fifo, "w"))
		w:write("go\n")
		w:close()
		eq(l:acquire(10), true, "acquired after the " .. how .. " unlock")
		eq(holder:read("*l"), "released", how .. " released")
		holder:close()
		l:release()
		os.remove(fifo)
	end
	local f = assert(locket.lock_file(p, { timeout = 0 }))
	local other = assert(locket.lock_file(p, { kind = "ofd", timeout = 0 }))
	eq(l:acquire(), true, "ofd")
	fails("would_block", other:acquire())
	eq(f:acquire(), true, "a flock lock beside it (local filesystem)")
	f:release()
	l:release()
end)

test("kind = 'ofd': overlapping ranges exclude, disjoint ones do not", function()
	local p = tmp_lock()
	local a = assert(locket.lock_file(p, { kind = "ofd", start = 0, length = 10, timeout = 0 }))
	local b = assert(locket.lock_file(p, { kind = "ofd", start = 10, timeout = 0 }))
	local c = assert(locket.lock_file(p, { kind = "ofd", start = 9, length = 1, timeout = 0 }))
	eq(a:acquire(), true, "a")
	eq(b:acquire(), true, "b: disjoint")
	fails("would_block", c:acquire())
	eq(posix_gets("lockf", p, 20, 1), false, "lockf inside b's range")
	a:release()
	eq(c:acquire(), true, "c after a")
	c:release()
	b:release()
end)

H.run()
