-- The Lua binding on Windows (lua.exe + locket/core.dll under Wine).
--   lua.exe test_lua_win.lua DIR            run the tests, lock files in DIR
--   lua.exe test_lua_win.lua --try PATH     (child) one try; prints the result code
local locket = require "locket"

local lua_exe = arg[-1]
local script = arg[0]

if arg[1] == "--try" then
	local l = assert(locket.lock_file(arg[2]))
	local ok, _, code = l:acquire(0)
	print(ok and "ok" or code)
	l:close()
	os.exit(0)
end

local dir = assert(arg[1], "usage: test_lua_win.lua DIR")
local failures = 0

local function check(cond, what)
	if not cond then
		failures = failures + 1
		io.stderr:write("FAIL: ", what, "\n")
	end
end

-- What another process gets from one try. io.popen runs "cmd.exe /c LINE",
-- which drops the first and the last quote of LINE: hence the outer pair.
local function other_try(path)
	local p = assert(io.popen('""' .. lua_exe .. '" "' .. script .. '" --try "' .. path .. '""'))
	local out = p:read("*l")
	p:close()
	return out
end

local path = dir .. "/lua-win.lock"

do -- acquire, release, misuse
	local l = assert(locket.lock_file(path))
	check(l:acquire(0) == true, "acquire(0)")
	check(l:locked(), "locked()")
	check(other_try(path) == "would_block", "another process is refused")
	check(l:release() == true, "release()")
	check(not pcall(l.release, l), "release of an unlocked lock raises")
	check(other_try(path) == "ok", "another process gets it after release")
	l:close()
end

do -- two lock objects in one process exclude each other
	local a = assert(locket.lock_file(path))
	local b = assert(locket.lock_file(dir .. "/./lua-win.lock"))
	assert(a:acquire())
	local ok, _, code = b:acquire(0)
	check(ok == nil and code == "would_block", "second object: would_block, got " .. tostring(code))
	ok, _, code = b:acquire(0.2)
	check(ok == nil and code == "timeout", "second object: timeout, got " .. tostring(code))
	a:release()
	check(b:acquire(5) == true, "second object after release")
	b:release()
	a:close()
	b:close()
end

do -- errors have their own codes
	local l, _, code = locket.lock_file(dir .. "/no-such-dir/x.lock")
	check(l == nil and code == "not_found", "missing directory: not_found, got " .. tostring(code))
	l, _, code = locket.lock_file(dir)
	check(l == nil and code == "is_a_directory", "directory: is_a_directory, got " .. tostring(code))
	l, _, code = locket.lock_file(path .. "\0tail")
	check(l == nil and code == "invalid_argument", "NUL in path: invalid_argument, got " .. tostring(code))
end

do -- a non-ASCII name
	local p = dir .. "/lua-\xc3\xb1-\xe6\x97\xa5.lock"
	local l = assert(locket.lock_file(p))
	assert(l:acquire(0))
	check(other_try(p) == "would_block", "non-ASCII path: another process is refused")
	l:release()
	l:close()
end

do -- with_lock
	local a, b = locket.with_lock(path, nil, function(x) return x, other_try(path) end, 42)
	check(a == 42 and b == "would_block", "with_lock holds the lock during fn and returns its values")
	check(other_try(path) == "ok", "with_lock releases")
end

if failures > 0 then
	io.stderr:write(failures, " failure(s)\n")
	os.exit(1)
end
print("PASS lua on windows")
