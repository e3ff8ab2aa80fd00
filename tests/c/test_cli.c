/* The locket command-line tool, run as users run it. */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *cli(void)
{
	const char *p = getenv("LOCKET_CLI");
	if (p == NULL || access(p, X_OK) != 0)
		test_skip("LOCKET_CLI is not set to the locket binary");
	return p;
}

TEST(cli_exit_status_passes_through)
{
	CHECK(test_system("'%s' '%s' true", cli(), test_path("x")) == 0);
	CHECK(test_system("'%s' '%s' sh -c 'exit 3'", cli(), test_path("x")) == 3);
	CHECK(test_system("'%s' '%s' -c 'exit 4'", cli(), test_path("x")) == 4);
	CHECK(test_system("'%s' '%s' sh -c 'kill -TERM $$'", cli(), test_path("x")) ==
	      128 + SIGTERM);
	/* flock(1)'s code for a command that cannot be run (docs/cli.md). */
	CHECK(test_system("'%s' '%s' no-such-command-here 2>/dev/null", cli(), test_path("x")) ==
	      69);
	CHECK(test_system("'%s' -F '%s' no-such-command-here 2>/dev/null", cli(), test_path("x")) ==
	      69);
	CHECK(test_system("'%s' '%s' '%s' 2>/dev/null", cli(), test_path("x"), test_dir()) == 69);
}

TEST(cli_usage_errors)
{
	CHECK(test_system("'%s' 2>/dev/null", cli()) == 64);
	CHECK(test_system("'%s' '%s' 2>/dev/null", cli(), test_path("x")) == 64);
	CHECK(test_system("'%s' -w abc '%s' true 2>/dev/null", cli(), test_path("x")) == 64);
	CHECK(test_system("'%s' -w -1 '%s' true 2>/dev/null", cli(), test_path("x")) == 64);
	CHECK(test_system("'%s' -w nan '%s' true 2>/dev/null", cli(), test_path("x")) == 64);
	/* The library's rule (locket_timeout_ms): too large for a deadline is forever. */
	CHECK(test_system("'%s' -w inf '%s' true", cli(), test_path("x")) == 0);
	CHECK(test_system("'%s' -w 1e300 '%s' true", cli(), test_path("x")) == 0);
	CHECK(test_system("'%s' -w 1e999 '%s' true", cli(), test_path("x")) == 0);
	CHECK(test_system("'%s' -w -inf '%s' true 2>/dev/null", cli(), test_path("x")) == 64);
	CHECK(test_system("'%s' -E 300 '%s' true 2>/dev/null", cli(), test_path("x")) == 64);
	CHECK(test_system("'%s' --help >/dev/null", cli()) == 0);
	CHECK(test_system("'%s' --version | grep -q '^locket %s$'", cli(), LOCKET_VERSION_STRING) ==
	      0);
	CHECK(test_system("'%s' '%s' true 2>/dev/null", cli(), test_path("no/dir/x")) == 66);
	CHECK(test_system("'%s' '%s' -c 2>/dev/null", cli(), test_path("x")) == 64);
	CHECK(test_system("'%s' '%s' -c 'true' extra 2>/dev/null", cli(), test_path("x")) == 64);
	CHECK(test_system("'%s' -F -o '%s' true 2>/dev/null", cli(), test_path("x")) == 64);
	CHECK(test_system("'%s' not-a-number 2>/dev/null", cli()) == 64);
}

/* Two lines on stderr, the first "locket: WHAT", the second where to read more. */
TEST(cli_usage_error_is_one_line_and_a_pointer_to_help)
{
	CHECK(test_system(
		      "'%s' -q '%s' true 2>&1 >/dev/null | { read -r a && read -r b && ! read -r c && "
		      "[ \"$a\" = \"locket: invalid option -- 'q'\" ] && "
		      "[ \"$b\" = \"Try 'locket --help' for more information.\" ]; }",
		      cli(), test_path("x")) == 0);
	CHECK(test_system(
		      "'%s' '%s' -c 2>&1 >/dev/null | grep -qx 'locket: -c requires exactly one command argument'",
		      cli(), test_path("x")) == 0);
	CHECK(test_system(
		      "'%s' '%s' nope 2>&1 >/dev/null | grep -q '^locket: failed to execute nope'",
		      cli(), test_path("x")) == 0);
}

TEST(cli_locks_a_directory)
{
	CHECK(test_system("'%s' '%s' flock -n '%s' true", cli(), test_dir(), test_dir()) == 1);
	CHECK(test_system("flock '%s' '%s' -n '%s' true", test_dir(), cli(), test_dir()) == 1);
	CHECK(test_system("'%s' -n '%s' true", cli(), test_dir()) == 0);
}

/* The descriptor forms of shell scripts: the lock is the shell's open file's. */
TEST(cli_locks_an_inherited_descriptor)
{
	const char *x = test_path("x");
	CHECK(test_system(
		      "( '%s' -n 9 || exit 1; flock -n '%s' true; echo $? ) 9>'%s' | grep -qx 1",
		      cli(), x, x) == 0);
	check_held_elsewhere(x, 0); /* gone with the subshell's descriptor */
	CHECK(test_system("exec 9>'%s'; '%s' 9 && '%s' -u 9 && flock -n '%s' true", x, cli(), cli(),
			  x) == 0);
	CHECK(test_system("exec 9>'%s'; flock -n 9; '%s' -n 8 8>'%s'", x, cli(), x) == 1);
	CHECK(test_system("exec 9>'%s'; flock -s 9; '%s' -s -n 8 8>'%s' && '%s' -n -E 7 8 8>'%s'",
			  x, cli(), x, cli(), x) == 7);
	CHECK(test_system("'%s' 9 2>/dev/null 9>&-", cli()) == 65); /* not open */
}

TEST(cli_verbose_reports_on_stdout_failures_on_stderr)
{
	child holder;
	CHECK(test_system(
		      "'%s' --verbose '%s' true 2>/dev/null | grep -q '^locket: getting lock took [0-9.]* seconds$'",
		      cli(), test_path("x")) == 0);
	CHECK(test_system(
		      "'%s' -v '%s' echo hi 2>/dev/null | head -2 | tail -1 | grep -qx 'locket: executing echo'",
		      cli(), test_path("x")) == 0);
	holder = start_holder(test_path("x"), 0);
	if (engine_is_portable()) /* it cannot name the holder on Linux (holder_pid) */
		CHECK(test_system(
			      "'%s' -v -w 0.05 '%s' true 2>/dev/null | grep -q 'waiting for .*x$'",
			      cli(), test_path("x")) == 0);
	else
		CHECK(test_system(
			      "'%s' -v -w 0.05 '%s' true 2>/dev/null | grep -q 'waiting for .*, "
			      "held by pid %d$'",
			      cli(), test_path("x"), (int)holder.pid) == 0);
	CHECK(test_system(
		      "'%s' -v -n '%s' true 2>&1 >/dev/null | grep -q '^locket: failed to get lock'",
		      cli(), test_path("x")) == 0);
	child_wait(&holder);
}

TEST(cli_holds_the_lock_while_the_command_runs)
{
	/* Inside the command, flock(1) and locket itself are refused. */
	CHECK(test_system("'%s' '%s' flock -n '%s' true", cli(), test_path("x"), test_path("x")) ==
	      1);
	CHECK(test_system("'%s' '%s' '%s' -n '%s' true", cli(), test_path("x"), cli(),
			  test_path("x")) == 1);
	/* And free afterwards. */
	CHECK(test_system("flock -n '%s' true", test_path("x")) == 0);
}

TEST(cli_conflict_and_timeout)
{
	child holder = start_holder(test_path("x"), 0);
	double t0;
	CHECK(test_system("'%s' -n '%s' true", cli(), test_path("x")) == 1);
	CHECK(test_system("'%s' -n -E 9 '%s' true", cli(), test_path("x")) == 9);
	t0 = test_now_ms();
	CHECK(test_system("'%s' -w 0.3 '%s' true", cli(), test_path("x")) == 1);
	CHECK(test_now_ms() - t0 >= 299);
	child_say(&holder, "release");
	CHECK(strcmp(child_read(&holder), "released ok") == 0);
	CHECK(test_system("'%s' -n '%s' true", cli(), test_path("x")) == 0);
	child_wait(&holder);
}

TEST(cli_shared)
{
	child reader = start_holder(test_path("x"), 1);
	CHECK(test_system("'%s' -s -n '%s' true", cli(), test_path("x")) == 0);
	CHECK(test_system("'%s' -x -n '%s' true", cli(), test_path("x")) == 1);
	CHECK(test_system("'%s' -n '%s' true", cli(), test_path("x")) == 1);
	child_wait(&reader);
}

TEST(cli_interop_with_flock_command)
{
	CHECK(test_system("flock '%s' '%s' -n '%s' true", test_path("x"), cli(), test_path("x")) ==
	      1);
	CHECK(test_system("'%s' '%s' flock -n '%s' true", cli(), test_path("x"), test_path("x")) ==
	      1);
}

/* Alive and not a zombie (a reparented child may never be reaped here). */
static int process_alive(int pid)
{
	char path[64], buf[256];
	FILE *f;
	const char *state;
	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	if (fgets(buf, sizeof buf, f) == NULL) {
		fclose(f);
		return 0;
	}
	fclose(f);
	state = strrchr(buf, ')');
	return state != NULL && state[1] == ' ' && state[2] != 'Z' && state[2] != 'X';
}

/* Start `locket FILE sh -c SCRIPT` with a pipe on its stdout; returns pid. */
static pid_t start_cli(const char *script, FILE **out)
{
	int fds[2];
	pid_t pid;
	const char *bin = cli(), *path = test_path("x"); /* before fork: one test dir */
	CHECK(pipe(fds) == 0);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execl(bin, bin, path, "sh", "-c", script, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	*out = fdopen(fds[0], "r");
	return pid;
}

TEST(cli_forwards_sigterm_and_keeps_the_lock_until_the_command_exits)
{
	FILE *out;
	char line[64];
	int status;
	pid_t pid = start_cli(
		"trap 'echo term; exit 5' TERM; echo ready; while :; do sleep 0.05; done", &out);
	CHECK(fgets(line, sizeof line, out) != NULL && strcmp(line, "ready\n") == 0);
	check_held_elsewhere(test_path("x"), 1);
	CHECK(kill(pid, SIGTERM) == 0);
	CHECK(fgets(line, sizeof line, out) != NULL && strcmp(line, "term\n") == 0);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 5);
	check_held_elsewhere(test_path("x"), 0);
	fclose(out);
}

/* With flock(1)'s model the command inherits the lock: however locket dies,
 * nobody else gets in while anything the command started still runs. */
static void check_killed_locket_leaves_the_lock_with_the_job(int sig)
{
	FILE *out;
	int job = 0, status;
	locket_t *w;
	pid_t pid = start_cli("sleep 300 & echo $!; wait", &out);
	CHECK(fscanf(out, "%d", &job) == 1 && job > 0);
	CHECK(kill(pid, sig) == 0);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFSIGNALED(status) &&
	      WTERMSIG(status) == sig); /* SIGTERM: passed on, then re-raised */
	CHECK(process_alive(job));
	check_held_elsewhere(test_path("x"), 1);
	CHECK(test_system("'%s' -n '%s' true", cli(), test_path("x")) == 1);
	CHECK(kill(job, SIGKILL) == 0);
	CHECK_RC(locket_new(&w, test_path("x"), NULL), LOCKET_OK);
	CHECK_RC(locket_acquire(w, 30000, 0), LOCKET_OK); /* and free once the job is gone */
	locket_free(w);
	fclose(out);
}

TEST(cli_sigkilled_locket_leaves_the_lock_with_the_background_job)
{
	check_killed_locket_leaves_the_lock_with_the_job(SIGKILL);
}

TEST(cli_sigtermed_locket_leaves_the_lock_with_the_background_job)
{
	check_killed_locket_leaves_the_lock_with_the_job(SIGTERM);
}

/* -o: the command does not get the lock, so it must die with locket. */
TEST(cli_close_kills_the_command_with_locket)
{
	FILE *out;
	int fds[2], cmd_pid = 0, status, i;
	pid_t pid;
	locket_t *w;
	const char *bin = cli(), *path = test_path("x");
	CHECK(pipe(fds) == 0);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execl(bin, bin, "-o", path, "sh", "-c", "echo $$; exec sleep 300", (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	out = fdopen(fds[0], "r");
	CHECK(fscanf(out, "%d", &cmd_pid) == 1 && cmd_pid > 0);
	check_held_elsewhere(path, 1);
	CHECK(kill(pid, SIGKILL) == 0);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK_RC(locket_new(&w, path, NULL), LOCKET_OK);
	CHECK_RC(locket_acquire(w, 10000, 0), LOCKET_OK);
	/* The kernel delivers the parent-death signal as locket exits. */
	for (i = 0; i < 500 && process_alive(cmd_pid); i++)
		usleep(10000);
	CHECK(!process_alive(cmd_pid));
	fclose(out);
	locket_free(w);
}

/* A process's SIGINT and SIGQUIT reach the command (ignored until now). */
TEST(cli_passes_sigint_and_sigquit_from_a_process_on)
{
	static const int sigs[] = { SIGINT, SIGQUIT, SIGHUP, SIGUSR1 };
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
		FILE *out;
		char line[64];
		int status;
		pid_t pid = start_cli("trap 'echo got; exit 6' INT QUIT HUP USR1; echo ready; "
				      "while :; do sleep 0.05; done",
				      &out);
		CHECK(fgets(line, sizeof line, out) != NULL && strcmp(line, "ready\n") == 0);
		CHECK(kill(pid, sigs[i]) == 0);
		CHECK(fgets(line, sizeof line, out) != NULL && strcmp(line, "got\n") == 0);
		CHECK(waitpid(pid, &status, 0) == pid);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 6);
		fclose(out);
	}
}

/* A command killed by a signal: locket dies of it too, as the shell expects. */
TEST(cli_dies_of_the_signal_that_killed_the_command)
{
	FILE *out;
	int status;
	pid_t pid = start_cli("kill -INT $$", &out);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGINT);
	fclose(out);
}

/* ---- The lock file is opened, checked and waited for by the library's rules ---- */

/* Run a command line; its exit status, and the milliseconds it took. */
static int timed_system(double *ms, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int timed_system(double *ms, const char *fmt, ...)
{
	char cmd[2048];
	double t0;
	va_list ap;
	int rc;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	t0 = test_now_ms();
	rc = test_system("%s", cmd);
	*ms = test_now_ms() - t0;
	return rc;
}

/* A dangling symlink as the lock file: flock(1) creates the file it names
 * and returns at once; the CLI's own open loop used to spin on it for ever
 * (ENOENT without O_CREAT, EEXIST with O_EXCL), -n and -w ignored. `timeout`
 * turns a spin into a failure instead of a hung test. */
TEST(cli_dangling_symlink_creates_its_target_at_once)
{
	static const char *opts[] = { "-n", "-w 1", "" };
	char link[4096];
	char target[4096];
	struct stat st;
	double ms;
	snprintf(link, sizeof link, "%s", test_path("link.lock"));
	snprintf(target, sizeof target, "%s", test_path("target"));
	for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
		unlink(target);
		unlink(link);
		CHECK(symlink(target, link) == 0);
		CHECK(timed_system(&ms, "timeout -s KILL 10 '%s' %s '%s' true", cli(), opts[i],
				   link) == 0);
		CHECK(ms < 5000);
		CHECK(lstat(target, &st) == 0 && S_ISREG(st.st_mode));
	}
	/* While the command runs, the created file is what is locked. */
	unlink(target);
	CHECK(test_system("timeout -s KILL 10 '%s' -n '%s' flock -n '%s' true", cli(), link,
			  target) == 1);
	/* A link into a directory that does not exist: "cannot open" (66), at once. */
	unlink(link);
	CHECK(symlink(test_path("no/such/dir/target"), link) == 0);
	CHECK(timed_system(&ms, "timeout -s KILL 10 '%s' -w 1 '%s' true 2>/dev/null", cli(),
			   link) == 66);
	CHECK(ms < 5000);
}

/* Holds a read lease (F_SETLEASE F_RDLCK) on the file it owns, as Samba or
 * an NFS server does, and answers "lease N" (F_GETLEASE) when asked. A
 * write open of the file would block for the lease-break time (45 s by
 * default) and take the lease away; a read-only open does neither. */
static void lease_holder(const char *path, FILE *in, FILE *out)
{
	char line[64];
	int fd = open(path, O_RDONLY);
	signal(SIGIO, SIG_IGN); /* the lease-break notice must not kill us */
	if (fd < 0 || fcntl(fd, F_SETLEASE, F_RDLCK) != 0) {
		fprintf(out, "no lease: %s\n", strerror(errno));
		fflush(out);
		return;
	}
	fprintf(out, "leased\n");
	fflush(out);
	while (fgets(line, sizeof line, in) != NULL) {
		fprintf(out, "lease %d\n", fcntl(fd, F_GETLEASE));
		fflush(out);
	}
}

TEST(cli_read_lease_neither_blocks_nor_is_broken)
{
	char path[4096];
	child leaser, holder;
	const char *line;
	char want[32];
	double ms;
	int fd;
	snprintf(path, sizeof path, "%s", test_path("leased"));
	fd = open(path, O_WRONLY | O_CREAT, 0644);
	CHECK(fd >= 0);
	close(fd);
	leaser = child_start(lease_holder, path);
	line = child_read(&leaser);
	if (strcmp(line, "leased") != 0) {
		child_kill9(&leaser);
		test_skip("F_SETLEASE is not available on this filesystem");
	}
	/* Free: -n returns at once (the old CLI's read-write open blocked 45 s). */
	CHECK(timed_system(&ms, "timeout -s KILL 20 '%s' -n '%s' true", cli(), path) == 0);
	CHECK(ms < 2000);
	/* Held: -w 1 gives up after its second, not after the lease-break time. */
	holder = start_holder(path, 0);
	CHECK(timed_system(&ms, "timeout -s KILL 20 '%s' -w 1 '%s' true", cli(), path) == 1);
	CHECK(ms >= 999 && ms < 3000);
	CHECK(timed_system(&ms, "timeout -s KILL 20 '%s' -n '%s' true", cli(), path) == 1);
	CHECK(ms < 2000);
	child_say(&holder, "release");
	CHECK(strcmp(child_read(&holder), "released ok") == 0);
	child_wait(&holder);
	/* And the lease is intact: nothing opened the file for writing. */
	child_say(&leaser, "lease?");
	snprintf(want, sizeof want, "lease %d", F_RDLCK);
	CHECK(strcmp(child_read(&leaser), want) == 0);
	child_kill9(&leaser);
}

/* /proc/PID/stat's state and /proc/PID/syscall: is the process asleep in
 * a system call that waits (flock, futex, a poll)? */
static int process_sleeps_in_wait(pid_t pid)
{
	char path[64], buf[512], *p;
	long nr;
	FILE *f;
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	p = fgets(buf, sizeof buf, f);
	fclose(f);
	if (p == NULL || (p = strrchr(buf, ')')) == NULL || p[1] != ' ' || p[2] != 'S')
		return 0;
	snprintf(path, sizeof path, "/proc/%d/syscall", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	p = fgets(buf, sizeof buf, f);
	fclose(f);
	if (p == NULL || sscanf(buf, "%ld", &nr) != 1)
		return 0;
	/* flock: an untimed wait; futex, ppoll: the Linux engine's timed one;
	 * pselect6: the portable engine's. */
	return nr == SYS_flock || nr == SYS_futex || nr == SYS_ppoll || nr == SYS_poll ||
	       nr == SYS_pselect6;
}

/* How many descriptors of process pid name file (by device and inode). */
static int descriptors_on(pid_t pid, const char *file)
{
	char dir[64], link[600];
	struct stat want, st;
	struct dirent *e;
	DIR *d;
	int n = 0;
	if (stat(file, &want) != 0)
		return 0;
	snprintf(dir, sizeof dir, "/proc/%d/fd", (int)pid);
	if ((d = opendir(dir)) == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(link, sizeof link, "%s/%s", dir, e->d_name);
		if (stat(link, &st) == 0 && st.st_dev == want.st_dev && st.st_ino == want.st_ino)
			n++;
	}
	closedir(d);
	return n;
}

/* current -> v1 is switched to v2 while `locket -w 10 current/app.lock cmd`
 * waits for v1's holder: the CLI must then wait for v2's lock too and run
 * cmd holding it. The old CLI ran cmd holding v1/app.lock while another
 * process held v2/app.lock: two holders of current/app.lock. */
TEST(cli_waiter_follows_a_switched_symlink)
{
	char v1[4096];
	char v2[4096];
	char cur[4096];
	char next[4096];
	char lock1[4096];
	char lock2[4096];
	char path[4096];
	const char *bin = cli();
	child h1, h2;
	char line[64];
	int fds[2], status;
	double deadline;
	pid_t pid;
	FILE *out;
	snprintf(v1, sizeof v1, "%s", test_path("v1"));
	snprintf(v2, sizeof v2, "%s", test_path("v2"));
	snprintf(cur, sizeof cur, "%s", test_path("current"));
	snprintf(next, sizeof next, "%s", test_path("current.new"));
	snprintf(lock1, sizeof lock1, "%s", test_path("v1/app.lock"));
	snprintf(lock2, sizeof lock2, "%s", test_path("v2/app.lock"));
	snprintf(path, sizeof path, "%s", test_path("current/app.lock"));
	CHECK(mkdir(v1, 0755) == 0 && mkdir(v2, 0755) == 0);
	CHECK(symlink("v1", cur) == 0);
	h1 = start_holder(lock1, 0);
	CHECK(pipe(fds) == 0);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		/* Inside: is v2's lock held by others (1) and v1's free (0)? */
		execl(bin, bin, "-w", "10", path, "sh", "-c",
		      "flock -n \"$0\" true; a=$?; flock -n \"$1\" true; echo \"ran $a $?\"", lock2,
		      lock1, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	out = fdopen(fds[0], "r");
	deadline = test_now_ms() + 20000;
	while (!(process_sleeps_in_wait(pid) && descriptors_on(pid, lock1) == 1)) {
		CHECK(test_now_ms() < deadline);
		usleep(1000); /* polling /proc for the waiter's state, not the lock */
	}
	/* The deploy: current -> v2, and a library user takes v2's lock. */
	CHECK(symlink("v2", next) == 0 && rename(next, cur) == 0);
	h2 = start_holder(path, 0);
	child_say(&h1, "release");
	CHECK(strcmp(child_read(&h1), "released ok") == 0);
	child_kill9(&h1); /* (the CLI and h2 have copies of its pipe: no EOF for it) */
	/* The CLI gets v1's lock, sees that the path leads to v2 now, and waits
	 * there. A CLI that ran the command instead says so on its stdout. */
	for (;;) {
		struct pollfd p = { fds[0], POLLIN, 0 };
		CHECK(poll(&p, 1, 1) == 0); /* the command must not run yet */
		if (process_sleeps_in_wait(pid) && descriptors_on(pid, lock2) == 1 &&
		    descriptors_on(pid, lock1) == 0)
			break;
		CHECK(test_now_ms() < deadline);
	}
	check_held_elsewhere(lock1, 0);
	child_say(&h2, "release");
	CHECK(strcmp(child_read(&h2), "released ok") == 0);
	CHECK(fgets(line, sizeof line, out) != NULL);
	CHECK(strcmp(line, "ran 1 0\n") == 0);
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	child_kill9(&h2);
	fclose(out);
}

/* Runs `locket OPTS FILE CMD`, where CMD lists its descriptors of FILE with
 * their flags from /proc/self/fdinfo; returns how many it had, and the
 * access mode and O_NONBLOCK of the last one. */
static int command_lock_fds(const char *opts, const char *file, int *accmode, int *nonblock)
{
	char line[128];
	int n = 0, fdnum;
	unsigned int flags;
	FILE *p;
	char cmd[1024];
	snprintf(
		cmd, sizeof cmd, "'%s' %s '%s' sh -c '%s' '%s'", cli(), opts, file,
		"for f in /proc/$$/fd/*; do [ \"$f\" -ef \"$0\" ] && "
		"echo \"${f##*/} $(sed -n \"s/^flags:[[:space:]]*//p\" /proc/$$/fdinfo/${f##*/})\"; done; true",
		file);
	CHECK((p = popen(cmd, "r")) != NULL);
	while (fgets(line, sizeof line, p) != NULL) {
		CHECK(sscanf(line, "%d %o", &fdnum, &flags) == 2);
		*accmode = (int)(flags & O_ACCMODE);
		*nonblock = (flags & O_NONBLOCK) != 0;
		n++;
	}
	CHECK(pclose(p) == 0);
	return n;
}

/* The CLI opens the lock file read-only, as flock(1) and the library do (a
 * write open copies an overlayfs lower file up, breaks read leases, fails on
 * a running program, and makes an IN_CLOSE_WRITE on every close); the
 * command inherits that one descriptor (blocking, as flock(1)'s), or none
 * with -o; with -F the command is locket's own process and has it too. */
TEST(cli_command_inherits_one_read_only_descriptor)
{
	char x[4096];
	int accmode = -1, nonblock = -1;
	int fd;
	snprintf(x, sizeof x, "%s", test_path("x"));
	fd = open(x, O_WRONLY | O_CREAT, 0644);
	CHECK(fd >= 0);
	close(fd);
	CHECK(command_lock_fds("", x, &accmode, &nonblock) == 1);
	CHECK(accmode == O_RDONLY && nonblock == 0);
	CHECK(command_lock_fds("-F", x, &accmode, &nonblock) == 1);
	CHECK(accmode == O_RDONLY);
	CHECK(command_lock_fds("-o", x, &accmode, &nonblock) == 0);
	CHECK(command_lock_fds("-s", x, &accmode, &nonblock) == 1);
	CHECK(accmode == O_RDONLY);
	/* A directory, as flock(1) locks one. */
	CHECK(command_lock_fds("", test_dir(), &accmode, &nonblock) == 1);
}

/* Someone else's file that we may read but not write: locked all the same
 * (the old CLI found this out after a failed read-write open). */
static void lock_readable_file(void *arg)
{
	const char *bin = ((const char **)arg)[0], *file = ((const char **)arg)[1];
	char cmd[1024];
	snprintf(cmd, sizeof cmd, "'%s' -n '%s' flock -n '%s' true", bin, file, file);
	_exit(test_system("%s", cmd));
}

TEST(cli_locks_a_file_it_may_only_read)
{
	char file[4096];
	const char *args[2] = { cli(), file };
	int fd, status;
	snprintf(file, sizeof file, "%s", test_path("ro/x"));

	if (geteuid() != 0)
		test_skip("needs root to make a file owned by someone else");
	CHECK(chmod(test_dir(), 0755) == 0);
	CHECK(mkdir(test_path("ro"), 0755) == 0);
	CHECK((fd = open(args[1], O_WRONLY | O_CREAT, 0644)) >= 0);
	close(fd);
	if (!run_as_nobody(lock_readable_file, (void *)args, &status))
		test_skip("cannot drop privileges here");
	CHECK(status == 1); /* locked by locket, so flock -n inside was refused */
}
