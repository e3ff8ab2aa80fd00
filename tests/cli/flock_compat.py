#!/usr/bin/env python3
"""util-linux flock(1) and locket side by side.

usage: flock_compat.py LOCKET [FLOCK]

Every case of the battery runs once with flock(1) and once with locket, with the same arguments in
a fresh directory, and must give the same exit status as the shell reports it ($?: 128+N for a
process killed by signal N). Some cases also compare what is printed, with the program's name
replaced. Then locket's own extras and its deliberate differences (docs/cli.md) are checked.
Prints one TAP line per check; exits 1 if any failed, 77 (skip) without flock(1).
"""
import fcntl
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

LOCKET = os.path.abspath(sys.argv[1])
FLOCK = sys.argv[2] if len(sys.argv) > 2 else shutil.which("flock")
SOURCE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENV = dict(os.environ, SHELL="/bin/sh", LC_ALL="C")
TIMEOUT = 60
results = []


def check(ok, name, detail=""):
    results.append(ok)
    print(f"{'ok' if ok else 'not ok'} {len(results)} - {name}" + (f" # {detail}" if detail else ""))
    sys.stdout.flush()


def status(rc):
    return rc if rc >= 0 else 128 - rc


class Held:
    """The lock on path held by this process (its own open file description)."""

    def __init__(self, path, shared=False):
        self.fd = os.open(path, os.O_RDONLY)
        fcntl.flock(self.fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)

    def close(self):
        os.close(self.fd)


def run(prog, argv, d, script=False):
    """Run prog with argv (or sh -c script with $X = prog) in d; returns (status, out, err)."""
    argv = [a.format(D=d, F=os.path.join(d, "f")) for a in argv]
    cmd = ["/bin/sh", "-c", argv[0]] if script else [prog] + argv
    env = dict(ENV, X=prog, D=d, F=os.path.join(d, "f"))
    p = subprocess.run(cmd, cwd=d, env=env, capture_output=True, timeout=TIMEOUT)
    return status(p.returncode), p.stdout.decode(), p.stderr.decode()


def normalise(text, prog):
    name = os.path.basename(prog)
    text = text.replace(prog, "PROG")
    text = re.sub(rf"\b{name}\b", "PROG", text)
    return re.sub(r"[0-9]+\.[0-9]+ seconds", "N seconds", text)


def fresh_dir(base, tag):
    d = tempfile.mkdtemp(prefix=tag, dir=base)
    os.mkdir(os.path.join(d, "dir"))
    for name in ("notexec", "f"):
        with open(os.path.join(d, name), "w") as f:
            f.write("#!/bin/sh\n")
    return d


# (name, argv or script, setup, compare): setup "held"/"shared"/"dirheld" holds the lock while it
# runs; compare "out" / "err" / "both" also compares stdout / the first line of stderr (normalised).
CASES = [
    # the simple form and exit statuses
    ("command runs", ["{F}", "true"], None, None),
    ("exit status passes through", ["{F}", "sh", "-c", "exit 3"], None, None),
    ("command killed by SIGTERM: 143", ["{F}", "sh", "-c", "kill -TERM $$"], None, None),
    ("command killed by SIGINT: 130", ["{F}", "sh", "-c", "kill -INT $$"], None, None),
    ("FILE -c CMD", ["{F}", "-c", "exit 4"], None, None),
    ("FILE --command CMD", ["{F}", "--command", "echo $0; exit 5"], None, "out"),
    ("-c CMD runs $SHELL", ["{F}", "-c", "nosuchcmd-x 2>/dev/null"], None, None),
    ("the lock is held while the command runs", ['"$X" "$F" "$X" -n "$F" true'], None, None),
    # conflicts
    ("-n held: 1", ["-n", "{F}", "true"], "held", None),
    ("--nonblock held", ["--nonblock", "{F}", "true"], "held", None),
    ("--nb held", ["--nb", "{F}", "true"], "held", None),
    ("-n -E 9 held: 9", ["-n", "-E", "9", "{F}", "true"], "held", None),
    ("-w 0 held", ["-w", "0", "{F}", "true"], "held", None),
    ("-n wins over a later -w", ['s=$(date +%s); "$X" -n -w 20 "$F" true; r=$?; [ $(($(date +%s) - s)) -lt 10 ] || exit 99; exit $r'],
     "held", None),
    ("-w 0.2 held", ["-w", "0.2", "{F}", "true"], "held", None),
    ("--timeout=0.2 held", ["--timeout=0.2", "{F}", "true"], "held", None),
    ("--wait 0.2 -E 3 held", ["--wait", "0.2", "-E", "3", "{F}", "true"], "held", None),
    ("-s -n shared-held: 0", ["-s", "-n", "{F}", "true"], "shared", None),
    ("-x -n shared-held: 1", ["-x", "-n", "{F}", "true"], "shared", None),
    ("-s -x: the last wins", ["-s", "-x", "-n", "{F}", "true"], "shared", None),
    ("-e is -x", ["-e", "-n", "{F}", "true"], "shared", None),
    # directories
    ("a directory as the lock file", ["{D}/dir", "true"], None, None),
    ("a held directory", ["-n", "{D}/dir", "true"], "dirheld", None),
    ("a directory is locked for others", ['"$X" "$D/dir" flock -n "$D/dir" true'], None, None),
    ("missing directory: 66", ["{D}/no/such/f", "true"], None, None),
    # commands that cannot be run
    ("command not found: 69", ["{F}", "no-such-command-x"], None, None),
    ("command not executable: 69", ["{F}", "{D}/notexec"], None, None),
    ("command is a directory: 69", ["{F}", "{D}/dir"], None, None),
    ("-F command not found: 69", ["-F", "{F}", "no-such-command-x"], None, None),
    # -F and -o
    ("-F runs the command", ["-F", "{F}", "sh", "-c", "exit 6"], None, None),
    ("-F: the command holds the lock", ['"$X" -F "$F" "$X" -n "$F" true'], None, None),
    ("-F: killed by a signal", ["-F", "{F}", "sh", "-c", "kill -TERM $$"], None, None),
    ("-o: the command still runs under the lock", ['"$X" -o "$F" "$X" -n "$F" true'], None, None),
    ("-o: a background job does not keep the lock",
     ['"$X" -o "$F" sh -c \'sleep 30 >/dev/null 2>&1 & echo $! > "$D/bg"\'; '
      'r=$("$X" -n "$F" true; echo $?); kill $(cat "$D/bg"); exit $r'], None, None),
    ("without -o: a background job keeps the lock",
     ['"$X" "$F" sh -c \'sleep 30 >/dev/null 2>&1 & echo $! > "$D/bg"\'; '
      'r=$("$X" -n "$F" true; echo $?); kill $(cat "$D/bg"); exit $r'], None, None),
    ("-F -o: 64", ["-F", "-o", "{F}", "true"], None, "err"),
    # -u
    ("-u FILE COMMAND", ["-u", "{F}", "true"], None, None),
    ("-u on a descriptor", ['exec 9>"$F"; "$X" 9 && "$X" -u 9 && "$X" -n "$F" true'], None, None),
    # descriptors
    ("( locket -n 9 ... ) 9>FILE",
     ['( "$X" -n 9 || exit 1; "$X" -n "$F" true; echo "inner $?" ) 9>"$F"'], None, "out"),
    ("exec 9>FILE; locket 9", ['exec 9>"$F"; "$X" 9; flock -n "$F" true'], None, None),
    ("the lock outlives the program, with the shell's descriptor",
     ['exec 9>"$F"; "$X" -n 9; "$X" -n 9 && "$X" -n 8 8>"$F"'], None, None),
    ("descriptor held elsewhere", ['"$X" -n 9 9>"$F"'], "held", None),
    ("descriptor, -w 0.2", ['"$X" -w 0.2 9 9>"$F"'], "held", None),
    ("descriptor, -E 5", ['"$X" -n -E 5 9 9>"$F"'], "held", None),
    ("descriptor, -s shared-held", ['"$X" -s -n 9 9<"$F"'], "shared", None),
    ("descriptor read-only, exclusive", ['"$X" -n 9 9<"$F"'], None, None),
    ("descriptor of a directory", ['"$X" -n 9 9<"$D/dir" && flock -n "$D/dir" true'], None, None),
    ("descriptor not open: 65", ['"$X" 9 9>&-'], None, None),
    ("-u on a descriptor not open: 65", ['"$X" -u 9 9>&-'], None, None),
    # usage errors
    ("no arguments", [], None, "err"),
    ("FILE without COMMAND", ["{F}"], None, None),
    ("not a descriptor number", ["abc"], None, None),
    ("invalid option", ["-q", "{F}", "true"], None, "err"),
    ("unknown long option", ["--no-such-option", "{F}", "true"], None, "err"),
    ("-w without its argument", ["-w"], None, "err"),
    ("--timeout without its argument", ["--timeout"], None, "err"),
    ("-w abc", ["-w", "abc", "{F}", "true"], None, None),
    ("-E 300", ["-E", "300", "{F}", "true"], None, None),
    ("-E abc", ["-E", "abc", "{F}", "true"], None, None),
    ("FILE -c without CMD", ["{F}", "-c"], None, "err"),
    ("FILE -c CMD ARG", ["{F}", "-c", "true", "extra"], None, "err"),
    ("FILE --command without CMD", ["{F}", "--command"], None, "err"),
    ("-c as an option is not flock's, but fails alike", ["-c"], None, None),
    # verbose
    ("--verbose", ["--verbose", "{F}", "true"], None, "out"),
    ("--verbose -n held", ["--verbose", "-n", "{F}", "true"], "held", None),
    ("--verbose on a descriptor", ['"$X" --verbose 9 9>"$F"'], None, "out"),
    ("-c without SHELL runs /bin/sh", ['env -u SHELL "$X" "$F" -c \'echo $0\''], None, "out"),
    ("-c with SHELL=/bin/false", ['SHELL=/bin/false "$X" "$F" -c \'exit 0\''], None, None),
    ("--help", ["--help"], None, None),
    ("--version", ["--version"], None, None),
]


def battery(base):
    for name, argv, setup, compare in CASES:
        got = {}
        for prog in (FLOCK, LOCKET):
            d = fresh_dir(base, "b")
            held = None
            if setup in ("held", "shared"):
                held = Held(os.path.join(d, "f"), shared=setup == "shared")
            elif setup == "dirheld":
                held = Held(os.path.join(d, "dir"))
            try:
                got[prog] = run(prog, argv, d, script=len(argv) == 1 and " " in argv[0])
            finally:
                if held:
                    held.close()
        (fs, fo, fe), (ls, lo, le) = got[FLOCK], got[LOCKET]
        ok = fs == ls
        detail = f"flock {fs}, locket {ls}"
        if compare in ("out", "both"):
            ok = ok and normalise(fo, FLOCK) == normalise(lo, LOCKET)
        if compare in ("err", "both"):  # the message; locket always adds its "Try" line
            ok = ok and normalise(fe, FLOCK).split("\n")[0] == normalise(le, LOCKET).split("\n")[0]
        if not ok:
            detail += f"; flock said {fo!r} {fe!r}, locket said {lo!r} {le!r}"
        # Whatever locket says on stderr, each line names it.
        bad = [l for l in le.splitlines() if not (l.startswith("locket: ") or l.startswith("Try 'locket --help'"))]
        if bad:
            ok = False
            detail += f"; stderr lines not starting with 'locket:': {bad!r}"
        check(ok, f"same as flock(1): {name}", detail)


def start(prog, d, script, extra=()):
    return subprocess.Popen([prog, *extra, os.path.join(d, "f"), "sh", "-c", script], cwd=d, env=ENV,
                            stdout=subprocess.PIPE)


def try_lock(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def wait_gone(pid, seconds=10):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] in "ZX":
                    return True
        except OSError:  # gone
            return True
        time.sleep(0.01)
    return False


def signals(base):
    # A signal sent to the program while the command runs: same status. locket passes it on (the
    # command ends and the lock goes); flock(1) dies and leaves the command with the lock.
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        got = {}
        for prog in (FLOCK, LOCKET):
            d = fresh_dir(base, "s")
            p = start(prog, d, "echo $$; exec sleep 30")
            cmd = int(p.stdout.readline())
            p.send_signal(sig)
            got[prog] = status(p.wait(timeout=TIMEOUT))
            command_ended = wait_gone(cmd, 5 if prog == LOCKET else 0.2)
            got[prog, "free"] = command_ended and try_lock(os.path.join(d, "f"))
            if not command_ended:
                os.kill(cmd, signal.SIGKILL)
            p.stdout.close()
        check(got[FLOCK] == got[LOCKET] == 128 + sig,
              f"same as flock(1): {sig.name} to the program while the command runs",
              f"flock {got[FLOCK]}, locket {got[LOCKET]}")
        check(got[LOCKET, "free"] and not got[FLOCK, "free"],
              f"difference: locket passes {sig.name} on to the command, flock(1) leaves it running")

    # Killed while the command runs a background job: nobody else gets in while the job runs.
    for sig in (signal.SIGKILL, signal.SIGTERM):
        got = {}
        for prog in (FLOCK, LOCKET):
            d = fresh_dir(base, "k")
            p = start(prog, d, "sleep 30 >/dev/null & echo $!; wait")
            job = int(p.stdout.readline())
            p.send_signal(sig)
            got[prog] = status(p.wait(timeout=TIMEOUT))
            got[prog, "cli"] = run(prog, ["-n", "{F}", "true"], d)[0]
            got[prog, "held"] = not try_lock(os.path.join(d, "f"))
            os.kill(job, signal.SIGKILL)
            got[prog, "after"] = wait_gone(job) and run(prog, ["-w", "10", "{F}", "true"], d)[0]
            p.stdout.close()
        check(got[FLOCK] == got[LOCKET] == 128 + sig and got[FLOCK, "cli"] == got[LOCKET, "cli"] == 1
              and got[FLOCK, "held"] and got[LOCKET, "held"] and got[FLOCK, "after"] == got[LOCKET, "after"] == 0,
              f"same as flock(1): {sig.name} to the program; its command's background job keeps the lock",
              repr(got))

    # -o and SIGKILL: flock(1) leaves the command running without the lock; locket kills it.
    got = {}
    for prog in (FLOCK, LOCKET):
        d = fresh_dir(base, "o")
        p = start(prog, d, "echo $$; exec sleep 30", extra=("-o",))
        cmd = int(p.stdout.readline())
        p.kill()
        p.wait(timeout=TIMEOUT)
        got[prog] = wait_gone(cmd, 5 if prog == LOCKET else 0.2)
        if not got[prog]:
            os.kill(cmd, signal.SIGKILL)
        p.stdout.close()
    check(got[LOCKET] and not got[FLOCK], "difference: -o, program killed: locket's command dies with it")


def extras(base):
    d = fresh_dir(base, "e")
    f = os.path.join(d, "f")
    check(run(LOCKET, ["-v", "{F}", "true"], d)[1].startswith("locket: getting lock took"), "extra: -v is --verbose")
    check(run(LOCKET, ["-c", "exit 7", "{F}"], d)[0] == 7, "extra: -c CMD before FILE")
    check(run(LOCKET, ["-c", "true", "{F}", "more"], d)[0] == 64, "extra: -c CMD FILE takes nothing more")
    check(run(FLOCK, ["-w", "-1", "{F}", "true"], d)[0] == 71 and run(LOCKET, ["-w", "-1", "{F}", "true"], d)[0] == 64,
          "difference: -w -1 is a usage error (flock(1): 71)")
    check(run(LOCKET, ["-w", "nan", "{F}", "true"], d)[0] == 64, "difference: -w nan is a usage error")
    holder = subprocess.Popen([FLOCK, f, "sh", "-c", "echo ready; exec sleep 30"], stdout=subprocess.PIPE,
                              start_new_session=True)
    holder.stdout.readline()
    st, out, err = run(LOCKET, ["--verbose", "-w", "0.1", "{F}", "true"], d)
    # The portable engine cannot name a flock() holder on Linux (F_GETLK does not see flock locks).
    named = f"waiting for {f}\n" if os.environ.get("LOCKET_ENGINE") == "portable" else f"waiting for {f}, held by pid {holder.pid}"
    check(st == 1 and named in out
          and err.startswith("locket: timeout while waiting to get lock"),
          "extra: --verbose names the holder on stdout, the timeout on stderr", repr((st, out, err)))
    os.killpg(holder.pid, signal.SIGKILL)  # flock(1) and its command, which holds the lock too
    holder.wait()
    holder.stdout.close()
    st, out, _ = run(LOCKET, ['"$X" --verbose "$F" echo hi | cat'], d, script=True)
    check(out.splitlines()[-1] == "hi", "difference: verbose lines come before the command's output", repr(out))
    check(run(LOCKET, ["--version"], d)[1].startswith("locket "), "extra: --version names locket")

    # One text: every long option of --help is in the man page and in docs/cli.md.
    helptext = run(LOCKET, ["--help"], d)[1]
    longs = sorted(set(re.findall(r"--[a-z][a-z-]+", helptext)))
    man = os.environ.get("LOCKET_MAN")
    sources = {"docs/cli.md": open(os.path.join(SOURCE, "docs", "cli.md")).read()}
    if man:
        sources["locket.1"] = open(man).read().replace("\\-", "-")
    for what, text in sources.items():
        missing = [o for o in longs if o not in text]
        check(longs and not missing, f"{what} has every option of --help", f"missing {missing}")
    codes = re.findall(r"^ (\d+) ", helptext.split("Exit status:")[1], re.M)
    missing = [c for c in codes if f"| {c} " not in sources["docs/cli.md"]]
    check(codes and not missing, "docs/cli.md has every exit status of --help", f"missing {missing}")


def doc_blocks(base):
    """The sh blocks of docs/cli.md and of the README's "Command line" section run, with sh -eu."""
    bindir = os.path.join(base, "bin")
    os.makedirs(bindir, exist_ok=True)
    os.symlink(LOCKET, os.path.join(bindir, "locket"))
    readme = open(os.path.join(SOURCE, "README.md")).read()
    readme = readme.split("## Command line", 1)[1].split("\n## ", 1)[0]
    for doc, text in (("docs/cli.md", open(os.path.join(SOURCE, "docs", "cli.md")).read()), ("README.md", readme)):
        blocks = re.findall(r"^```sh\n(.*?)^```", text, re.M | re.S)
        for i, block in enumerate(blocks):
            d = fresh_dir(base, "doc")
            env = dict(ENV, PATH=bindir + os.pathsep + ENV["PATH"], TMPDIR=d)
            p = subprocess.run(["/bin/sh", "-eu", "-c", block], cwd=d, env=env, capture_output=True, timeout=TIMEOUT)
            check(p.returncode == 0, f"{doc}: sh block {i + 1} runs", repr((p.returncode, p.stdout, p.stderr)))
        check(len(blocks) > 0, f"{doc} has sh blocks to run")


def main():
    if not FLOCK or not os.access(FLOCK, os.X_OK):
        print("1..0 # SKIP flock(1) not found")
        return 77
    with tempfile.TemporaryDirectory(prefix="flock-compat-") as base:
        battery(base)
        signals(base)
        extras(base)
        doc_blocks(base)
    print(f"1..{len(results)}")
    print(f"# {sum(results)}/{len(results)} passed; battery of {len(CASES)} side-by-side invocations")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
