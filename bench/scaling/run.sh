#!/usr/bin/env bash
# The scaling suite: bench/scaling/run.sh BUILD_DIR -> bench/out/scaling.json
# N = 1, 8, 32, 128 processes contending for one lock (tight critical section): flock(LOCK_EX)
# blocking (the reference), locket with a 10 s timeout, locket untimed and interruptible, and
# the Python binding at N = 8, 32. LOCKET_BENCH_QUICK=1: one short round instead of three.
# LOCKET_SCALING_BASELINE=DIR: also run the C rows with the liblocket.so.1 in DIR (an older
# engine, labelled "before"), in the same run.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:?usage: bench/scaling/run.sh BUILD_DIR}" && pwd)
out=${LOCKET_BENCH_OUT:-$here/../out}
mkdir -p "$out"
bench=$build/bench/locket-bench-scaling
[ -x "$bench" ] || { echo "bench/scaling: $bench not built" >&2; exit 1; }
secs=1 rounds=3
[ "${LOCKET_BENCH_QUICK:-0}" = 1 ] && secs=0.3 rounds=1
dir=$(mktemp -d "${TMPDIR:-/tmp}/locket-scaling.XXXXXX")
trap 'rm -rf "$dir"' EXIT
rows=$dir/rows.jsonl
load0=$(cut -d' ' -f1 /proc/loadavg)
python=$(sed -n 's/^_\?Python_EXECUTABLE:[A-Z]*=//p' "$build/CMakeCache.txt" | head -n1)
[ -x "${python:-}" ] || python=python3
# Rounds, each running every row once, so that the load of a shared machine drifts over all rows
# alike; the report takes each row's median over the rounds.
for round in $(seq "$rounds"); do
	if [ -n "${LOCKET_SCALING_BASELINE:-}" ]; then
		LD_LIBRARY_PATH=$LOCKET_SCALING_BASELINE "$bench" --dir "$dir" --seconds "$secs" --label before \
			--kinds locket_timeout_10s,locket_interruptible >>"$rows"
	fi
	"$bench" --dir "$dir" --seconds "$secs" --label after >>"$rows"
	if [ -f "$build/python/locket/__init__.py" ]; then
		PYTHONPATH=$build/python "$python" "$here/scaling.py" --dir "$dir" --seconds "$secs" --label after \
			--n 8,32 >>"$rows" || echo "bench/scaling: the Python rows failed" >&2
	fi
done
load1=$(cut -d' ' -f1 /proc/loadavg)
"$python" - "$rows" "$out/scaling.json" "$secs" "$load0" "$load1" "$rounds" <<'PY'
import json, statistics, sys
raw = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
groups = {}
for r in raw:
    groups.setdefault((r["label"], r["kind"], r["n"]), []).append(r)
rows = []
for (label, kind, n), rs in groups.items():
    row = {"label": label, "kind": kind, "n": n, "rounds": len(rs)}
    for k in ("acq_per_s", "cpu_us_per_acq", "handoff_p50_us", "handoff_p99_us", "least_served_share", "seconds"):
        row[k] = statistics.median(r[k] for r in rs)
    for k in ("acquisitions", "timeouts", "errors", "overlaps", "failed_workers"):
        row[k] = sum(r[k] for r in rs)
    rows.append(row)
notes = [
    f"scaling: {sys.argv[6]} rounds of {sys.argv[3]} s per row, rows interleaved round by round, the median "
    "of each figure over the rounds (timeouts, overlaps: summed); N worker processes each loop open, lock, a ~1 µs critical section "
    "(a shared counter that also counts overlaps, which must stay 0), unlock, close; flock_blocking "
    "blocks in flock(LOCK_EX), the floor; hand-off = one worker's release to the next worker's return; "
    "least-served share = the fewest acquisitions of one worker / the mean; python rows: "
    "lock.acquire(timeout=10) in N processes, against the C flock rows",
    f"scaling: 1-minute load average {sys.argv[4]} before, {sys.argv[5]} after (2-core machine shared "
    "with other jobs: absolute figures move with the load, ratios within one label less so)",
]
if any(r["label"] == "before" for r in rows):
    notes.append("scaling: `before` is the previous engine (inotify per handle, every close wakes every "
                 "waiter), run with the same benchmark binary in the same run")
bad = [r for r in rows if r.get("overlaps") or r.get("failed_workers") or r.get("errors")]
for r in bad:
    notes.append(f"scaling: {r['label']} {r['kind']} N={r['n']}: {r['overlaps']} overlaps, "
                 f"{r['errors']} errors, {r['failed_workers']} failed workers")
json.dump({"suite": "scaling", "metrics": [], "notes": notes, "scaling": rows,
           "current_label": "after"}, open(sys.argv[2], "w"), indent=1)
PY
echo "bench/scaling: wrote $out/scaling.json" >&2
