#!/usr/bin/env bash
# Run every benchmark suite and write docs/benchmarks.md and docs/benchmarks-handoff.png.
#
# usage: bench/run.sh [--quick] [--no-build] [--only GROUP] [SUITE...]
#   SUITE: a directory bench/SUITE with a run.sh (c, python, lua, windows, issue18, scaling,
#               portable);
#               default: all of them.
#   --only issue18  the rows of issue 18's targets: the issue18 suite and the python suite (which
#               has the Python hand-off rows, with a timeout and asyncio)
#   --quick     few samples, to try the harness out (the report says so)
#   --no-build  reuse the build tree as it is
# Environment: LOCKET_BENCH_BUILD (build tree, default build/bench), LOCKET_BENCH_TIMEOUT (seconds
# per suite, default 240; at least 480 for issue18 and portable).
#
# Each suite is bench/SUITE/run.sh BUILD_DIR, writing bench/out/SUITE.json; a suite that fails or
# times out is noted in the report and the others still run. When only some suites run, the
# report keeps the other suites' sections from the existing docs/benchmarks.md. See bench/README.md.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${LOCKET_BENCH_BUILD:-$root/build/bench}
out=$root/bench/out
per_suite=${LOCKET_BENCH_TIMEOUT:-240}
quick=0 do_build=1 wanted=() only=""
for a in "$@"; do
	if [ "$only" = next ]; then
		case $a in
		issue18) wanted+=(issue18 python) ;;
		*) echo "bench/run.sh: unknown group $a (known: issue18)" >&2; exit 2 ;;
		esac
		only=$a
		continue
	fi
	case $a in
	--quick) quick=1 ;;
	--no-build) do_build=0 ;;
	--only) only=next ;;
	--only=issue18) wanted+=(issue18 python) only=issue18 ;;
	-h | --help) sed -n '2,18p' "$0"; exit 0 ;;
	-*) echo "bench/run.sh: unknown option $a" >&2; exit 2 ;;
	*) wanted+=("$a") ;;
	esac
done
[ "$only" = next ] && { echo "bench/run.sh: --only needs a group (issue18)" >&2; exit 2; }
mkdir -p "$out"
export LOCKET_BENCH_OUT=$out LOCKET_BENCH_QUICK=$quick
t_start=$(date +%s)
started=$(date -u '+%Y-%m-%d %H:%M UTC')
load_before=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')
declare -A status=()
log() { printf '== %s\n' "$*" >&2; }

# ---- build: Release, everything (the Python and Lua suites need their bindings) ----
if [ "$do_build" = 1 ]; then
	log "building into $build (log: bench/out/build.log)"
	if ! { cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
		-DLOCKET_BUILD_BENCH=ON && cmake --build "$build" -j2; } >"$out/build.log" 2>&1; then
		log "full build failed; building the C library, CLI and C benchmarks only"
		tail -n 20 "$out/build.log" >&2
		cmake --build "$build" -j2 --target locket locket_cli locket_bench locket_bench_waiter >>"$out/build.log" 2>&1 ||
			log "the C build failed too; suites that need it will fail"
		status[build]="failed (see bench/out/build.log)"
	fi
fi

# ---- suites, in a fixed order, then any other bench/*/run.sh ----
suites=()
for s in c python lua windows; do [ -f "$root/bench/$s/run.sh" ] && suites+=("$s"); done
for f in "$root"/bench/*/run.sh; do
	s=$(basename "$(dirname "$f")")
	case " ${suites[*]} " in *" $s "*) ;; *) suites+=("$s") ;; esac
done
if [ ${#wanted[@]} -gt 0 ]; then suites=("${wanted[@]}"); fi

for s in "${suites[@]}"; do
	script=$root/bench/$s/run.sh
	if [ ! -f "$script" ]; then
		status[$s]="missing (no bench/$s/run.sh)"
		continue
	fi
	# A failed suite must not leave an earlier run's figures in the report.
	rm -f "$out/$s.json"
	args=()
	[ "$s" = c ] && [ "$quick" = 1 ] && args=(--quick)
	log "suite $s (log: bench/out/$s.log)"
	t0=$(date +%s)
	limit=$per_suite
	[ "$s" = issue18 ] && [ "$limit" -lt 480 ] && limit=480
	[ "$s" = portable ] && [ "$limit" -lt 480 ] && limit=480
	timeout --kill-after=10 "$limit" bash "$script" "$build" "${args[@]}" >"$out/$s.log" 2>&1
	rc=$?
	took=$(($(date +%s) - t0))
	if [ $rc = 0 ] && [ -s "$out/$s.json" ]; then
		status[$s]="ok (${took} s)"
	elif [ $rc = 124 ] || [ $rc = 137 ]; then
		status[$s]="timed out after ${limit} s (see bench/out/$s.log)"
	elif [ $rc = 0 ]; then
		status[$s]="wrote no bench/out/$s.json (see bench/out/$s.log)"
	else
		status[$s]="failed with exit code $rc after ${took} s (see bench/out/$s.log)"
	fi
	[ -s "$out/$s.json" ] && [ $rc != 0 ] && status[$s]+="; partial results kept"
	log "suite $s: ${status[$s]}"
	[ $rc = 0 ] || tail -n 15 "$out/$s.log" >&2
done

# ---- report: matplotlib in a venv of our own; a text-only report without it ----
py=python3
if [ -x "$out/venv/bin/python" ] && "$out/venv/bin/python" -c 'import matplotlib' 2>/dev/null; then
	py=$out/venv/bin/python
else
	log "installing matplotlib into bench/out/venv"
	if python3 -m venv "$out/venv" >>"$out/build.log" 2>&1 &&
		"$out/venv/bin/pip" install -q matplotlib >>"$out/build.log" 2>&1; then
		py=$out/venv/bin/python
	else
		log "matplotlib could not be installed: the report will have no plot"
	fi
fi

status_json=$(for k in "${!status[@]}"; do printf '%s\t%s\n' "$k" "${status[$k]}"; done |
	python3 -c 'import json,sys; print(json.dumps(dict(l.rstrip("\n").split("\t",1) for l in sys.stdin if l.strip())))')
python3 - "$out/run.json" "$started" "$load_before" "$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)" \
	"$(($(date +%s) - t_start))" "$quick" "$status_json" <<'EOF'
import json, sys
path, started, before, after, took, quick, status = sys.argv[1:]
json.dump({"started": started, "loadavg_before": before, "loadavg_after": after,
           "duration_s": int(took), "quick": quick == "1", "suites": json.loads(status)},
          open(path, "w"), indent=1)
EOF
log "report: docs/benchmarks.md"
keep=()
[ ${#wanted[@]} -gt 0 ] && keep=(--keep-missing)
"$py" "$root/bench/report.py" --out-dir "$out" --md "$root/docs/benchmarks.md" --png "$root/docs/benchmarks-handoff.png" "${keep[@]}"
