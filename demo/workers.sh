#!/usr/bin/env bash
# The demo itself (scripts/demo.sh builds first): C, Python, Lua and flock(1)
# processes take turns in one critical section, guarded by one lock file.
#   demo/workers.sh BUILD_DIR
set -euo pipefail
build=$(cd "${1:?usage: demo/workers.sh BUILD_DIR}" && pwd)
cli="$build/cli/locket"
export PYTHONPATH="$build/python"
lua_dir="$build/lua/lua5.4"
export LUA_PATH="$lua_dir/?.lua;$lua_dir/?/init.lua;;" LUA_CPATH="$lua_dir/?.so;;"

dir=$(mktemp -d /tmp/locket-demo.XXXXXX)
trap 'rm -rf "$dir"' EXIT
lock="$dir/demo.lock"
log="$dir/journal"
rounds=5

now_ms() { date +%s%3N; }
# Each worker, in its own language, appends "enter"/"leave" lines to the journal
# inside the critical section; a second inside at the same time would show as
# an "enter" after an "enter".
python3 - "$lock" "$log" "$rounds" <<'PY' &
import sys, time, locket, os
path, log, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
lock = locket.lock_file(path, timeout=30)
for i in range(rounds):
    with lock:
        with open(log, "a") as f: f.write(f"enter python pid={os.getpid()}\n")
        time.sleep(0.02)
        with open(log, "a") as f: f.write(f"leave python\n")
PY
lua5.4 - "$lock" "$log" "$rounds" <<'LUA' &
local locket = require "locket"
local path, log, rounds = arg[1], arg[2], tonumber(arg[3])
local lock = assert(locket.lock_file(path, {timeout = 30}))
local function append(line) local f = assert(io.open(log, "a")); f:write(line, "\n"); f:close() end
for _ = 1, rounds do
  lock:with(function()
    append("enter lua")
    os.execute("sleep 0.02")
    append("leave lua")
  end)
end
LUA
for _ in $(seq "$rounds"); do
  "$cli" -w 30 "$lock" sh -c "echo 'enter locket-cli' >> '$log'; sleep 0.02; echo 'leave locket-cli' >> '$log'"
done &
for _ in $(seq "$rounds"); do
  flock -w 30 "$lock" sh -c "echo 'enter flock(1)' >> '$log'; sleep 0.02; echo 'leave flock(1)' >> '$log'"
done &
wait

echo "== 4 languages x $rounds rounds in one critical section; the journal:"
sed 's/^/   /' "$log" | head -12
echo "   ... ($(wc -l < "$log") lines)"
python3 - "$log" <<'PY'
import sys
inside = None; entries = 0
for line in open(sys.argv[1]):
    kind, who = line.split()[0], line.split()[1]
    if kind == "enter":
        assert inside is None, f"overlap: {who} entered while {inside} was inside"
        inside = who; entries += 1
    else:
        assert inside == who, f"{who} left but {inside} was inside"
        inside = None
print(f"== checked: {entries} entries, never two inside at once")
PY

echo "== kill -9 of a holder: the kernel releases its lock"
python3 - "$lock" <<'PY' &
import sys, time, locket
lock = locket.lock_file(sys.argv[1])
lock.acquire()
print("   python holds the lock and will never release it", flush=True)
time.sleep(600)
PY
holder=$!
until ! "$cli" -n "$lock" true 2>/dev/null; do :; done  # until the holder has it
"$cli" --verbose -w 0.1 "$lock" true 2>&1 | sed 's/^/   /' || true
t0=$(now_ms)
LOCK="$lock" lua5.4 -e '
local locket = require "locket"
local lock = assert(locket.lock_file(os.getenv("LOCK"), {timeout = 10}))
assert(lock:acquire())
print("   lua waiter got the lock")
lock:release()' </dev/null &
waiter=$!
sleep 0.5
echo "   kill -9 of the python holder (pid $holder)"
{ kill -9 "$holder"; wait "$holder"; } 2>/dev/null || true
wait "$waiter"
echo "   lua waited $(( $(now_ms) - t0 )) ms in all, of which about 500 before the kill"
echo "== demo OK"
