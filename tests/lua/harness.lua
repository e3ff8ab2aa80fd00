-- A small test harness for the Lua suite: TAP output, child processes,
-- temporary directories. Plain Lua 5.1-5.4 and LuaJIT, no dependencies.
local H = {}

local tests = {}

function H.test(name, fn)
	tests[#tests + 1] = { name = name, fn = fn }
end

-- Raised by H.skip: the test is reported as skipped, with the reason.
local SKIP = {}

function H.skip(reason)
	error({ [SKIP] = reason }, 0)
end

local function describe(v)
	if type(v) == "string" then
		return ("%q"):format(v)
	end
	return tostring(v)
end

function H.eq(actual, expected, what)
	if actual ~= expected then
		error(("%s: expected %s, got %s"):format(what or "value", describe(expected), describe(actual)), 2)
	end
end

function H.ok(v, what)
	if not v then
		error((what or "assertion") .. " failed", 2)
	end
	return v
end

-- fn(...) must raise an error whose message matches pattern (plain find).
function H.raises(pattern, fn, ...)
	local ok, err = pcall(fn, ...)
	if ok then
		error("expected an error matching '" .. pattern .. "', got none", 2)
	end
	if type(err) ~= "string" or not err:find(pattern, 1, true) then
		error("expected an error matching '" .. pattern .. "', got " .. describe(err), 2)
	end
	return err
end

-- The results nil, message, code of an expected failure, with that code.
function H.fails(code, ok, msg, got)
	if ok ~= nil then
		error("expected nil, message, '" .. code .. "', got " .. describe(ok), 2)
	end
	if type(msg) ~= "string" or msg == "" then
		error("expected a message, got " .. describe(msg), 2)
	end
	if got ~= code then
		error(("expected code '%s', got %s (%s)"):format(code, describe(got), msg), 2)
	end
	return msg
end

-- Quote s for /bin/sh.
function H.shq(s)
	return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

function H.sh(cmd)
	local a, b, c = os.execute(cmd)
	-- Lua 5.1: an exit status number; 5.2+: true/nil, "exit", code.
	return a == 0 or a == true, c or a
end

function H.read_file(path)
	local f = io.open(path, "rb")
	if not f then
		return nil
	end
	local s = f:read("*a")
	f:close()
	return s
end

function H.write_file(path, data)
	local f = assert(io.open(path, "wb"))
	f:write(data)
	f:close()
end

-- A fresh temporary directory, removed at the end of the run.
local dirs = {}
function H.tmpdir()
	local base = os.getenv("TMPDIR") or "/tmp"
	local n = 0
	while true do
		n = n + 1
		local d = ("%s/locket-lua-%d-%d-%d"):format(base, os.time(), math.random(1e9), n)
		if H.sh("mkdir -m 700 " .. H.shq(d) .. " 2>/dev/null") then
			dirs[#dirs + 1] = d
			return d
		end
	end
end

--- A child Lua process running tests/lua/child.lua with the given
-- arguments; its stdout lines are read with :line(). The child finds the
-- module through the same package.path/cpath as this process.
local Child = {}
Child.__index = Child

H.lua = nil -- the interpreter, set by the suite
H.here = nil -- this directory, set by the suite

function H.spawn(args, prefix)
	local cmd = { "exec", prefix or "", "env" }
	for _, v in ipairs({ "LUA_PATH_5_2", "LUA_PATH_5_3", "LUA_PATH_5_4", "LUA_CPATH_5_2", "LUA_CPATH_5_3", "LUA_CPATH_5_4" }) do
		cmd[#cmd + 1] = "-u " .. v
	end
	cmd[#cmd + 1] = "LUA_PATH=" .. H.shq(package.path)
	cmd[#cmd + 1] = "LUA_CPATH=" .. H.shq(package.cpath)
	cmd[#cmd + 1] = H.shq(H.lua)
	cmd[#cmd + 1] = H.shq(H.here .. "/child.lua")
	for _, a in ipairs(args) do
		cmd[#cmd + 1] = H.shq(a)
	end
	local p = assert(io.popen(table.concat(cmd, " "), "r"))
	return setmetatable({ p = p, args = args }, Child)
end

-- The next line the child printed, split into words; fails at EOF.
function Child:line(expect)
	local l = self.p:read("*l")
	if not l then
		error("child " .. table.concat(self.args, " ") .. " ended without printing '" .. (expect or "?") .. "'", 2)
	end
	local words = {}
	for w in l:gmatch("%S+") do
		words[#words + 1] = w
	end
	if expect and words[1] ~= expect then
		error(("child %s: expected '%s ...', got %q"):format(table.concat(self.args, " "), expect, l), 2)
	end
	return words, l
end

function Child:close()
	if self.p then
		self.p:read("*a")
		self.p:close()
		self.p = nil
	end
end

-- Scheduler state of a process ("R", "S", ...), or nil once it is gone.
function H.proc_state(pid)
	local s = H.read_file("/proc/" .. pid .. "/stat")
	return s and s:match("^%d+ %b() (%a)")
end

-- System calls in which a process sleeps while it waits for a lock (a blocked
-- flock(), the poll of a timed wait), by machine; not read or write.
local WAIT_SYSCALLS = {
	x86_64 = { [73] = "flock", [271] = "ppoll", [7] = "poll", [23] = "select", [270] = "pselect6",
		[232] = "epoll_wait", [281] = "epoll_pwait", [441] = "epoll_pwait2", [202] = "futex" },
	aarch64 = { [32] = "flock", [73] = "ppoll", [72] = "pselect6", [22] = "epoll_pwait",
		[441] = "epoll_pwait2", [98] = "futex" },
}
local machine

-- Wait (polling /proc, up to 10 s) until pid sleeps in a lock wait's system call.
function H.wait_sleeping(pid, now_us)
	if not machine then
		local f = io.popen("uname -m")
		machine = f:read("*l")
		f:close()
	end
	local calls = WAIT_SYSCALLS[machine] or {}
	local deadline = now_us() + 10e6
	while now_us() < deadline do
		local sc = H.read_file("/proc/" .. pid .. "/syscall") or ""
		if H.proc_state(pid) == "S" and calls[tonumber(sc:match("^%d+") or "")] then
			return true
		end
	end
	return false
end

function H.run()
	local failed, skipped = 0, 0
	print("1.." .. #tests)
	for i, t in ipairs(tests) do
		local ok, err = pcall(t.fn)
		collectgarbage()
		if ok then
			print(("ok %d - %s"):format(i, t.name))
		elseif type(err) == "table" and err[SKIP] then
			skipped = skipped + 1
			print(("ok %d - %s # SKIP %s"):format(i, t.name, err[SKIP]))
		else
			failed = failed + 1
			print(("not ok %d - %s"):format(i, t.name))
			print("# " .. tostring(err):gsub("\n", "\n# "))
		end
		io.stdout:flush()
	end
	for _, d in ipairs(dirs) do
		H.sh("rm -rf " .. H.shq(d))
	end
	print(("# %d passed, %d failed, %d skipped (%s)"):format(#tests - failed - skipped, failed, skipped,
		jit and jit.version or _VERSION))
	os.exit(failed == 0 and 0 or 1)
end

return H
