#!/usr/bin/env python3
"""Run conformance scenarios (tests/conformance/cases/*.case) with one driver process per actor.

    runner.py --config drivers.json --langs c,python [--case NAME]...

runs every scenario that has exactly as many language actors as --langs names, giving actor i the
i-th language. The scenario format and the driver protocol are in docs/conformance.md.
Standard library only.
"""
import argparse
import itertools
import json
import os
import re
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = os.path.join(HERE, "cases")
ANSWER_TIMEOUT = 20.0  # seconds; any longer and the step counts as hung
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
def _error_names():
    """The error names from the one table of them, include/locket_errors.h (LOCKET_ERROR_MAP)."""
    header = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "include", "locket_errors.h")
    with open(header) as f:
        names = re.findall(r'XX\(\w+, -?\d+, "(\w+)"', f.read())
    if not names:
        raise SystemExit(f"{header}: no XX(...) entries in LOCKET_ERROR_MAP")
    return names


ERROR_NAMES = _error_names()


# Actor kinds played by a tool, not by a binding: flock(1) and the locket CLI through
# drivers/flock_driver.py, POSIX record locks (fcntl.lockf) through drivers/lockf_driver.py.
TOOL_ACTORS = ("flock", "cli", "lockf")


class Failure(Exception):
    pass


class Skip(Exception):
    """A skip the scenario declares (a "skip" line); any other reason not to run is a Failure."""


NOT_BUILT = "not_built"  # "skip F not_built: reason": tool actor F may be missing from the build
# The C library's POSIX wait engine under test (CTest passes CMake's LOCKET_ENGINE). A scenario may
# declare what one engine cannot do: "skip * engine=portable: reason" skips it whole, and
# "skip_step engine=portable holder: reason" skips its steps of that command (logged, with the reason).
ENGINE = os.environ.get("LOCKET_ENGINE", "linux")


# ---------------------------------------------------------------- scenarios

class Scenario:
    def __init__(self, path):
        self.path = path
        self.name = os.path.splitext(os.path.basename(path))[0]
        self.actors = []      # (name, kind) with kind "lang", "nobody", "flock" or "cli"
        self.skips = []       # (actor, language prefix, reason)
        self.unbuilt_ok = {}  # tool actor -> why the scenario may skip when that tool is not built
        self.engine_skips = {}  # engine -> why the whole scenario skips on it
        self.step_skips = {}    # (engine, command) -> why those steps skip on it
        self.covers = []
        self.setup = []
        self.steps = []       # (line number, tokens)
        with open(path, encoding="utf-8") as f:
            for no, raw in enumerate(f, 1):
                line = raw.split("#", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
                if not line:
                    continue
                words = line.split()
                if words[0] == "actors":
                    for w in words[1:]:
                        name, _, kind = w.partition(":")
                        self.actors.append((name, kind or "lang"))
                elif words[0] == "skip":
                    m = re.match(r"skip\s+(\S+)\s+(\S+)\s*:\s*(.+)$", line)
                    if not m:
                        raise ValueError(f"{path}:{no}: skip <actor|*> <language prefix|not_built>: <reason>")
                    if m.group(2) == NOT_BUILT:
                        self.unbuilt_ok[m.group(1)] = m.group(3)
                    elif m.group(2).startswith("engine="):
                        self.engine_skips[m.group(2)[len("engine="):]] = m.group(3)
                    else:
                        self.skips.append(m.groups())
                elif words[0] == "skip_step":
                    m = re.match(r"skip_step\s+engine=(\S+)\s+(\S+)\s*:\s*(.+)$", line)
                    if not m:
                        raise ValueError(f"{path}:{no}: skip_step engine=<engine> <command>: <reason>")
                    self.step_skips[(m.group(1), m.group(2))] = m.group(3)
                elif words[0] == "covers":
                    self.covers += words[1:]
                elif words[0] == "setup":
                    self.setup.append((no, words[1:]))
                else:
                    self.steps.append((no, line))
        if not self.actors:
            raise ValueError(f"{path}: no actors line")

    @property
    def lang_actors(self):
        return [a for a, kind in self.actors if kind not in TOOL_ACTORS]

    def has(self, regex):
        """Does a step line match regex?"""
        return any(re.search(regex, line) for _, line in self.steps)

    def expected_names(self):
        """Every error name this scenario expects somewhere (for the coverage check)."""
        names = set()
        for _, line in self.steps:
            if "->" in line:
                names.add(line.split("->", 1)[1].split()[0])
        return names


def load_scenarios(names=None):
    out = []
    for fn in sorted(os.listdir(CASES)):
        if fn.endswith(".case"):
            sc = Scenario(os.path.join(CASES, fn))
            if not names or sc.name in names:
                out.append(sc)
    return out


# ---------------------------------------------------------------- actors

class Actor:
    """One driver process. Answers are lines "<result> <elapsed_ms> [value]"."""

    def __init__(self, name, lang, argv, env, cwd):
        self.name, self.lang = name, lang
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=None,
                                     env=env, cwd=cwd, start_new_session=True)
        self.buf = b""
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.proc.stdout, selectors.EVENT_READ)
        self.pending = None  # the command whose answer is still to be read
        self.dead = False

    def send(self, cmd):
        if self.pending is not None:
            raise Failure(f"{self.name}: '{cmd}' sent while '{self.pending}' is unanswered")
        try:
            self.proc.stdin.write((cmd + "\n").encode())
            self.proc.stdin.flush()
        except BrokenPipeError:
            raise Failure(f"{self.name} ({self.lang}) died before '{cmd}'")
        self.pending = cmd

    def read(self, timeout):
        """The next answer line, or None if none arrives within timeout seconds."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            if not self.sel.select(max(0.0, deadline - time.monotonic())):  # timeout 0: a poll
                return None
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                raise Failure(f"{self.name} ({self.lang}) exited (status {self.proc.wait()}) "
                              f"while answering '{self.pending}'")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        self.pending = None
        return line.decode(errors="replace")

    def call(self, cmd):
        self.send(cmd)
        ans = self.read(ANSWER_TIMEOUT)
        if ans is None:
            raise Failure(f"{self.name} ({self.lang}): no answer to '{cmd}' within {ANSWER_TIMEOUT:.0f} s (hang)")
        return ans

    def kill(self, sig=signal.SIGKILL, group=True):
        """SIGKILL the driver (and its children unless group is false), or send it sig."""
        try:
            if sig == signal.SIGKILL and group:
                os.killpg(self.proc.pid, sig)
            else:
                self.proc.send_signal(sig)
        except ProcessLookupError:
            pass
        if sig == signal.SIGKILL:
            self.proc.wait()
            self.dead = True

    def stop(self):
        """Ask the driver to exit; returns its exit status (None if it had to be killed)."""
        if self.dead:
            return None
        status = None
        try:
            if self.pending is None:
                self.proc.stdin.write(b"exit\n")
                self.proc.stdin.flush()
            self.proc.stdin.close()
            status = self.proc.wait(timeout=10)
        except (BrokenPipeError, subprocess.TimeoutExpired, OSError):
            self.kill()
        self.dead = True
        return status


# System calls in which a thread sleeps while it waits for a lock (a blocked flock(), the poll of a
# timed wait, a futex of the in-process hand-over), by machine. Not read(): that is how a driver
# waits for its next command.
WAIT_SYSCALLS = {
    "x86_64": {73: "flock", 72: "fcntl", 202: "futex", 271: "ppoll", 7: "poll", 23: "select", 270: "pselect6",
               232: "epoll_wait", 281: "epoll_pwait", 441: "epoll_pwait2", 449: "futex_waitv"},
    "aarch64": {32: "flock", 25: "fcntl", 98: "futex", 73: "ppoll", 72: "pselect6", 22: "epoll_pwait",
                441: "epoll_pwait2", 449: "futex_waitv"},
}


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def session_pids(sid):
    """The processes of session sid (an actor and whatever it started: flock(1), the CLI)."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _read(f"/proc/{entry}/stat")
            if stat:
                fields = stat.rsplit(")", 1)[1].split()
                if int(fields[3]) == sid:  # fields: state ppid pgrp session
                    out.append(int(entry))
    return out


# Under Wine a waiting Windows thread sleeps in read() on its wineserver wait pipe (not stdin).
READ_SYSCALL = {"x86_64": 0, "aarch64": 63}


def waiting_evidence(pids, wine=False):
    """What /proc shows of a lock wait in these processes, or None."""
    calls = dict(WAIT_SYSCALLS.get(os.uname().machine, {}))
    read_nr = READ_SYSCALL.get(os.uname().machine)
    locks = _read("/proc/locks") or ""
    for line in locks.splitlines():
        parts = line.split()
        if len(parts) > 5 and parts[1] == "->" and parts[5].isdigit() and int(parts[5]) in pids:
            return f"blocked request in /proc/locks: {line.strip()}"
    for pid in pids:
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            stat = _read(f"/proc/{pid}/task/{tid}/stat")
            if not stat or stat.rsplit(")", 1)[1].split()[0] != "S":
                continue
            sc = (_read(f"/proc/{pid}/task/{tid}/syscall") or "").split()
            if sc and sc[0].isdigit() and int(sc[0]) in calls:
                return f"pid {pid} thread {tid} sleeps in {calls[int(sc[0])]}()"
            if wine and sc and sc[0].isdigit() and int(sc[0]) == read_nr and int(sc[1], 16) != 0:
                return f"pid {pid} thread {tid} sleeps in read() of fd {int(sc[1], 16)} (Wine's wait)"
    return None


def wait_until_waiting(actor):
    """Return once the kernel shows the actor inside its wait; fail if it answers first."""
    deadline = time.monotonic() + ANSWER_TIMEOUT
    while True:
        early = actor.read(0)
        if early is not None:
            raise Failure(f"answered '{early}'; expected it to still wait")
        evidence = waiting_evidence(session_pids(actor.proc.pid), wine=actor.lang.endswith("wine"))
        if evidence:
            return evidence
        if time.monotonic() > deadline:
            raise Failure(f"not seen waiting in the kernel within {ANSWER_TIMEOUT:.0f} s")
        time.sleep(0.002)  # polling the kernel's view of the actor, not the lock


class Pool:
    """Driver processes kept across scenarios: one per (slot, language, privilege)."""

    def __init__(self, config, workdir):
        self.config, self.workdir = config, workdir
        self.procs = {}

    def get(self, key, name, lang, nobody):
        a = self.procs.get(key)
        if a is None or a.dead:
            entry = self.config[lang]
            argv = list(entry["cmd"])
            if nobody:
                if "nobody_cmd" in entry:
                    argv = list(entry["nobody_cmd"])
                if os.geteuid() == 0:
                    if not nobody_possible():
                        raise Failure("cannot drop privileges here (setpriv to uid 65534 failed)")
                    argv = NOBODY + argv
                # Not root: the actor already runs unprivileged.
            env = dict(os.environ)
            env.update(entry.get("env", {}))
            a = Actor(name, lang, argv, env, self.workdir)
            hello = a.call("hello")
            if not hello.startswith("ok "):
                raise Failure(f"{lang} driver did not start: {hello}")
            self.procs[key] = a
        a.name = name
        return a

    def close(self):
        """Stops every driver; returns complaints about drivers that did not exit cleanly
        (a sanitizer's report, for example)."""
        bad = []
        for a in self.procs.values():
            was_dead = a.dead
            status = a.stop()
            if not was_dead and status != 0:
                bad.append(f"{a.lang} driver exited with status {status} (see its stderr above)")
        return bad


_nobody = None


def nobody_possible():
    global _nobody
    if _nobody is None:
        try:
            _nobody = subprocess.run(NOBODY + ["true"], capture_output=True).returncode == 0
        except OSError:
            _nobody = False
    return _nobody


# ---------------------------------------------------------------- running a scenario

def fs_op(words, subst):
    """setup / fs steps done by the runner itself."""
    op, args = words[0], [subst(w) for w in words[1:]]
    if op == "mkdir":
        os.makedirs(args[0], exist_ok=True)
    elif op == "touch":
        with open(args[0], "a"):
            pass
    elif op == "write":
        with open(args[0], "w") as f:
            f.write(" ".join(args[1:]))
    elif op == "symlink":
        os.symlink(args[0], args[1])
    elif op == "link":
        os.link(args[0], args[1])
    elif op == "chmod":
        os.chmod(args[1], int(args[0], 8))
    elif op == "rm":
        shutil.rmtree(args[0]) if os.path.isdir(args[0]) and not os.path.islink(args[0]) else os.unlink(args[0])
    elif op == "rename":
        os.rename(args[0], args[1])
    elif op == "expect_content":
        with open(args[0]) as f:
            got = f.read()
        if got != " ".join(args[1:]):
            raise Failure(f"{args[0]} holds {got!r}, expected {' '.join(args[1:])!r}")
    else:
        raise ValueError(f"unknown fs operation {op}")


EXPECT = re.compile(r"^(?P<cmd>.*?)\s*(?:->\s*(?P<exp>.*))?$")


def check(answer, exp, runner_ms, resolve):
    """exp: "<result> [value] [@lo..hi] [within N]"."""
    parts = answer.split(" ", 2)
    result = parts[0]
    # "-": the driver has no monotonic clock (Lua 5.4 without luaposix); use the runner's timing.
    elapsed = runner_ms if len(parts) < 2 or parts[1] == "-" else float(parts[1])
    value = parts[2] if len(parts) > 2 else ""
    words = (exp or "ok").split()
    want, words = words[0], words[1:]
    if result == "unsupported" or result == "protocol_error":
        raise Failure(f"driver cannot do this: {answer}")
    if want != "any" and result != want:
        raise Failure(f"expected {want}, got {answer}")
    i = 0
    while i < len(words):
        w = words[i]
        if w.startswith("@"):
            lo, _, hi = w[1:].partition("..")
            if (lo and elapsed < float(lo)) or (hi and elapsed > float(hi)):
                raise Failure(f"elapsed {elapsed:.1f} ms outside [{lo or 0}, {hi or 'inf'}] ms: {answer}")
        elif w == "within":
            i += 1
            if runner_ms > float(words[i]):
                raise Failure(f"answered after {runner_ms:.1f} ms, expected within {words[i]} ms: {answer}")
        elif w == "nonzero":
            if value in ("", "0"):
                raise Failure(f"expected a nonzero value: {answer}")
        else:
            want_v = resolve(w)
            if value != want_v:
                raise Failure(f"expected value {want_v}, got {answer}")
        i += 1


def run_scenario(sc, langs, pool, root, log):
    names = sc.lang_actors
    assign = dict(zip(names, langs))
    if ENGINE in sc.engine_skips:
        raise Skip(f"engine {ENGINE}: {sc.engine_skips[ENGINE]}")
    for actor, prefix, reason in sc.skips:
        targets = names if actor == "*" else [actor]
        if any(assign[t].startswith(prefix) for t in targets):
            raise Skip(reason)
    if not sc.steps:
        raise Failure(f"{sc.name}: no steps (an empty scenario proves nothing)")
    d = os.path.join(root, sc.name)
    os.mkdir(d)
    os.chmod(d, 0o777)  # actors that drop privileges work here too
    actors = {}
    for slot, (name, kind) in enumerate(sc.actors):
        if kind in TOOL_ACTORS:
            if kind not in pool.config:
                if name in sc.unbuilt_ok:
                    raise Skip(f"no '{kind}' actor built: {sc.unbuilt_ok[name]}")
                raise Failure(f"{sc.name}: no '{kind}' actor configured (not built), and the scenario "
                              f"does not declare 'skip {name} {NOT_BUILT}: <reason>'")
            actors[name] = pool.get((kind, name), name, kind, False)
        else:
            lang = assign[name]
            actors[name] = pool.get((slot, lang, kind), name, lang, kind == "nobody")
    for a in actors.values():
        a.call("reset")
    pids = {}

    def pid_of(name):
        if name not in pids or actors[name].lang in TOOL_ACTORS:
            pids[name] = actors[name].call("pid").split()[2]
        return pids[name]

    def subst(tok):
        tok = tok.replace("$D", d).replace("$R", os.path.relpath(d, root))
        return re.sub(r"\$([A-Z])\b", lambda m: pid_of(m.group(1)), tok)

    for no, words in sc.setup:
        fs_op(words, subst)
    for no, line in sc.steps:
        m = EXPECT.match(line)
        cmd, exp = m.group("cmd"), m.group("exp")
        words = cmd.split()
        who = words[0]
        where = f"{sc.name}:{no}: {line}"
        if who in actors and len(words) >= 2 and (ENGINE, words[1]) in sc.step_skips:
            log(f"    skipped step {where} (engine {ENGINE}: {sc.step_skips[(ENGINE, words[1])]})")
            continue
        try:
            if who == "fs":
                fs_op(words[1:], subst)
            elif who == "kill":
                actors[words[1]].kill(group=False)  # its children live on, as after a crash
                log(f"    killed {words[1]} ({actors[words[1]].lang})")
            elif who == "signal":
                actors[words[1]].kill(signal.SIGINT)
            elif who not in actors:
                raise ValueError(f"unknown actor {who}")
            elif len(words) >= 2 and words[1] == "pending":
                if len(words) != 2:
                    raise ValueError(f"{where}: 'pending' takes no argument")
                evidence = wait_until_waiting(actors[who])
                log(f"    {who} waits: {evidence}")
            elif len(words) == 1:  # collect the answer of an earlier "&" command
                t0 = time.monotonic()
                ans = actors[who].read(ANSWER_TIMEOUT)
                if ans is None:
                    raise Failure(f"no answer within {ANSWER_TIMEOUT:.0f} s (hang)")
                check(ans, exp, (time.monotonic() - t0) * 1000, subst)
            else:
                text = " ".join(subst(w) for w in words[1:])
                background = text.endswith("&")
                text = text.rstrip("&").strip()
                if background:
                    actors[who].send(text)
                else:
                    t0 = time.monotonic()
                    ans = actors[who].call(text)
                    check(ans, exp, (time.monotonic() - t0) * 1000, lambda t: subst(t))
        except Failure as e:
            raise Failure(f"{where}\n      {e}") from None
    # Every actor must be idle at the end, and every lock let go before the next scenario.
    for name, a in actors.items():
        if a.dead:
            try:
                os.killpg(a.proc.pid, signal.SIGKILL)  # children a killed actor left behind
            except ProcessLookupError:
                pass
        if a.pending is not None and not a.dead:
            raise Failure(f"{sc.name}: {name} still owes an answer to '{a.pending}' at the end")
        if not a.dead:
            a.call("reset")


# Every line of the contract, as "covers" tags that some scenario must carry. A scenario earns its tag
# only with the steps that prove it (a regular expression one of its step lines must match), so that
# emptying or gutting a scenario fails the completeness check.
def _tool(kind):
    return lambda sc: any(k == kind for _, k in sc.actors) and sc.has(r"^\S+ acquire ")


def _steps(*regexes):
    return lambda sc: all(sc.has(r) for r in regexes)


REQUIRED_COVERS = {
    "uncontended": _steps(r"acquire \S+ forever", r"acquire \S+ 0 shared"),
    "contended_wait": _steps(r"acquire \S+ (forever|\d+) .*&$", r" pending$", r"-> ok within"),
    "contended_timeout": _steps(r"-> timeout @\d+"),
    "timeout0": _steps(r"acquire \S+ 0( shared)? -> (ok|would_block)"),
    "release_thread": _steps(r"release_thread "),
    "release_unlocked": _steps(r"release \S+ -> not_held"),
    "reacquire_same_handle": _steps(r"acquire (\S+) 0$", r"acquire \S+ 0 -> would_block"),
    "two_handles": _steps(r"-> would_block"),
    "path_spellings": _steps(r"symlink", r"hardlink", r"\$R/", r"-> would_block"),
    "shared_exclusive": _steps(r"acquire \S+ 0 shared$", r"shared -> would_block|0 -> would_block"),
    "kill9": _steps(r"^kill [A-Z]$"),
    "holder": _steps(r"holder \S+ -> ok \$[A-Z]", r"holder \S+ -> ok 0"),
    "flock_interop": _tool("flock"),
    "cli_interop": _tool("cli"),
    "ofd_interop": _tool("lockf"),
    "ofd_ranges": _steps(r"ofd:\d+:\d+", r"-> would_block", r" pending$", r"-> ok within"),
    "bad_inputs": _steps(r'open \S+ "" -> invalid_argument', r"-> is_a_directory", r"-> not_found"),
    "nul_in_path": _steps(r"%00\S* -> invalid_argument"),
    "use_after_close": _steps(r"close ", r"-> invalid_argument"),
    "permission": _steps(r"-> permission_denied"),
    "interrupted": _steps(r"interruptible &$", r"^signal [A-Z]$", r"-> interrupted"),
    "bad_timeouts": _steps(r"acquire \S+ -\d+ -> invalid_argument", r"acquire \S+ nan -> invalid_argument"),
    "close": _steps(r"^[A-Z] close "),
    "no_truncate": _steps(r"expect_content "),
    "removed_directory": _steps(r"^fs rm ", r"-> not_found"),
    "locked": _steps(r"locked \S+ -> ok [01]"),
    "fork": _steps(r"fork_release \S+ -> not_held"),
    "exec_inherit": _steps(r"spawn_child", r"^kill [A-Z]$"),
    "unrelated_close": _steps(r"open_close "),
    "removed_file": _steps(r"^fs rm ", r"no_create"),
    "replaced_file": _steps(r"^fs rename ", r" pending$"),
    "path_switch": _steps(r"^fs symlink ", r"^fs rename ", r" pending$", r"-> ok within"),
}
SCENARIO_TABLE = os.path.join(HERE, "..", "..", "docs", "conformance.md")


def documented_scenarios():
    """The scenario names in docs/conformance.md's table "Scenarios and what they cover"."""
    with open(SCENARIO_TABLE, encoding="utf-8") as f:
        text = f.read()
    table = text.split("## Scenarios and what they cover", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([a-z0-9_]+)` \|", table, re.M))


# Error names no scenario can provoke from a driver on Linux, and why.
NOT_INJECTABLE = {
    "not_supported": "needs a filesystem without flock (NFS with ENOLCK) or Windows' holder lookup",
    "out_of_memory": "needs an allocation failure inside the library",
    "io_error": "needs the OS to fail an unlock or an open in an unexpected way",
    "scope": "needs a FUSE or other this-host mount (tests/c/test_scope.c, tests/python/test_scope.py "
    "and tests/lua/test_locket.lua mount one with bindfs); the drivers have no across_hosts option",
    "lock_lost": "the drivers have no check command yet (tests/c/test_scope.c, tests/python/test_scope.py "
    "and tests/lua/test_locket.lua cover check() after unlink, rename and a replaced directory)",
}


# Binding directories (bindings/<dir>) and the driver languages that stand for them.
BINDING_DIRS = {"swig": [], "python": ["python"], "lua": ["lua5.4", "lua5.3", "lua5.1", "luajit", "lua"]}


def check_completeness(config, langs, matrix_file):
    problems = []
    bindings = os.path.join(HERE, "..", "..", "bindings")
    for d in sorted(os.listdir(bindings)) if os.path.isdir(bindings) else []:
        if os.path.isdir(os.path.join(bindings, d)) and d not in BINDING_DIRS:
            problems.append(f"bindings/{d} has no conformance driver (add one to tests/conformance/drivers)")
    built = [lang for lang in langs.split(",") if lang]
    for lang in built:
        entry = config.get(lang)
        if entry is None:
            problems.append(f"binding '{lang}' is built but has no driver entry")
            continue
        if not os.path.exists(entry.get("driver", "")):
            problems.append(f"binding '{lang}' is built but its driver {entry.get('driver')} is missing")
            continue
        try:
            env = dict(os.environ, **entry.get("env", {}))
            a = Actor("probe", lang, entry["cmd"], env, tempfile.gettempdir())
            hello = a.call("hello")
            a.stop()
            if not hello.startswith("ok "):
                problems.append(f"driver for '{lang}' answered '{hello}' to hello")
            else:
                print(f"driver {lang}: {hello.split(' ', 2)[-1]}")
        except Failure as e:
            problems.append(f"driver for '{lang}' does not start: {e}")
    scenarios = load_scenarios()
    arities = sorted({len(s.lang_actors) for s in scenarios})
    with open(matrix_file) as f:
        registered = {line.strip() for line in f if line.strip()}
    for k in arities:
        if k <= 2:
            for combo in itertools.product(built, repeat=k):
                if ",".join(combo) not in registered:
                    problems.append(f"assignment {','.join(combo)} is not registered with CTest")
            continue
        # Three or more actors: every ordered pair of languages in every pair of roles, and every
        # language alone in all roles (a covering design, not the full product).
        tuples = [t.split(",") for t in registered if t.count(",") == k - 1]
        for i, j in itertools.combinations(range(k), 2):
            met = {(t[i], t[j]) for t in tuples}
            for pair in itertools.product(built, repeat=2):
                if pair not in met:
                    problems.append(f"no {k}-actor assignment puts {pair[0]} in role {i + 1} "
                                    f"and {pair[1]} in role {j + 1}")
        for lang in built:
            if ",".join([lang] * k) not in registered:
                problems.append(f"assignment {','.join([lang] * k)} is not registered with CTest")
    for s in scenarios:
        if not s.steps:
            problems.append(f"scenario {s.name} has no steps")
        for tag in s.covers:
            if tag not in REQUIRED_COVERS:
                problems.append(f"scenario {s.name} covers unknown tag '{tag}'")
            elif not REQUIRED_COVERS[tag](s):
                problems.append(f"scenario {s.name} claims '{tag}' without the steps that prove it")
    for tag, proves in REQUIRED_COVERS.items():
        if not any(tag in s.covers and proves(s) for s in scenarios):
            problems.append(f"no scenario covers '{tag}' (with the steps that prove it)")
    documented, present = documented_scenarios(), {s.name for s in scenarios}
    for name in sorted(documented - present):
        problems.append(f"scenario {name} is in docs/conformance.md but cases/{name}.case is missing")
    for name in sorted(present - documented):
        problems.append(f"cases/{name}.case is not in docs/conformance.md's scenario table")
    expected = set().union(*(s.expected_names() for s in scenarios)) | {"ok"}
    for name in ERROR_NAMES:
        if name in NOT_INJECTABLE:
            print(f"error {name}: not injectable here ({NOT_INJECTABLE[name]})")
        elif name not in expected:
            problems.append(f"no scenario expects error '{name}'")
    for s in scenarios:
        for actor, prefix, reason in s.skips:
            print(f"declared skip: {s.name}: actor {actor} in {prefix}*: {reason}")
        for engine, reason in s.engine_skips.items():
            print(f"declared skip: {s.name}: on the {engine} engine: {reason}")
        for (engine, command), reason in s.step_skips.items():
            print(f"declared skip: {s.name}: its '{command}' steps on the {engine} engine: {reason}")
    per_arity = {}
    for t in registered:
        per_arity[t.count(",") + 1] = per_arity.get(t.count(",") + 1, 0) + 1
    n = sum(per_arity.get(len(s.lang_actors), 0) for s in scenarios)
    print(f"matrix: {len(scenarios)} scenarios x {len(registered)} language assignments "
          f"({len(built)} languages, 1 to {max(arities)} actors) = {n} (scenario, assignment) runs; "
          f"what ran and what was skipped is counted by the runs themselves (executed=, skipped=)")
    for p in problems:
        print("FAIL:", p)
    return 1 if problems else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", required=True, help="drivers JSON written by CMake")
    ap.add_argument("--langs", required=True, help="comma-separated languages, one per actor")
    ap.add_argument("--check-completeness", action="store_true",
                    help="check drivers, matrix and coverage instead (--langs: every built language)")
    ap.add_argument("--matrix", help="with --check-completeness: the registered assignments, one a line")
    ap.add_argument("--case", action="append", help="run only these scenarios")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--cases", help="scenario directory (default: cases/ next to the runner)")
    args = ap.parse_args()
    if args.cases:
        global CASES
        CASES = args.cases
    with open(args.config) as f:
        config = json.load(f)
    if args.check_completeness:
        return check_completeness(config, args.langs, args.matrix)
    langs = args.langs.split(",")
    for lang in langs:
        if lang not in config:
            print(f"FAIL: no driver configured for language '{lang}'")
            return 1
    scenarios = [s for s in load_scenarios(args.case) if len(s.lang_actors) == len(langs)]
    if not scenarios:
        print(f"FAIL: no scenario has {len(langs)} language actors")
        return 1
    root = tempfile.mkdtemp(prefix="locket-conf-")
    os.chmod(root, 0o755)
    pool = Pool(config, root)
    failed, skipped, passed = [], [], 0
    print(f"assignment: {' x '.join(langs)}; {len(scenarios)} scenarios; work dir {root}")
    try:
        for sc in scenarios:
            t0 = time.monotonic()
            try:
                run_scenario(sc, langs, pool, root, print)
                passed += 1
                print(f"  ok    {sc.name} ({(time.monotonic() - t0) * 1000:.0f} ms)")
            except Skip as e:
                skipped.append(sc.name)
                print(f"  skip  {sc.name}: {e}")
            except Failure as e:
                failed.append(sc.name)
                print(f"  FAIL  {e}")
                # A failed scenario may leave actors mid-command: start them afresh.
                for key, a in list(pool.procs.items()):
                    a.kill()
                    del pool.procs[key]
            sys.stdout.flush()
    finally:
        for complaint in pool.close():
            failed.append("exit")
            print(f"  FAIL  {complaint}")
        if not args.keep:
            subprocess.run(["chmod", "-R", "u+rwx", root], capture_output=True)
            shutil.rmtree(root, ignore_errors=True)
    # Counted here, at run time: what ran (passed or failed) and what a declared skip kept from running.
    print(f"executed={passed + len(set(failed) - {'exit'})} passed={passed} skipped={len(skipped)} "
          f"failed={len(failed)} of {len(scenarios)} scenarios")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
