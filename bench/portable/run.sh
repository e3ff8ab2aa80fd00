#!/usr/bin/env bash
# The portable-engine suite: bench/portable/run.sh BUILD_DIR -> bench/out/portable.json
# The Linux engine and the portable engine (core/portable/, LOCKET_ENGINE=portable: what macOS and
# the BSDs run) side by side on this machine, with the anchors that poll: hand-off (another
# process's release to the waiter's return), waiter CPU while a 2 s timeout runs out, and N
# processes contending for one lock. The same benchmark programs of BUILD_DIR run twice per round,
# once with their own liblocket (the Linux engine) and once with a portable liblocket.so.1 built
# into LOCKET_BENCH_PORTABLE_BUILD (default BUILD_DIR-portable) through LD_LIBRARY_PATH (they link
# it with a RUNPATH); rounds alternate the engines so that both see the same machine load.
# LOCKET_BENCH_QUICK=1: one short round.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${1:?usage: bench/portable/run.sh BUILD_DIR}" && pwd)
out=${LOCKET_BENCH_OUT:-$here/../out}
mkdir -p "$out"
bench=$build/bench/locket-bench
scaling=$build/bench/locket-bench-scaling
[ -x "$bench" ] && [ -x "$scaling" ] || { echo "bench/portable: $build/bench/locket-bench{,-scaling} not built" >&2; exit 1; }
pbuild=${LOCKET_BENCH_PORTABLE_BUILD:-$build-portable}
cmake -S "$root" -B "$pbuild" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
	-DLOCKET_ENGINE=portable -DLOCKET_BUILD_PYTHON=OFF -DLOCKET_BUILD_LUA=OFF \
	-DLOCKET_BUILD_CLI=OFF -DLOCKET_BUILD_BENCH=OFF >/dev/null
cmake --build "$pbuild" --target locket >/dev/null
[ -f "$pbuild/core/liblocket.so.1" ] || { echo "bench/portable: no $pbuild/core/liblocket.so.1" >&2; exit 1; }
rounds=3 samples=150 secs=1
[ "${LOCKET_BENCH_QUICK:-0}" = 1 ] && rounds=1 samples=30 secs=0.3
dir=$(mktemp -d "${TMPDIR:-/tmp}/locket-portable.XXXXXX")
trap 'rm -rf "$dir"' EXIT
load0=$(cut -d' ' -f1 /proc/loadavg)
engine_env() { # the environment that makes the programs load this engine's library
	if [ "$1" = portable ]; then echo "LD_LIBRARY_PATH=$pbuild/core"; else echo "LOCKET_BENCH_ENGINE=linux"; fi
}
for round in $(seq "$rounds"); do
	for engine in linux portable; do
		echo "== round $round: $engine" >&2
		env "$(engine_env $engine)" "$bench" --dir "$dir" --samples "$samples" \
			--out "$dir/handoff-$engine-$round.json" handoff >&2
		env "$(engine_env $engine)" "$bench" --dir "$dir" --quick \
			--out "$dir/cpu-$engine-$round.json" cpu >&2
		env "$(engine_env $engine)" "$scaling" --dir "$dir" --seconds "$secs" --label "$engine" \
			--n 8,32,128 >>"$dir/scaling.jsonl"
	done
done
load1=$(cut -d' ' -f1 /proc/loadavg)
python3 - "$dir" "$out/portable.json" "$rounds" "$samples" "$secs" "$load0" "$load1" <<'PY'
import glob, json, os, statistics, sys
d, dest, rounds, samples, secs, load0, load1 = sys.argv[1:]

def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, int(round(q / 100 * len(xs) + 0.5)) - 1))] if xs else float("nan")

# The rows: (engine, the C suite's name) -> this suite's name. The locket rows of each engine, and
# the anchors (a blocking flock() waiter, the reference; waiters that poll) from the Linux run only:
# they do not use liblocket.
HANDOFF = {"flock_blocking": "flock_blocking", "poll_1ms": "poll_1ms", "poll_50ms": "poll_50ms",
           "flock_blocking_unlock_only": "flock_blocking_unlock_only"}
LOCKET_HANDOFF = ["locket_timeout_10s", "locket_timeout_-1", "locket_interruptible",
                  "locket_10s_locket_holder", "locket_10s_close_only", "locket_10s_unlock_only"]
handoff = {}
for engine in ("linux", "portable"):
    for f in sorted(glob.glob(os.path.join(d, f"handoff-{engine}-*.json"))):
        for kind, xs in json.load(open(f)).get("handoff", {}).items():
            if kind in LOCKET_HANDOFF:
                name = kind.replace("locket_", f"locket_{engine}_", 1)
            elif engine == "linux" and kind in HANDOFF:
                name = HANDOFF[kind]
            else:
                continue
            handoff.setdefault(name, []).extend(xs)
metrics = []
for name, xs in handoff.items():
    for q in (50, 90, 99):
        metrics.append({"name": f"handoff_p{q}", "impl": name, "value": round(pct(xs, q), 1), "unit": "us",
                        "reference": name == "flock_blocking", "lower_is_better": True,
                        "context": True})
cpu = {}
for engine in ("linux", "portable"):
    for f in sorted(glob.glob(os.path.join(d, f"cpu-{engine}-*.json"))):
        for m in json.load(open(f)).get("metrics", []):
            if m["name"] != "waiter_cpu_2s":
                continue
            impl = m["impl"]
            if impl.startswith("locket_"):
                impl = impl.replace("locket_", f"locket_{engine}_", 1)
            elif engine != "linux":
                continue
            cpu.setdefault(impl, []).append(m["value"])
for impl, vs in cpu.items():
    metrics.append({"name": "waiter_cpu_2s", "impl": impl, "value": round(statistics.median(vs), 3),
                    "unit": "ms", "reference": impl == "flock_blocking_sigalrm", "lower_is_better": True,
                    "context": True})
groups = {}
for line in open(os.path.join(d, "scaling.jsonl")):
    if line.strip():
        r = json.loads(line)
        if r["kind"] == "flock_blocking" and r["label"] != "linux":
            continue
        impl = r["kind"] if r["kind"] == "flock_blocking" else r["kind"].replace("locket_", f"locket_{r['label']}_", 1)
        groups.setdefault((impl, r["n"]), []).append(r)
for (impl, n), rs in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][0])):
    for key, name, unit, lower in (("acq_per_s", f"scaling_n{n}_acq_per_s", "s", False),
                                   ("cpu_us_per_acq", f"scaling_n{n}_cpu_per_acq", "us", True)):
        v = statistics.median(r[key] for r in rs)
        if key == "acq_per_s":
            metrics.append({"name": name, "impl": impl, "value": round(v), "unit": "acq/s",
                            "reference": impl == "flock_blocking", "lower_is_better": lower, "context": True})
        else:
            metrics.append({"name": name, "impl": impl, "value": round(v, 2), "unit": unit,
                            "reference": impl == "flock_blocking", "lower_is_better": lower, "context": True})
    over = sum(r["overlaps"] for r in rs)
    if over:
        print(f"bench/portable: {impl} N={n}: {over} overlaps", file=sys.stderr)
notes = [
    f"portable: {rounds} rounds, each running the C suite's hand-off ({samples} samples), waiter-CPU (one 2 s "
    f"wait per kind) and scaling ({secs} s per row, N = 8, 32, 128) programs once with the Linux engine "
    "(locket_linux_*) and once with the portable engine (locket_portable_*: the same programs with a "
    "LOCKET_ENGINE=portable liblocket.so.1 through LD_LIBRARY_PATH); the anchors (flock_blocking: a waiter "
    "blocked in flock(), the reference; poll_1ms, poll_50ms: waiters that try every 1 / 50 ms, as filelock "
    "and locket.py do) come from the Linux runs, as they do not use liblocket. Hand-off: the holder is another "
    "process (flock + unlock + close, or locket_release for *_locket_holder, close without unlock for "
    "*_close_only, unlock and keep the descriptor for *_unlock_only); percentiles over all rounds. Waiter CPU: "
    "median over rounds. Scaling: the median over rounds of acquisitions per second and CPU per acquisition.",
    f"portable: 1-minute load average {load0} before, {load1} after (a 2-core machine shared with other jobs)",
    "portable: locket_portable_timeout_-1 blocks in flock() (untimed and uninterruptible), as the Linux engine "
    "does; the other portable rows try on a backoff of 1, 2, 4, 4... ms, and a release by a thread of the "
    "waiter's own process wakes it at once (not measured here: holder and waiter are separate processes)",
]
json.dump({"suite": "portable", "metrics": metrics, "handoff": handoff, "notes": notes}, open(dest, "w"), indent=1)
print(f"bench/portable: wrote {dest}", file=sys.stderr)
PY
