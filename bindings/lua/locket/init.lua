--- locket: cross-process file locks.
--
--     local locket = require "locket"
--     local lock = assert(locket.lock_file("/tmp/app.lock", {timeout = 5}))
--     assert(lock:acquire())
--     ...
--     lock:release()
--
-- Conventions, as in io: expected failures (timeout, a failed try, OS errors)
-- return nil, message, code (code is a stable string such as "timeout");
-- misuse (wrong argument types, releasing a lock that is not held, use after
-- close) raises an error. Works on Lua 5.1 to 5.4 and LuaJIT.
local core = require "locket.core"

local type, error, pcall, pairs, setmetatable, getmetatable, tostring, select =
	type, error, pcall, pairs, setmetatable, getmetatable, tostring, select
local huge = math.huge

local Handle, timeout_ms, with_lock_held = core.Handle, core.timeout_ms, core.with
local error_name, strerror, last_error_message = core.error_name, core.strerror, core.last_error_message
local ENOTHELD, SHARED, INTERRUPTIBLE, NO_CREATE = core.ENOTHELD, core.SHARED, core.INTERRUPTIBLE, core.NO_CREATE
local KIND_OFD = core.KIND_OFD
local ACROSS_HOSTS = core.ACROSS_HOSTS

local M = {
	version = core.version(),
	_VERSION = "locket " .. core.version(),
}

-- nil, message, code for a failed core call (read at once: the detail is
-- per thread and replaced by the next failure).
local function failure(rc)
	local msg = last_error_message()
	if msg == "" then
		msg = strerror(rc)
	end
	return nil, msg, error_name(rc)
end

-- Seconds (nil: forever) to the core's milliseconds (-1: forever), by the core's one rule
-- for every language (locket_timeout_ms): math.huge and anything too large for the core wait
-- forever, NaN and negative numbers are refused, a tiny positive timeout still waits.
local function to_ms(t, what, level)
	if t == nil or t == huge then
		return -1
	end
	if type(t) ~= "number" then
		error("bad " .. what .. " (number of seconds or nil expected, got " .. type(t) .. ")", level + 1)
	end
	local ms = timeout_ms(t)
	if not ms then
		error("bad " .. what .. " (" .. tostring(t) ..
			"): expected a number of seconds >= 0, or nil or math.huge to wait forever", level + 1)
	end
	return ms
end

local Lock = {}
Lock.__index = Lock
M.Lock = Lock

-- The core handle of a lock object, or an error at the caller's caller.
local function check(self, level)
	local h = type(self) == "table" and self._h
	if h then
		return h
	end
	if getmetatable(self) == Lock then
		error("attempt to use a closed lock", level + 1)
	end
	error("bad self (lock expected, got " .. type(self) .. "); call lock methods with ':'", level + 1)
end

--- Create a lock object for the file at path, without taking the lock.
-- The file is created (never truncated or deleted) unless opts.create is false.
-- opts (all optional): timeout = seconds for acquire() (default: wait forever;
-- 0: try once), shared = true for a shared (reader) lock, create = false to
-- fail with "not_found" when the file is missing, mode = permission bits of a
-- new file (default 0666, e.g. tonumber("600", 8)), across_hosts = true to make
-- acquire() fail with code "scope" where the lock cannot exclude other hosts
-- or other views of the file (see locket.scope and docs/filesystems.md),
-- kind = "flock" (the default: flock(2) on the whole file, what flock(1),
-- locket.py and filelock take) or "ofd" (an OFD lock, fcntl F_OFD_SETLK: what
-- excludes lockf, fasteners and flock --fcntl), start and length = the OFD
-- lock's byte range (bytes >= 0; length 0, the default: to the end of the file).
-- Returns the lock, or nil, message, code.
function M.lock_file(path, opts)
	if type(path) ~= "string" then
		error("bad argument #1 to 'lock_file' (string expected, got " .. type(path) .. ")", 2)
	end
	local timeout, shared, create, mode, across_hosts
	local kind, start, length = 0, 0, 0
	if opts ~= nil then
		if type(opts) ~= "table" then
			error("bad argument #2 to 'lock_file' (table or nil expected, got " .. type(opts) .. ")", 2)
		end
		for k, v in pairs(opts) do
			if k == "timeout" then
				timeout = v
			elseif k == "shared" or k == "create" or k == "across_hosts" then
				if type(v) ~= "boolean" then
					error("bad option '" .. k .. "' to 'lock_file' (boolean expected, got " .. type(v) .. ")", 2)
				end
				if k == "shared" then shared = v elseif k == "create" then create = v else across_hosts = v end
			elseif k == "mode" then
				if type(v) ~= "number" or v ~= v or v < 0 or v > 4095 or v % 1 ~= 0 then
					error("bad option 'mode' to 'lock_file' (permission bits 0 to 4095 expected, got " ..
						tostring(v) .. ")", 2)
				end
				mode = v
			elseif k == "kind" then
				if v ~= "flock" and v ~= "ofd" then
					error("bad option 'kind' to 'lock_file' ('flock' or 'ofd' expected, got " ..
						tostring(v) .. ")", 2)
				end
				kind = v == "ofd" and KIND_OFD or 0
			elseif k == "start" or k == "length" then
				if type(v) ~= "number" or v ~= v or v < 0 or v >= 2 ^ 53 or v % 1 ~= 0 then
					error("bad option '" .. k .. "' to 'lock_file' (bytes >= 0 expected, got " ..
						tostring(v) .. ")", 2)
				end
				if k == "start" then start = v else length = v end
			else
				error("bad option '" .. tostring(k) .. "' to 'lock_file' (unknown option)", 2)
			end
		end
	end
	local ms = to_ms(timeout, "option 'timeout' to 'lock_file'", 2)
	-- C sees the path up to the first NUL: refuse it rather than lock another file.
	if path:find("\0", 1, true) then
		return nil, "lock file path contains a NUL byte: " .. ("%q"):format(path), "invalid_argument"
	end
	local h = Handle(path, mode or 438, (create == false and NO_CREATE or 0) + (across_hosts and ACROSS_HOSTS or 0),
		kind, start, length)
	local rc = h.open_error
	if rc ~= 0 then
		return failure(rc)
	end
	return setmetatable({ _h = h, _ms = ms, _flags = (shared and SHARED or 0) + INTERRUPTIBLE }, Lock)
end

local function acquire(self, timeout, level, opts)
	local h = check(self, level + 1)
	local ms, flags = self._ms, self._flags
	if timeout ~= nil then
		ms = to_ms(timeout, "timeout", level + 1)
	end
	if opts ~= nil then
		if type(opts) ~= "table" then
			error("bad options (table expected, got " .. type(opts) .. ")", level + 1)
		end
		for k in pairs(opts) do
			if k ~= "shared" then
				error("unknown acquire option '" .. tostring(k) .. "'", level + 1)
			end
		end
		if opts.shared ~= nil then
			if type(opts.shared) ~= "boolean" then
				error("bad option 'shared' (boolean expected, got " .. type(opts.shared) .. ")", level + 1)
			end
			flags = (opts.shared and SHARED or 0) + INTERRUPTIBLE
		end
	end
	if h:locked() ~= 0 then
		-- Waiting would wait for ourselves (Lua has one thread per state).
		error("lock '" .. h:path() .. "' is already held by this lock object (locks are not re-entrant)", level + 1)
	end
	-- Interruptible: on Ctrl-C (a signal handler that sets a hook, as lua.c's
	-- and luaposix's do) the core returns within 50 ms with nothing held, and
	-- the hook raises "interrupted!" at the next Lua instruction.
	local rc = h:acquire(ms, flags)
	if rc == 0 then
		return true
	end
	return failure(rc)
end

--- Take the lock: wait at most timeout seconds (default: the lock_file
-- option; 0 tries once; nil/math.huge waits forever). opts.shared, when
-- given, overrides the lock_file option for this call. Returns true, or nil,
-- message, code ("timeout", "would_block", "interrupted", "not_found"...).
-- Raises if this lock object already holds the lock.
function Lock:acquire(timeout, opts)
	return acquire(self, timeout, 2, opts)
end

--- Release the lock. Returns true; raises if this lock object does not hold it.
function Lock:release()
	local rc = check(self, 2):release()
	if rc == 0 then
		return true
	end
	if rc == ENOTHELD then
		error("attempt to release lock '" .. self._h:path() .. "', which this lock object does not hold", 2)
	end
	return failure(rc)
end

--- true if this lock object holds the lock.
function Lock:locked()
	return check(self, 2):locked() ~= 0
end

--- The pid of a process holding the lock (maybe this one), nil when none is
-- seen, or nil, message, code ("not_supported" on Windows). For messages only:
-- the answer may be stale.
function Lock:holder_pid()
	local pid = check(self, 2):holder_pid()
	if pid > 0 then
		return pid
	elseif pid == 0 then
		return nil
	end
	return failure(pid)
end

--- Is the held lock still the lock of the file the path names? Returns true;
-- nil, message, "lock_lost" once the file was removed, replaced or renamed
-- away while held (the lock stays held until released); raises if this lock
-- object does not hold the lock. Costs an fstat and a stat.
function Lock:check()
	local h = check(self, 2)
	local rc = h:check()
	if rc == 0 then
		return true
	end
	if rc == ENOTHELD then
		error("attempt to check lock '" .. h:path() .. "', which this lock object does not hold", 2)
	end
	return failure(rc)
end

--- The absolute path of the lock file.
function Lock:path()
	return check(self, 2):path()
end

--- Release the lock if held and free the lock object. Idempotent; every other
-- method raises afterwards.
function Lock:close()
	if getmetatable(self) ~= Lock then
		check(self, 2)
	end
	local h = self._h
	if h then
		self._h = nil
		h:close()
	end
end

--- true once close() was called.
function Lock:closed()
	if getmetatable(self) ~= Lock then
		check(self, 2)
	end
	return self._h == nil
end

local unpack = table.unpack or unpack
local function pack(...)
	return { n = select("#", ...), ... }
end

local function run(self, close, level, fn, ...)
	if type(fn) ~= "function" and not (getmetatable(fn) or {}).__call then
		error("bad argument to 'with' (function expected, got " .. type(fn) .. ")", level + 1)
	end
	local h = check(self, level + 1)
	if h:locked() ~= 0 then
		error("lock '" .. h:path() .. "' is already held by this lock object (locks are not re-entrant)", level + 1)
	end
	-- Acquire, call fn protected, release and re-raise fn's error: all in C (core.with), so that
	-- a hook raising "interrupted!" (Ctrl-C) never runs between the acquisition and the release
	-- outside fn. core.with returns true and fn's results, or nil, message, code.
	local r
	if close then
		r = pack(pcall(with_lock_held, h, self._ms, self._flags, fn, ...))
		self:close()
		if not r[1] then
			error(r[2], 0)
		end
		r = pack(unpack(r, 2, r.n))
	else
		r = pack(with_lock_held(h, self._ms, self._flags, fn, ...))
	end
	if r[1] == nil then
		error(r[2] .. " (" .. r[3] .. ")", level + 1)
	end
	return unpack(r, 2, r.n)
end

--- Acquire (with the lock_file timeout), call fn(...), release even when fn
-- raises, and return fn's results or re-raise its error. A lock that cannot
-- be taken raises "<message> (<code>)"; fn is then not called.
function Lock:with(fn, ...)
	return run(self, false, 2, fn, ...)
end

--- locket.with_lock(path, [opts,] fn, ...): lock_file + with + close in one call.
function M.with_lock(path, opts, fn, ...)
	if type(opts) == "function" then
		return M.with_lock(path, nil, opts, fn, ...)
	end
	local lock, msg, code = M.lock_file(path, opts)
	if not lock then
		error(msg .. " (" .. code .. ")", 2)
	end
	return run(lock, true, 2, fn, ...)
end

-- A guard releases its lock when a to-be-closed variable goes out of scope.
local Guard = {}
Guard.__index = Guard
function Guard.__close(g)
	local h = g._lock._h
	if h and h:locked() ~= 0 then
		h:release()
	end
end
Guard.release = Guard.__close

--- Acquire and return a guard for a Lua 5.4 to-be-closed variable, or nil,
-- message, code:
--     local guard <close> = assert(lock:scope(5))
-- The lock is released when the guard's scope ends, by error or not (or by
-- guard:release() on older Luas).
function Lock:scope(timeout)
	local ok, msg, code = acquire(self, timeout, 2)
	if not ok then
		return nil, msg, code
	end
	return setmetatable({ _lock = self }, Guard)
end

-- `local lock <close> = locket.lock_file(...)` closes the lock at scope exit
-- (Lua 5.4 passes the error as a second argument; close ignores it).
function Lock.__close(self)
	self:close()
end

function Lock.__tostring(self)
	local h = self._h
	if not h then
		return "locket lock (closed)"
	end
	return ("locket lock '%s' (%s)"):format(h:path(), h:locked() ~= 0 and "held" or "not held")
end

--- What a lock on path can exclude: a table { kind = "local" | "network" |
-- "this-host" | "unknown", fs_type = "ext4", reason = "one line" }, or nil,
-- message, code. path need not exist (its directory must). lock_kind: the
-- kind of lock asked about, "flock" (the default) or "ofd" (they differ on
-- NFS mounted with local_lock=flock or =posix). See docs/filesystems.md.
function M.scope(path, lock_kind)
	if type(path) ~= "string" then
		error("bad argument #1 to 'scope' (string expected, got " .. type(path) .. ")", 2)
	end
	if lock_kind ~= nil and lock_kind ~= "flock" and lock_kind ~= "ofd" then
		error("bad argument #2 to 'scope' ('flock' or 'ofd' expected, got " .. tostring(lock_kind) .. ")", 2)
	end
	if path:find("\0", 1, true) then
		return nil, "path contains a NUL byte: " .. ("%q"):format(path), "invalid_argument"
	end
	local kind = core.scope_kind(path, lock_kind == "ofd" and KIND_OFD or 0)
	if kind < 0 then
		return failure(kind)
	end
	return { kind = core.scope_name(kind), fs_type = core.scope_fs_type(), reason = core.scope_reason() }
end

--- The stable name of a core error code (for users of locket.core).
M.error_name = error_name

return M
