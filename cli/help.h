/*
 * The text of `locket --help` and of the man page locket.1, in one place:
 * locket_cli.c prints the help from these tables and gen_man.c writes the
 * man page from the same tables (CMake runs it at build time).
 *
 * Plain text only; gen_man.c escapes it for roff. In MAN_* paragraphs a line
 * starting with "  " is shown as code (an example).
 */
#ifndef LOCKET_CLI_HELP_H
#define LOCKET_CLI_HELP_H

#include <stddef.h>

static const char *const HELP_SYNOPSIS[] = {
	"[options] FILE|DIRECTORY COMMAND [ARGS...]",
	"[options] FILE|DIRECTORY -c 'SHELL COMMAND'",
	"[options] DESCRIPTOR-NUMBER",
	"--scope PATH",
};

static const char HELP_SUMMARY[] =
	"Run COMMAND while holding a lock on FILE (created if missing), or lock an\n"
	"open descriptor of the shell, like flock(1).";

struct help_option {
	const char *flags; /* as shown: "-x, --exclusive" */
	const char *arg;   /* "SECONDS", or NULL */
	const char *help;  /* one line for --help */
	const char *more;  /* more for the man page, or NULL */
};

static const struct help_option HELP_OPTIONS[] = {
	{ "-x, --exclusive", NULL, "take an exclusive (writer) lock (the default; also -e)", NULL },
	{ "-s, --shared", NULL, "take a shared (reader) lock", NULL },
	{ "-u, --unlock", NULL, "unlock instead of locking (for DESCRIPTOR-NUMBER)",
	  "Releases the lock of the descriptor's open file, for every process that shares it." },
	{ "-n, --nonblock", NULL, "fail at once if the lock is held elsewhere (also --nb)", NULL },
	{ "-w, --timeout", "SECONDS", "give up after SECONDS (fractions allowed; 0 is -n)",
	  "Also --wait." },
	{ "-E, --conflict-exit-code", "N", "exit status when the lock is not obtained (default 1)",
	  "N is 0 to 255." },
	{ "-o, --close", NULL, "do not pass the lock descriptor to COMMAND",
	  "For commands that start daemons: the lock then lasts while locket runs, and "
	  "processes that COMMAND leaves behind do not keep it. If locket is killed, COMMAND is "
	  "killed with it (SIGKILL), so that it never runs on without the lock (not on macOS: see "
	  "DIFFERENCES)." },
	{ "-F, --no-fork", NULL, "exec COMMAND in locket's place instead of running it",
	  "COMMAND keeps the lock descriptor. Not with -o." },
	{ "-c, --command", "CMD", "run CMD with $SHELL -c (/bin/sh if SHELL is unset)",
	  "As FILE -c CMD (flock(1)'s form) or -c CMD FILE." },
	{ "-v, --verbose", NULL, "say how long getting the lock took, and who held it",
	  "Progress goes to standard output (\"getting lock took N seconds\", \"executing "
	  "COMMAND\", and, when it has to wait, \"waiting for FILE, held by pid P\"); a lock not "
	  "obtained is reported on standard error." },
	{ "--fcntl", NULL, "take an OFD lock (fcntl F_OFD_SETLK) instead of flock(2)",
	  "As util-linux 2.41's flock(1): an open file description lock, which conflicts with POSIX "
	  "record locks (lockf, fcntl F_SETLK, fasteners, flock --fcntl) and not with flock(2) locks "
	  "on local filesystems. An exclusive one opens FILE read-write (a DESCRIPTOR-NUMBER must be "
	  "open for writing). Linux 3.15 or later; elsewhere a system error (71). On Windows every "
	  "lock is LockFileEx, with or without --fcntl." },
	{ "--start", "BYTES", "first byte of the --fcntl lock's range (default 0)", NULL },
	{ "--length", "BYTES", "bytes in the --fcntl lock's range (default 0: to the end)",
	  "--start and --length need --fcntl. Ranges that overlap exclude each other, disjoint ones "
	  "do not." },
	{ "--across-hosts", NULL, "refuse (exit 65) where the lock cannot exclude other hosts",
	  "Where FILE's filesystem keeps locks on this host or in one view of the files (NFS with "
	  "nolock or local_lock=, CIFS with nobrl, 9p, virtiofs, overlay, FUSE) or is unknown, "
	  "locket takes no lock, says why on standard error and exits with 65. Judged on the file "
	  "actually locked. See --scope." },
	{ "--scope", "PATH", "say what a lock on PATH can exclude, and exit",
	  "Prints one line: the kind (local: every process of this kernel; network: every client "
	  "of the server's lock manager; this-host: only processes of this host that reach the "
	  "same view of the file; unknown), a tab, the filesystem type, a tab, and the reason. "
	  "PATH need not exist; its directory must. With --fcntl, the scope of an OFD lock (it "
	  "differs from flock's on NFS mounted with local_lock=flock or local_lock=posix)." },
	{ "-h, --help", NULL, "show this help", NULL },
	{ "-V, --version", NULL, "show the version", NULL },
};

struct help_status {
	const char *code;
	const char *meaning;
};

static const struct help_status HELP_EXIT_STATUS[] = {
	{ "N", "COMMAND's exit status; 128+N (the shell's $?) if it was killed by signal N" },
	{ "0", "DESCRIPTOR-NUMBER was locked or unlocked" },
	{ "1", "the lock was not obtained (-n, -w); -E changes this" },
	{ "64", "usage error" },
	{ "65",
	  "the lock could not be taken (e.g. a descriptor that is not open, --across-hosts)" },
	{ "66", "FILE cannot be opened" },
	{ "69", "COMMAND cannot be run (not found, not executable)" },
	{ "71", "system error (out of memory, no locks on this filesystem, fork failed)" },
	{ "73", "FILE cannot be created (read-only filesystem, no space)" },
};

/* Man page paragraphs (not in --help). */
static const char *const MAN_DESCRIPTION[] = {
	"locket takes the same lock as flock(1) (flock(2) on Linux, LockFileEx on Windows), so "
	"scripts using either exclude each other, and accepts flock(1)'s options.",
	"With FILE and COMMAND, locket opens FILE read-only (creating it if missing; a directory "
	"works too), waits for the lock, runs COMMAND and exits with its status. If FILE's path "
	"changes while locket waits (a switched symlink, a replaced file), locket moves to the "
	"file the path names when the lock is granted. COMMAND inherits "
	"the lock descriptor, as with flock(1): the lock is released when the last process holding "
	"that descriptor exits. If locket is killed, COMMAND and anything it started in the "
	"background keep the lock until they exit, so no second holder gets in while they run. "
	"Use -o for commands that start daemons.",
	"With a DESCRIPTOR-NUMBER, locket locks (or with -u unlocks) that descriptor of its parent "
	"and exits. The lock belongs to the open file, shared with the shell, and lasts until the "
	"shell unlocks or closes it:",
	"  (\n    locket -n 9 || exit 1\n    ... commands run while locked ...\n  ) 9>/var/lock/app",
	"  exec 9>/var/lock/app\n  locket 9\n  ...\n  locket -u 9",
};

static const char *const MAN_SIGNALS[] = {
	"While locket waits for the lock, signals have their default effect: SIGINT or SIGTERM ends "
	"locket, and nothing was locked.",
	"While COMMAND runs, SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1 and SIGUSR2 sent to locket's "
	"pid by a process (kill(1), a supervisor, timeout(1)) are passed on to COMMAND, and locket "
	"waits for COMMAND to exit. The same signals sent by the terminal (Ctrl-C, Ctrl-\\, a "
	"hang-up) reach COMMAND directly, through the foreground process group, and are not passed "
	"on again. A signal that was ignored when locket started stays ignored and is not passed on. "
	"A signal sent to locket's whole process group reaches COMMAND twice (directly and passed on).",
	"If COMMAND is killed by a signal, locket kills itself with the same signal (without a core "
	"dump), so that the shell sees what it would have seen without locket (and stops a script "
	"on Ctrl-C).",
	"SIGKILL, or any other signal that ends locket, leaves the lock with COMMAND (which keeps "
	"running, as with flock(1)); with -o, COMMAND is killed too. With -F, locket is COMMAND.",
};

static const char *const MAN_DIFFERENCES[] = {
	"Signals sent to locket while COMMAND runs are passed on to COMMAND (see SIGNALS); flock(1) "
	"dies and leaves COMMAND running. The exit status is the same either way.",
	"-o: if locket is killed, COMMAND is killed too; with flock(1) it runs on without the lock.",
	"-w takes only a number of seconds >= 0: -w -1 or -w nan is a usage error (64), where "
	"flock(1) fails to set its timer (71).",
	"-v is a short form of --verbose, -c CMD may also come before FILE, and --verbose says which "
	"pid held the lock; flock(1) has none of these.",
	"--fcntl opens FILE read-write for an exclusive lock; flock(1) 2.41 opens it write-only. "
	"--start and --length are not in Debian 13's flock(1) (2.41.5).",
	"Verbose lines are written before COMMAND runs; flock(1) buffers them, so that they come "
	"after COMMAND's own output when standard output is a pipe.",
	"An existing FILE is opened without O_CREAT, so that another user's lock file in a sticky "
	"directory such as /tmp can be locked (flock(1) fails there with fs.protected_regular).",
	"On Windows a lock belongs to the process that took it: COMMAND runs in a job object that "
	"is killed with locket instead of inheriting the lock, -F runs COMMAND as without it, "
	"-c uses cmd.exe /c, and a directory cannot be locked.",
	"On macOS, which has no parent-death signal, -o cannot kill COMMAND when locket is killed "
	"with SIGKILL: COMMAND runs on without the lock (signals that locket passes on still reach "
	"it). There locket cannot tell a terminal's signals from a process's either, and passes "
	"every one on: a terminal's Ctrl-C reaches COMMAND twice.",
};

static const char *const MAN_EXAMPLES[] = {
	"  locket /tmp/app.lock make install\n"
	"  locket -w 2.5 /tmp/app.lock ./job      # exit 1 after 2.5 s\n"
	"  locket -n -E 75 /tmp/app.lock ./job    # exit 75 if held\n"
	"  locket /tmp/app.lock -c 'make && make install'\n"
	"  locket -o /run/svc.lock service-start  # its daemon does not keep the lock",
};

#define HELP_COUNT(a) (sizeof(a) / sizeof((a)[0]))

#endif
