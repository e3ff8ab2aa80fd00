-- Conformance driver for the Lua binding (require "locket"), for every Lua runtime.
-- Reads protocol commands on stdin and answers "<result> <elapsed_ms> [value]"
-- (docs/conformance.md). The binding's nil, message, code failures already carry the
-- core's error name; errors it raises (misuse) are mapped to names here.
local locket = require "locket"

-- A monotonic clock where luaposix has one (not for every runtime); "-" tells
-- the runner to time the call itself.
local clock
do
	local ok, ptime = pcall(require, "posix.time")
	if ok and ptime.clock_gettime then
		clock = function()
			local ts = ptime.clock_gettime(ptime.CLOCK_MONOTONIC)
			return ts.tv_sec * 1000 + ts.tv_nsec / 1e6
		end
	end
end

local function my_pid()
	local f = io.open("/proc/self/stat")
	if f then
		local pid = f:read("*n")
		f:close()
		return pid
	end
	local ok, unistd = pcall(require, "posix.unistd")
	return ok and unistd.getpid() or 0
end

-- Errors the binding raises (misuse), by their exact messages (after the
-- "file:line: " position); anything else, such as the driver's own mistake
-- or an error from inside the C module, is not a name of the protocol.
local RAISED = {
	{"^interrupted!$", "interrupted"}, -- the interpreter's SIGINT error
	{"^attempt to release lock '.*', which this lock object does not hold$", "not_held"},
	{"^lock '.*' is already held by this lock object %(locks are not re%-entrant%)$", "would_block_raised"},
	{"^bad timeout %(.*%): expected a number of seconds >= 0, or nil or math%.huge to wait forever$", "invalid_argument"},
	{"^bad timeout %(number of seconds or nil expected, got %a+%)$", "invalid_argument"},
	{"^attempt to use a closed lock$", "invalid_argument"},
}

local function raised_name(msg)
	msg = tostring(msg):gsub("^[^:\n]*:%d+: ", "", 1)
	for _, entry in ipairs(RAISED) do
		if msg:find(entry[1]) then
			return entry[2]
		end
	end
	return "unexpected_error"
end

local function decode(tok)
	if tok == '""' then
		return ""
	end
	return (tok:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

local function to_seconds(tok)
	if tok == "forever" then
		return nil
	elseif tok == "nan" then
		return 0 / 0
	end
	return tonumber(tok) / 1000
end

local handles = {}

local function has(words, word)
	for i = 3, #words do
		if words[i] == word then
			return true
		end
	end
	return false
end

-- stress LOCK LOG COUNTER STOP THREADS ITERS READ_PCT HOLD_MS: one thread (Lua has no others); two lock
-- objects on the file, one per mode, used one at a time. Records as in driver.c.
local function stress(w)
	local lock_path, log_path, counter_path, stop = w[2], w[3], w[4], w[5]
	local iters, read_pct, hold_ms = tonumber(w[7]), tonumber(w[8]), tonumber(w[9])
	local pid = my_pid()
	local excl = assert(locket.lock_file(lock_path))
	local shared = assert(locket.lock_file(lock_path, {shared = true}))
	local log = assert(io.open(log_path, "a"))
	local counter = assert(io.open(counter_path, "r+b"))
	log:setvbuf("full")
	counter:setvbuf("no") -- stdio would serve a re-read from its buffer, not from the file
	math.randomseed(pid)
	local function record(kind, seq, v)
		log:write(kind, " ", pid, " 0 ", seq, " ", ("%d"):format(v), "\n")
		log:flush() -- one write(2) per record
	end
	local function read_counter()
		counter:seek("set", 0)
		return tonumber(counter:read(20))
	end
	local n = 0
	for seq = 0, iters - 1 do
		if seq % 16 == 0 and io.open(stop) then
			break
		end
		local is_shared = math.random(100) <= read_pct
		local lock = is_shared and shared or excl
		local ok, _, code = lock:acquire(nil)
		if not ok then
			return code, n
		end
		n = n + 1
		local v = read_counter()
		record(is_shared and "S" or "E", seq, v)
		if hold_ms > 0 and seq % 32 == 31 then
			-- A longer hold now and then, for chaos kills to find (no sleep in plain Lua).
			local t = os.clock()
			while os.clock() - t < hold_ms / 1000 do end
		end
		if is_shared then
			record("s", seq, read_counter())
		else
			counter:seek("set", 0)
			counter:write(("%020d\n"):format(v + 1))
			counter:flush()
			record("X", seq, v + 1)
		end
		lock:release()
	end
	excl:close()
	shared:close()
	log:close()
	counter:close()
	return "ok", n
end

-- Returns result, value.
local function run(w)
	local cmd = w[1]
	if cmd == "hello" then
		return "ok", _VERSION
	elseif cmd == "pid" then
		return "ok", my_pid()
	elseif cmd == "open_close" then
		-- The file opened and closed apart from locket, as any code in the process might.
		local f = io.open(decode(w[2]), "rb")
		if not f then
			return "io_error"
		end
		f:close()
		return "ok"
	elseif cmd == "spawn_child" then
		-- A long-lived child that inherits every inheritable descriptor (system(3) closes none).
		os.execute("sleep 60 &")
		return "ok"
	elseif cmd == "stress" then
		return stress(w)
	elseif cmd == "reset" then
		for _, lock in pairs(handles) do
			lock:close()
		end
		handles = {}
		return "ok"
	end
	local name = w[2]
	if cmd == "open" then
		if handles[name] then
			handles[name]:close()
		end
		local opts = {create = not has(w, "no_create")}
		for i = 4, #w do -- ofd, or ofd:START:LENGTH: an OFD lock on that byte range
			if w[i]:sub(1, 3) == "ofd" then
				opts.kind = "ofd"
				local s, l = w[i]:match("^ofd:(%d+):(%d+)$")
				if s then
					opts.start, opts.length = tonumber(s), tonumber(l)
				end
			end
		end
		local lock, msg, code = locket.lock_file(decode(w[3]), opts)
		handles[name] = lock
		if not lock then
			return code
		end
		return "ok"
	end
	local lock = handles[name]
	if not lock then
		return "protocol_error", "unknown_handle"
	end
	if cmd == "acquire" then
		local opts = has(w, "shared") and { shared = true } or nil
		local ok, _, code = lock:acquire(to_seconds(w[3]), opts)
		return ok and "ok" or code
	elseif cmd == "release" then
		local ok, _, code = lock:release()
		return ok and "ok" or code
	elseif cmd == "fork_release" then
		-- A forked child tries to release the parent's lock; it must not be able to.
		local ok, unistd = pcall(require, "posix.unistd")
		if not ok then
			return "unsupported", "fork_needs_luaposix"
		end
		local pid = unistd.fork()
		if pid == 0 then
			local rok, err = pcall(lock.release, lock)
			unistd._exit(rok and 0 or (raised_name(err) == "not_held" and 3 or 99))
		end
		local _, _, status = require("posix.sys.wait").wait(pid)
		return status == 0 and "ok" or (status == 3 and "not_held" or ("child_exit_" .. tostring(status)))
	elseif cmd == "locked" then
		return "ok", lock:locked() and 1 or 0
	elseif cmd == "holder" then
		local pid, _, code = lock:holder_pid()
		if pid == nil and code then
			return code
		end
		return "ok", pid or 0
	elseif cmd == "close" then
		lock:close()
		return "ok"
	end
	return "unsupported", cmd
end

local function pack(...)
	return {n = select("#", ...), ...}
end

io.stdout:setvbuf("line")
while true do
	local ok, line = pcall(io.read, "*l")
	if ok then
		if not line then
			break
		end
		local w = {}
		for word in line:gmatch("%S+") do
			w[#w + 1] = word
		end
		if w[1] == "exit" then
			break
		end
		if w[1] then
			local t0 = clock and clock()
			local r = pack(pcall(run, w))
			local elapsed = clock and ("%.3f"):format(clock() - t0) or "-"
			local result, value
			if r[1] then
				result, value = r[2], r[3]
			else
				result = raised_name(r[2])
			end
			io.write(result, " ", elapsed, value ~= nil and (" " .. tostring(value)) or "", "\n")
			io.flush()
		end
	end
end
for _, lock in pairs(handles) do
	lock:close()
end
