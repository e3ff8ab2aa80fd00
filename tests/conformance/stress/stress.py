#!/usr/bin/env python3
"""Mixed-language stress and chaos for one lock (docs/conformance.md, "Stress and chaos").

    stress.py --config drivers.json --langs c,c,python,python,lua5.4,luajit [--threads 3]
              [--iters 300] [--read-pct 30] [--chaos SECONDS] [--seed N]

One driver process per --langs entry runs the driver's "stress" command: --threads threads (one for
Lua), each repeatedly entering a critical section guarded by one lock file, exclusive (increment a
counter file) or shared (read it twice), and appending enter/exit records to one O_APPEND log.
With --chaos, for that many seconds random workers (holders and waiters alike) are frozen with
SIGSTOP, marked in the log ("K pid") and killed with SIGKILL, and replaced; then every worker is
told to stop and must finish. The checker replays the log: no exclusive holder ever overlapped
another holder, shared holders overlapped only shared ones, and no counter update was lost.
Prints "acquisitions=N kills=N violations=N" and exits 1 on any violation, hang or error.
"""
import argparse
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from runner import Actor, Failure  # noqa: E402

FINISH_TIMEOUT = 120.0  # seconds for every worker to finish after the stop file appears


def check_log(path, final_counter):
    """Replays the log; returns (violations, acquisitions, killed_holding, process switches, messages)."""
    violations, acquisitions, killed_holding, switches = 0, 0, 0, 0
    last_pid = None
    msgs = []
    excl = None          # (pid, tid, seq) of the exclusive holder
    shared = {}          # (pid, tid) -> value read on entry
    allowed = {0}        # counter values the next section may read
    with open(path) as f:
        lines = f.read().splitlines()

    def bad(no, text):
        nonlocal violations
        violations += 1
        if len(msgs) < 20:
            msgs.append(f"log line {no}: {text}")

    for no, line in enumerate(lines, 1):
        w = line.split()
        kind = w[0]
        if kind == "K":
            pid = w[1]
            if excl and excl[0] == pid:
                killed_holding += 1
                v = excl[3]
                allowed = {v, v + 1}  # killed between its read and its write, or after the write
                excl = None
            for key in [k for k in shared if k[0] == pid]:
                killed_holding += 1
                del shared[key]
            continue
        pid, tid, seq, v = w[1], w[2], w[3], int(w[4])
        if kind in "ES":
            acquisitions += 1
            switches += pid != last_pid
            last_pid = pid
            if excl:
                bad(no, f"{line!r} entered while {excl[:3]} held the lock exclusively")
            if kind == "E" and shared:
                bad(no, f"{line!r} entered exclusively while {len(shared)} shared holder(s) held it")
            if v not in allowed:
                bad(no, f"{line!r} read counter {v}, expected one of {sorted(allowed)} (lost update)")
            allowed = {v}
            if kind == "E":
                excl = (pid, tid, seq, v)
            else:
                shared[(pid, tid)] = v
        elif kind == "X":
            if not excl or excl[:3] != (pid, tid, seq):
                bad(no, f"{line!r} left a section it was not alone in (holder {excl and excl[:3]})")
            elif v != excl[3] + 1:
                bad(no, f"{line!r} wrote {v}, expected {excl[3] + 1}")
            excl = None
            allowed = {v}
        elif kind == "s":
            if shared.pop((pid, tid), v) != v:
                bad(no, f"{line!r}: the counter changed during a shared section")
        else:
            bad(no, f"unreadable record {line!r}")
    if excl or shared:
        bad(len(lines), f"sections still open at the end: {excl} {list(shared)}")
    if final_counter not in allowed:
        bad(len(lines), f"final counter {final_counter}, expected one of {sorted(allowed)} (lost update)")
    return violations, acquisitions, killed_holding, switches, msgs


class Worker:
    def __init__(self, lang, config, cwd, fork_log=None):
        entry = config[lang]
        env = dict(os.environ, **entry.get("env", {}))
        if fork_log:
            env["LOCKET_STRESS_FORK_LOG"] = fork_log
        self.fork_log = fork_log
        self.lang = lang
        self.actor = Actor(f"{lang}-worker", lang, entry["cmd"], env, cwd)
        self.pid = self.actor.proc.pid

    def start(self, cmd):
        if not self.actor.call("hello").startswith("ok "):
            raise Failure(f"{self.lang} worker did not start")
        self.actor.send(cmd)


class PathSwitcher:
    """Workers lock current/lock, where current is a symlink that chaos switches between v1 and v2
    (a deploy). The switch happens while this process holds the old file's lock, so that no worker
    holds it rightfully afterwards: a waiter that came back holding it after the switch, instead of
    moving to the file the path names now, would overlap the new file's holders in the log."""

    def __init__(self, work):
        self.work = work
        for d in ("v1", "v2"):
            os.mkdir(os.path.join(work, d))
            open(os.path.join(work, d, "lock"), "w").close()
        os.symlink("v1", os.path.join(work, "current"))
        self.current = "v1"
        self.lock_path = os.path.join(work, "current", "lock")
        self.count = 0

    def switch(self):
        import fcntl

        def give_up(signum, frame):
            raise TimeoutError

        new = "v2" if self.current == "v1" else "v1"
        fd = os.open(os.path.join(self.work, self.current, "lock"), os.O_RDONLY)
        old_handler = signal.signal(signal.SIGALRM, give_up)
        try:
            signal.setitimer(signal.ITIMER_REAL, 5.0)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)  # queued with the workers
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            tmp = os.path.join(self.work, "current.new")
            os.symlink(new, tmp)
            os.rename(tmp, os.path.join(self.work, "current"))
            self.current = new
            self.count += 1
        except TimeoutError:
            pass  # a frozen holder: switch next time
        finally:
            signal.signal(signal.SIGALRM, old_handler)
            os.close(fd)  # unlocks


def kill_sleepers(path):
    """Kill the children that --fork-workers forked; returns how many there were."""
    with open(path) as f:
        pids = [int(p) for p in f.read().split()]
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return len(pids)


def last_holder(log):
    """The pid in the log's last record if that record opened a section (the likely holder)."""
    with open(log, "rb") as f:
        f.seek(max(0, os.path.getsize(log) - 200))
        tail = f.read().splitlines()
    if len(tail) >= 2 and tail[-1][:1] in (b"E", b"S"):
        return int(tail[-1].split()[1])
    return None


def run_round(args, config, langs, rnd, chaos):
    """One run with fresh workers and a fresh log; returns a dict of figures."""
    work = tempfile.mkdtemp(prefix="locket-stress-")
    lock, log, counter, stop = (os.path.join(work, n) for n in ("lock", "log", "counter", "stop"))
    sleepers = os.path.join(work, "sleepers")
    open(sleepers, "w").close()
    switcher = PathSwitcher(work) if chaos and args.path_switch else None
    if switcher:
        lock = switcher.lock_path
    with open(counter, "w") as f:
        f.write("%020d\n" % 0)
    open(log, "w").close()
    iters = 10 ** 9 if chaos else args.iters

    def stress_cmd(lang):
        threads = 1 if lang.startswith("lua") else args.threads
        # --broken-lock: every worker its own lock file, so the checker must see overlaps.
        path = f"{lock}.{rnd.randrange(10**9)}" if args.broken_lock else lock
        return f"stress {path} {log} {counter} {stop} {threads} {iters} {args.read_pct} {args.hold_ms if chaos else 0}"

    # All interpreters are up (hello answered) before any worker starts, so that they contend.
    # With --fork-workers the first Python worker forks a sleeping child while it holds the lock.
    forker = next((i for i, lang in enumerate(langs) if lang == "python"), None) if args.fork_workers else None
    workers = [Worker(lang, config, work, sleepers if i == forker else None) for i, lang in enumerate(langs)]
    kills, errors = 0, []
    t0 = time.monotonic()
    try:
        for w in workers:
            w.start(stress_cmd(w.lang))
        deadline = time.monotonic() + chaos
        while chaos and time.monotonic() < deadline:
            # The chaos schedule, not synchronisation: random gaps between kills.
            time.sleep(rnd.uniform(0.02, 0.2))
            # Half the kills aim at the process that last entered the section (often still inside).
            target = last_holder(log) if rnd.random() < 0.5 else None
            i = next((k for k, w in enumerate(workers) if w.pid == target), rnd.randrange(len(workers)))
            victim = workers[i]
            try:
                os.kill(victim.pid, signal.SIGSTOP)
                os.waitpid(victim.pid, os.WUNTRACED)  # frozen: logs nothing more, holds what it holds
            except (ProcessLookupError, ChildProcessError):
                errors.append(f"{victim.lang} worker {victim.pid} died on its own")
                continue
            with open(log, "a") as f:
                f.write(f"K {victim.pid}\n")
            victim.actor.kill()  # SIGKILL
            kills += 1
            workers[i] = Worker(victim.lang, config, work, victim.fork_log)
            workers[i].start(stress_cmd(victim.lang))
            if switcher and rnd.random() < 0.5:
                switcher.switch()
        if chaos:
            open(stop, "w").close()
        finish = time.monotonic() + FINISH_TIMEOUT
        for w in workers:
            ans = w.actor.read(max(0.0, finish - time.monotonic()))
            if ans is None:
                errors.append(f"{w.lang} worker {w.pid} did not finish within {FINISH_TIMEOUT:.0f} s (deadlock?)")
            elif not ans.startswith("ok "):
                errors.append(f"{w.lang} worker {w.pid} failed: {ans}")
    except Failure as e:
        errors.append(str(e))
    finally:
        for w in workers:
            if w.actor.pending is not None and not w.actor.dead:
                w.actor.kill()
            elif not w.actor.dead:
                status = w.actor.stop()
                if status != 0:
                    errors.append(f"{w.lang} worker {w.pid} exited with status {status}")
    forked = kill_sleepers(sleepers)
    elapsed = time.monotonic() - t0
    with open(counter) as f:
        final = int(f.read(20))
    violations, acquisitions, killed_holding, switches, msgs = check_log(log, final)
    for m in msgs:
        print("VIOLATION:", m)
    for e in errors:
        print("ERROR:", e)
    if violations or errors:
        print(f"log kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return {"acquisitions": acquisitions, "switches": switches, "kills": kills, "forked": forked,
            "path_switches": switcher.count if switcher else 0,
            "killed_holding": killed_holding, "violations": violations, "errors": len(errors),
            "seconds": elapsed}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", required=True)
    ap.add_argument("--langs", required=True, help="one language per worker process, comma-separated")
    ap.add_argument("--threads", type=int, default=3, help="threads per worker (Lua workers: 1)")
    ap.add_argument("--iters", type=int, default=300, help="sections per thread (without --chaos)")
    ap.add_argument("--read-pct", type=int, default=30, help="percentage of shared (reader) sections")
    ap.add_argument("--chaos", type=float, default=0, help="seconds of kill -9 chaos (0: plain stress)")
    ap.add_argument("--round", type=float, default=20,
                    help="chaos in rounds of this many seconds, each with fresh workers and log")
    ap.add_argument("--hold-ms", type=int, default=2, help="with --chaos: every 32nd section holds this long")
    ap.add_argument("--path-switch", action="store_true",
                    help="with --chaos: workers lock current/lock, and current is switched between two directories")
    ap.add_argument("--fork-workers", action="store_true",
                    help="the first Python worker forks a sleeping child while holding (every 16th section)")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--broken-lock", action="store_true",
                    help="self-test of the checker: give each worker its own lock; violations expected")
    args = ap.parse_args()
    with open(args.config) as f:
        config = json.load(f)
    seed = args.seed if args.seed is not None else int(time.time())
    rnd = random.Random(seed)
    langs = [lang for lang in args.langs.split(",") if lang in config]
    missing = [lang for lang in args.langs.split(",") if lang not in config]
    if missing:
        print(f"note: not built, left out: {', '.join(missing)}")
    print(f"workers: {', '.join(langs)} ({args.threads} threads each, Lua 1); "
          f"{'chaos %.0f s' % args.chaos if args.chaos else '%d sections per thread' % args.iters}; "
          f"shared {args.read_pct}%; seed {seed}")
    sys.stdout.flush()
    total = {}
    left = args.chaos
    while True:
        r = run_round(args, config, langs, rnd, min(left, args.round))
        for k, v in r.items():
            total[k] = total.get(k, 0) + v
        left -= args.round
        if args.chaos:
            print(f"  round: acquisitions={r['acquisitions']} kills={r['kills']} violations={r['violations']}")
            sys.stdout.flush()
        if left <= 0 or r["violations"] or r["errors"]:
            break
    print(f"acquisitions={total['acquisitions']} (holder changed process {total['switches']} times) "
          f"kills={total['kills']} killed_while_holding={total['killed_holding']} "
          f"violations={total['violations']} errors={total['errors']} seconds={total['seconds']:.1f}"
          + (f" path_switches={total['path_switches']}" if args.path_switch else "")
          + (f" forked_while_holding={total['forked']}" if args.fork_workers else ""))
    return 1 if total["violations"] or total["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
