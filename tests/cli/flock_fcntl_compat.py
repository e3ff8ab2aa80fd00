#!/usr/bin/env python3
"""locket --fcntl beside util-linux 2.41's real flock(1) --fcntl (Debian 13's).

usage: flock_fcntl_compat.py LOCKET [FLOCK241]

FLOCK241 defaults to what scripts/flock-241.sh makes (it fetches Debian 13's util-linux and libc
and runs them here); without it (no network) the script exits 77 (skip) with the reason. Every
case runs once with each program, with the same arguments in a fresh directory, and must give
the same exit status; some also compare the first line of standard error, with the program's
name replaced. The holders are this process: a POSIX record lock (fcntl.lockf, what fasteners
takes), an OFD lock, or a flock(2) lock. Then locket's --start / --length (not in 2.41.5) and
its name (invoked as flock, it says flock:) are checked on their own. One TAP line per check;
exits 1 if any failed.
"""
import fcntl
import os
import re
import struct
import subprocess
import sys
import tempfile

LOCKET = os.path.abspath(sys.argv[1])
SOURCE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENV = dict(os.environ, SHELL="/bin/sh", LC_ALL="C")
F_OFD_SETLK = getattr(fcntl, "F_OFD_SETLK", 37)
results = []


def find_flock():
    if len(sys.argv) > 2:
        return sys.argv[2]
    p = subprocess.run([os.path.join(SOURCE, "scripts", "flock-241.sh")], capture_output=True,
                       text=True)
    if p.returncode != 0:
        print(f"1..0 # SKIP {p.stderr.strip() or 'scripts/flock-241.sh failed'}")
        sys.exit(77)
    return p.stdout.strip()


def check(ok, name, detail=""):
    results.append(ok)
    print(f"{'ok' if ok else 'not ok'} {len(results)} - {name}" + (f" # {detail}" if detail else ""))
    sys.stdout.flush()


class Held:
    """A lock on path held by this process: "posix"/"posix-sh" (lockf), "ofd"/"ofd-sh", "flock"."""

    def __init__(self, path, how, start=0, length=0):
        shared = how.endswith("-sh")
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT)
        if how.startswith("posix"):
            fcntl.lockf(self.fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX, length, start)
        elif how.startswith("ofd"):
            fl = struct.pack("hhqqi4x", fcntl.F_RDLCK if shared else fcntl.F_WRLCK, 0, start,
                             length, 0)
            fcntl.fcntl(self.fd, F_OFD_SETLK, fl)
        else:
            fcntl.flock(self.fd, fcntl.LOCK_EX)

    def close(self):
        os.close(self.fd)


def run(prog, script, d):
    env = dict(ENV, X=prog, D=d, F=os.path.join(d, "f"))
    p = subprocess.run(["/bin/sh", "-c", script], cwd=d, env=env, capture_output=True, timeout=60)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def normalise(text, prog):
    text = text.replace(prog, "PROG")
    text = re.sub(rf"\b{re.escape(os.path.basename(prog))}\b", "PROG", text)
    return re.sub(r"[0-9]+\.[0-9]+ seconds", "N seconds", text)


def fresh_dir(base):
    d = tempfile.mkdtemp(dir=base)
    os.mkdir(os.path.join(d, "dir"))
    with open(os.path.join(d, "f"), "w"):
        pass
    return d


# (name, script with $X the program, holder, compare the first stderr line)
CASES = [
    ("--fcntl FILE COMMAND", '"$X" --fcntl "$F" true', None, False),
    ("--fcntl: the command's status", '"$X" --fcntl "$F" sh -c "exit 3"', None, False),
    ("--fcntl -n behind a POSIX lock (lockf): 1", '"$X" --fcntl -n "$F" true', "posix", False),
    ("--fcntl -n behind an OFD lock: 1", '"$X" --fcntl -n "$F" true', "ofd", False),
    ("--fcntl -n behind a POSIX lock on byte 5 only: 1", '"$X" --fcntl -n "$F" true', "posix5",
     False),
    ("--fcntl -s -n behind a shared POSIX lock: 0", '"$X" --fcntl -s -n "$F" true', "posix-sh",
     False),
    ("--fcntl -x -n behind a shared POSIX lock: 1", '"$X" --fcntl -x -n "$F" true', "posix-sh",
     False),
    ("--fcntl -n behind a flock lock: 0 (independent)", '"$X" --fcntl -n "$F" true', "flock",
     False),
    ("plain -n behind an OFD lock: 0 (independent)", '"$X" -n "$F" true', "ofd", False),
    ("--fcntl -w 0.2 held: 1", '"$X" --fcntl -w 0.2 "$F" true', "posix", False),
    ("--fcntl -n -E 7 held: 7", '"$X" --fcntl -n -E 7 "$F" true', "posix", False),
    ("--fcntl --verbose held", '"$X" --fcntl --verbose -n "$F" true', "posix", False),
    ("--fcntl: held while the command runs", '"$X" --fcntl "$F" "$X" --fcntl -n "$F" true', None,
     False),
    ("--fcntl: the command's lock does not stop a flock one",
     '"$X" --fcntl "$F" "$X" -n "$F" true', None, False),
    ("--fcntl -s: shared with another --fcntl -s",
     '"$X" --fcntl -s "$F" "$X" --fcntl -s -n "$F" true', None, False),
    ("--fcntl -o: the lock stays with the program", '"$X" --fcntl -o "$F" "$X" --fcntl -n "$F" true',
     None, False),
    ("--fcntl -x on a directory: 65", '"$X" --fcntl -n "$D/dir" true', None, False),
    ("--fcntl -s on a directory: 0", '"$X" --fcntl -s -n "$D/dir" true', None, False),
    ("--fcntl on a descriptor", 'exec 9>>"$F"; "$X" --fcntl 9 && "$X" --fcntl -n "$F" true', None,
     False),
    ("--fcntl -u on a descriptor",
     'exec 9>>"$F"; "$X" --fcntl 9 && "$X" --fcntl -u 9 && "$X" --fcntl -n "$F" true', None, False),
    ("--fcntl: read-only descriptor, exclusive: 65", '"$X" --fcntl -n 9 9<"$F"', None, True),
    ("--fcntl: read-only descriptor, shared: 0", '"$X" --fcntl -s -n 9 9<"$F"', None, False),
    ("--fcntl: descriptor held elsewhere: 1", '"$X" --fcntl -n 9 9>>"$F"', "posix", False),
    ("--fcntl -u FILE COMMAND: 0", '"$X" --fcntl -u "$F" true', None, False),
    ("--fcntl: a missing directory: 66", '"$X" --fcntl "$D/no/f" true', None, False),
]


def main():
    flock = find_flock()
    print(f"# {subprocess.run([flock, '--version'], capture_output=True, text=True).stdout.strip()}")
    base = tempfile.mkdtemp(prefix="locket-fcntl-")
    for name, script, holder, compare in CASES:
        got = {}
        for prog in (flock, LOCKET):
            d = fresh_dir(base)
            held = None
            if holder == "posix5":
                held = Held(os.path.join(d, "f"), "posix", 5, 1)
            elif holder is not None:
                held = Held(os.path.join(d, "f"), holder)
            try:
                rc, out, err = run(prog, script, d)
            finally:
                if held is not None:
                    held.close()
            got[prog] = (rc, normalise((err.splitlines() or [""])[0], prog))
        ok = got[flock][0] == got[LOCKET][0]
        if compare:
            ok = ok and got[flock][1] == got[LOCKET][1]
        check(ok, name, f"flock {got[flock]}, locket {got[LOCKET]}")

    # locket's own: byte ranges (not in 2.41.5's flock), and its name.
    d = fresh_dir(base)
    for name, script, want in [
        ("--start/--length: disjoint ranges do not exclude",
         '"$X" --fcntl --length 10 "$F" "$X" --fcntl -n --start 10 "$F" true', 0),
        ("--start/--length: overlapping ranges exclude",
         '"$X" --fcntl --length 10 "$F" "$X" --fcntl -n --start 9 --length 1 "$F" true', 1),
        ("--start without --fcntl: 64", '"$X" --start 3 "$F" true', 64),
        ("--length -1: 64", '"$X" --fcntl --length -1 "$F" true', 64),
        ("--start x: 64", '"$X" --fcntl --start x "$F" true', 64),
        ("a range on a descriptor, and its unlock",
         'exec 9>>"$F"; "$X" --fcntl --start 4 --length 2 9 && ! "$X" --fcntl -n --start 5 "$F" true'
         ' && "$X" --fcntl -u --start 4 --length 2 9 && "$X" --fcntl -n --start 5 "$F" true', 0),
    ]:
        rc, out, err = run(LOCKET, script, d)
        check(rc == want, name, f"status {rc}, {err.strip()[:200]}")
    # A lockf holder on bytes 100..199 excludes --start 150, not --start 200.
    held = Held(os.path.join(d, "f"), "posix", 100, 100)
    try:
        rc1, _, _ = run(LOCKET, '"$X" --fcntl -n --start 150 --length 1 "$F" true', d)
        rc2, _, _ = run(LOCKET, '"$X" --fcntl -n --start 200 "$F" true', d)
    finally:
        held.close()
    check(rc1 == 1 and rc2 == 0, "--start/--length against a lockf range", f"{rc1}, {rc2}")
    link = os.path.join(d, "flock")
    os.symlink(LOCKET, link)
    rc, out, err = run(link, '"$X" --no-such-option "$F" true', d)
    check(rc == 64 and err.startswith("flock: "), "invoked as flock, it says flock:", err.strip())
    rc, out, err = run(link, '"$X" --help', d)
    check(rc == 0 and " flock [options]" in out, "invoked as flock, --help says flock", out[:80])

    print(f"1..{len(results)}")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
