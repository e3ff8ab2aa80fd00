-- Helper process for test_locket.lua. Talks through stdout lines:
--   hold <path> <fifo>      lock, print "locked <pid>", release when a line arrives on fifo
--   hold_spawn <path> <fifo> the same, first starting `sleep 60` (prints "spawned <pid>")
--   wait <path> <timeout>   print "try <code>" for a try, then "result <ok|code> <ms>" for a wait
--   sigint <path>           print "waiting <pid>", wait up to 20 s inside pcall, print
--                           "caught <error>" and "locked <true|false>"
--   sigusr1 <path>          with a luaposix SIGUSR1 handler: "waiting <pid>", wait up to 20 s,
--                           "result <ok|code> <ms>", "handled <bool> <locked>"
--   open <path>             print "open <ok|code>" for lock_file + acquire(0)
--   with_loop <path> <fifo> print "ready <pid>", call lock:with(fn) in a loop until Ctrl-C, print
--                           "caught <error>" and "locked <true|false> <calls>", then exit when a
--                           line arrives on fifo
local locket = require "locket"
local core = require "locket.core"

local function say(...)
	io.stdout:write(table.concat({ ... }, " "), "\n")
	io.stdout:flush()
end

local function my_pid()
	local f = assert(io.open("/proc/self/stat"))
	local pid = f:read("*l"):match("^(%d+)")
	f:close()
	return pid
end

local cmd, path = arg[1], arg[2]

if cmd == "hold" or cmd == "hold_spawn" then
	local lock = assert(locket.lock_file(path))
	assert(lock:acquire())
	if cmd == "hold_spawn" then
		-- A long-lived grandchild started while holding must not inherit the lock.
		local p = assert(io.popen("sleep 60 >/dev/null 2>&1 & echo $!"))
		say("spawned", p:read("*l"))
		p:close()
	end
	say("locked", my_pid())
	local f = assert(io.open(arg[3], "r")) -- blocks until the parent opens it
	f:read("*l")
	f:close()
	lock:release()
	say("released")
elseif cmd == "wait" then
	local lock = assert(locket.lock_file(path))
	local ok, _, code = lock:acquire(0)
	say("try", ok and "ok" or code)
	if ok then
		lock:release()
	end
	local t0 = core.monotonic_us()
	ok, _, code = lock:acquire(tonumber(arg[3]))
	say("result", ok and "ok" or code, tostring(math.floor((core.monotonic_us() - t0) / 1000)))
	if ok then
		lock:release()
	end
elseif cmd == "sigint" then
	local lock = assert(locket.lock_file(path))
	say("waiting", my_pid())
	local ok, a, b, c = pcall(lock.acquire, lock, 20)
	if ok then
		say("caught", "none:", tostring(a), tostring(b), tostring(c))
	else
		say("caught", tostring(a))
	end
	say("locked", tostring(lock:locked()))
elseif cmd == "sigusr1" then
	-- A luaposix signal handler (no interpreter hook that raises) ends the wait.
	local S = require "posix.signal"
	local handled = false
	S.signal(S.SIGUSR1, function() handled = true end)
	local lock = assert(locket.lock_file(path))
	say("waiting", my_pid())
	local t0 = core.monotonic_us()
	local ok, _, code = lock:acquire(20)
	say("result", ok and "ok" or code, tostring(math.floor((core.monotonic_us() - t0) / 1000)))
	for _ = 1, 100 do -- luaposix runs the Lua handler from a hook, soon after
		if handled then break end
	end
	say("handled", tostring(handled), tostring(lock:locked()))
elseif cmd == "open" then
	local lock, _, code = locket.lock_file(path)
	if lock then
		local ok
		ok, _, code = lock:acquire(0)
		code = ok and "ok" or code
	end
	say("open", code)
elseif cmd == "with_loop" then
	local lock = assert(locket.lock_file(path))
	local calls = 0
	local function body()
		calls = calls + 1
	end
	local pid = my_pid()
	local ok, err = pcall(function()
		say("ready", pid) -- inside: the interrupt may come as soon as the parent reads this
		while true do
			lock:with(body)
		end
	end)
	say("caught", tostring(ok), tostring(err))
	say("locked", tostring(lock:locked()), tostring(calls))
	local f = assert(io.open(arg[3], "r"))
	f:read("*l")
	f:close()
else
	error("unknown command " .. tostring(cmd))
end
