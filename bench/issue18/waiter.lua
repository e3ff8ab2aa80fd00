-- The Lua waiter of the issue-18 suite (bench/issue18/issue18.py drives it).
--
--     lua5.3 waiter.lua TIMEOUT_S PATH      (LUA_PATH/LUA_CPATH: the locket module)
--
-- One lock object (locket.lock_file), the main thread waits with TIMEOUT_S (< 0: no timeout).
-- Same line protocol as locket-bench-waiter (bench/issue18/waiter.c): "ready"; per "go" it prints
-- "w 0", acquires, prints "d 0 T RC CPU" (T: CLOCK_MONOTONIC ns from locket.core.monotonic_us;
-- RC 0 acquired, 1 timed out, -1 error; CPU: os.clock() ns over the acquire) and releases.
local locket = require "locket"
local core = require "locket.core"

local timeout = tonumber(arg[1])
local path = assert(arg[2], "usage: waiter.lua TIMEOUT_S PATH")
if timeout < 0 then timeout = nil end
local lock = assert(locket.lock_file(path))

local function say(s)
	io.stdout:write(s, "\n")
	io.stdout:flush()
end

say("ready")
for line in io.stdin:lines() do
	if line ~= "go" then break end
	say("w 0")
	local cpu0 = os.clock()
	local ok, err, code = lock:acquire(timeout)
	local t = core.monotonic_us()
	local cpu = os.clock() - cpu0
	local rc = 0
	if not ok then
		rc = (code == "timeout" and 1) or -1
		if rc < 0 then io.stderr:write("waiter.lua: ", tostring(err), "\n") end
	end
	say(string.format("d 0 %d %d %d", math.floor(t) * 1000, rc, math.floor(cpu * 1e9)))
	if ok then lock:release() end
end
