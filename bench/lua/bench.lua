-- The Lua benchmark: locket against lfs.lock and luaposix fcntl locks, side
-- by side in one run. Needs Lua 5.1-5.3 with lua-filesystem and lua-posix
-- (Debian's lua-posix has no 5.4 build); bench/lua/run.sh sets the paths.
--
--     lua5.3 bench/lua/bench.lua OUT.json [quick]
--
-- uncontended: acquire+release pairs in one process, median over rounds,
--   implementations interleaved round by round.
-- handoff: a holder process (this one) and a waiter process (a fork); per
--   sample the holder locks, tells the waiter to wait, waits until the waiter
--   sleeps in its wait (/proc state S), holds 1-4 ms more, reads the
--   monotonic clock and releases; the waiter reads the clock when its acquire
--   returns. Kinds are interleaved sample by sample.
local locket = require "locket"
local core = require "locket.core"
local lfs = require "lfs"
local F = require "posix.fcntl"
local U = require "posix.unistd"
local T = require "posix.time"
local W = require "posix.sys.wait"
local stdio = require "posix.stdio"

local out_path = assert(arg[1], "usage: bench.lua OUT.json [quick]")
local quick = arg[2] == "quick"
local now_us = core.monotonic_us

local dir = (os.getenv("TMPDIR") or "/tmp") .. "/locket-lua-bench-" .. U.getpid()
assert(os.execute("mkdir -p " .. dir))

local function sleep_us(us)
	T.nanosleep({ tv_sec = math.floor(us / 1e6), tv_nsec = math.floor(us % 1e6) * 1000 })
end

local function median(t)
	local s = {}
	for i, v in ipairs(t) do s[i] = v end
	table.sort(s)
	local n = #s
	if n % 2 == 1 then return s[(n + 1) / 2] end
	return (s[n / 2] + s[n / 2 + 1]) / 2
end

local function percentile(t, p)
	local s = {}
	for i, v in ipairs(t) do s[i] = v end
	table.sort(s)
	return s[math.max(1, math.ceil(p / 100 * #s))]
end

-- ---- the implementations: each has lock(), unlock() on its own file ----

local WR = { l_type = F.F_WRLCK, l_whence = 0, l_start = 0, l_len = 0 }
local UN = { l_type = F.F_UNLCK, l_whence = 0, l_start = 0, l_len = 0 }

local function open_rw(path)
	return assert(F.open(path, F.O_RDWR + F.O_CREAT, 420))
end

local impls = {}

-- locket through the Lua layer, one lock object kept.
impls.locket_lua = function(path, timeout)
	local l = assert(locket.lock_file(path))
	return { lock = function() assert(l:acquire(timeout)) end, unlock = function() l:release() end }
end

-- locket.core as SWIG generates it (no Lua layer): what the layer costs.
impls.locket_core_swig = function(path)
	local h = core.Handle(path, 438, 0)
	assert(h.open_error == 0)
	return { lock = function() assert(h:acquire(-1, 2) == 0) end, unlock = function() h:release() end }
end

-- luaposix on a kept descriptor: F_SETLK (or F_SETLKW to wait) and F_UNLCK.
impls.luaposix_fcntl = function(path, wait)
	local fd = open_rw(path)
	local cmd = wait and F.F_SETLKW or F.F_SETLK
	return {
		lock = function() assert(F.fcntl(fd, cmd, WR)) end,
		unlock = function() F.fcntl(fd, F.F_SETLK, UN) end,
	}
end

-- luaposix doing what locket does: open, lock, unlock, close every time.
impls.luaposix_open_setlk_close = function(path)
	local fd
	return {
		lock = function() fd = open_rw(path); assert(F.fcntl(fd, F.F_SETLK, WR)) end,
		unlock = function() F.fcntl(fd, F.F_SETLK, UN); U.close(fd) end,
	}
end

-- lfs.lock on a kept file: tries once; waiting means polling.
impls.lfs_lock = function(path, poll_us)
	local fh = assert(io.open(path, "a+"))
	return {
		lock = function()
			while not lfs.lock(fh, "w") do
				assert(poll_us, "lfs.lock failed uncontended")
				sleep_us(poll_us)
			end
		end,
		unlock = function() lfs.unlock(fh) end,
	}
end

-- ---- uncontended ----

local unc_kinds = {
	{ name = "luaposix_fcntl", make = function(p) return impls.luaposix_fcntl(p) end, reference = true },
	{ name = "locket_lua", make = function(p) return impls.locket_lua(p) end },
	{ name = "locket_lua_timeout_10s", make = function(p) return impls.locket_lua(p, 10) end },
	{ name = "locket_core_swig", make = impls.locket_core_swig, context = true },
	{ name = "luaposix_open_setlk_close", make = impls.luaposix_open_setlk_close, context = true },
	{ name = "lfs_lock", make = function(p) return impls.lfs_lock(p) end },
}

local function bench_uncontended()
	local rounds, pairs_per_round = quick and 3 or 15, quick and 2000 or 20000
	local results = {}
	for i, k in ipairs(unc_kinds) do
		k.impl = k.make(dir .. "/unc-" .. i)
		results[k.name] = {}
	end
	for _ = 1, rounds do
		for _, k in ipairs(unc_kinds) do
			local lock, unlock = k.impl.lock, k.impl.unlock
			local t0 = now_us()
			for _ = 1, pairs_per_round do
				lock()
				unlock()
			end
			local r = results[k.name]
			r[#r + 1] = (now_us() - t0) / pairs_per_round
		end
	end
	return results, ("uncontended: median over %d rounds of %d acquire+release pairs, implementations " ..
		"interleaved round by round; one lock object / descriptor kept (luaposix_open_setlk_close " ..
		"reopens like locket does)"):format(rounds, pairs_per_round)
end

-- ---- hand-off ----

local ho_kinds = {
	{ name = "luaposix_f_setlkw", reference = true,
	  holder = function(p) return impls.luaposix_fcntl(p) end,
	  waiter = function(p) return impls.luaposix_fcntl(p, true) end },
	{ name = "locket_lua_timeout_10s",
	  holder = function(p) return impls.locket_lua(p) end,
	  waiter = function(p) return impls.locket_lua(p, 10) end },
	{ name = "locket_lua_forever",
	  holder = function(p) return impls.locket_lua(p) end,
	  waiter = function(p) return impls.locket_lua(p) end },
	{ name = "lfs_lock_poll_1ms",
	  holder = function(p) return impls.lfs_lock(p) end,
	  waiter = function(p) return impls.lfs_lock(p, 1000) end },
}

local function proc_state(pid)
	local f = io.open("/proc/" .. pid .. "/stat")
	if not f then return nil end
	local s = f:read("*l")
	f:close()
	return s:match("^%d+ %b() (%a)")
end

local function bench_handoff()
	local samples_per_kind = quick and 30 or 300
	local cmd_r, cmd_w = U.pipe()
	local res_r, res_w = U.pipe()
	io.stdout:flush()
	local pid = U.fork()
	if pid == 0 then
		-- The waiter: one lock object per kind, made after the fork.
		U.close(cmd_w); U.close(res_r)
		local cin, rout = stdio.fdopen(cmd_r, "r"), stdio.fdopen(res_w, "w")
		local waiters = {}
		for i, k in ipairs(ho_kinds) do waiters[i] = k.waiter(dir .. "/ho-" .. i) end
		for line in cin:lines() do
			local w = waiters[tonumber(line)]
			rout:write("waiting\n"); rout:flush()
			w.lock()
			local t1 = now_us()
			w.unlock()
			rout:write(tostring(t1), "\n"); rout:flush()
		end
		U._exit(0)
	end
	U.close(cmd_r); U.close(res_w)
	local cout, rin = stdio.fdopen(cmd_w, "w"), stdio.fdopen(res_r, "r")
	local holders, samples, late = {}, {}, 0
	for i, k in ipairs(ho_kinds) do
		holders[i] = k.holder(dir .. "/ho-" .. i)
		samples[k.name] = {}
	end
	for _ = 1, samples_per_kind do
		for i, k in ipairs(ho_kinds) do
			local h = holders[i]
			h.lock()
			cout:write(i, "\n"); cout:flush()
			assert(rin:read("*l") == "waiting")
			local deadline = now_us() + 1e6
			while proc_state(pid) ~= "S" and now_us() < deadline do end
			sleep_us(1000 + math.random(0, 3000))
			if proc_state(pid) ~= "S" then late = late + 1 end
			local t0 = now_us()
			h.unlock()
			local t1 = tonumber(rin:read("*l"))
			local s = samples[k.name]
			s[#s + 1] = t1 - t0
		end
	end
	cout:close()
	W.wait(pid)
	return samples, ("handoff: %d samples per kind, kinds interleaved; holder = this process, waiter = a " ..
		"forked process; the holder waits until the waiter sleeps in its wait, holds 1-4 ms more, takes " ..
		"CLOCK_MONOTONIC and releases; the waiter takes CLOCK_MONOTONIC when its acquire returns; " ..
		"%d samples where the waiter was not asleep at the release (kept)"):format(samples_per_kind, late)
end

-- ---- JSON ----

local function json(v)
	local t = type(v)
	if t == "table" then
		if #v > 0 or next(v) == nil then
			local parts = {}
			for i, x in ipairs(v) do parts[i] = json(x) end
			return "[" .. table.concat(parts, ", ") .. "]"
		end
		local keys, parts = {}, {}
		for k in pairs(v) do keys[#keys + 1] = k end
		table.sort(keys)
		for _, k in ipairs(keys) do parts[#parts + 1] = json(k) .. ": " .. json(v[k]) end
		return "{" .. table.concat(parts, ", ") .. "}"
	elseif t == "string" then
		return '"' .. v:gsub('[%c"\\]', function(c) return ("\\u%04x"):format(c:byte()) end) .. '"'
	elseif t == "number" then
		return ("%.6g"):format(v)
	end
	return tostring(v)
end

-- ---- run ----

math.randomseed(os.time())
local metrics, notes = {}, {}
local function row(name, kind, value)
	metrics[#metrics + 1] = { name = name, impl = kind.name, value = value, unit = "us",
		reference = kind.reference == true, lower_is_better = true, context = kind.context }
end

local unc, note = bench_uncontended()
notes[#notes + 1] = note
for _, k in ipairs(unc_kinds) do
	row("uncontended", k, median(unc[k.name]))
	io.stderr:write(("uncontended %-28s %8.3f us\n"):format(k.name, median(unc[k.name])))
end

local ho
ho, note = bench_handoff()
notes[#notes + 1] = note
for _, k in ipairs(ho_kinds) do
	local s = ho[k.name]
	row("handoff_p50", k, percentile(s, 50))
	row("handoff_p90", k, percentile(s, 90))
	row("handoff_p99", k, percentile(s, 99))
	io.stderr:write(("handoff %-24s p50 %8.1f  p90 %8.1f  p99 %8.1f us\n"):format(k.name,
		percentile(s, 50), percentile(s, 90), percentile(s, 99)))
end
notes[#notes + 1] = ("runtime: %s, %s, %s, locket %s"):format(_VERSION, lfs._VERSION,
	(require("posix").version or "luaposix"), locket.version)

local f = assert(io.open(out_path, "w"))
f:write(json({ suite = "lua", metrics = metrics, handoff = ho, notes = notes }), "\n")
f:close()
os.execute("rm -rf " .. dir)
