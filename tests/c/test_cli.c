/* The locket command-line tool, run as users run it. */
#include "harness.h"

#include <signal.h>
#include <string.h>
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
	CHECK(test_system("'%s' '%s' sh -c 'kill -TERM $$'", cli(), test_path("x")) == 128 + SIGTERM);
	/* flock(1)'s code for a command that cannot be run (docs/cli.md). */
	CHECK(test_system("'%s' '%s' no-such-command-here 2>/dev/null", cli(), test_path("x")) == 69);
	CHECK(test_system("'%s' -F '%s' no-such-command-here 2>/dev/null", cli(), test_path("x")) == 69);
	CHECK(test_system("'%s' '%s' '%s' 2>/dev/null", cli(), test_path("x"), test_dir()) == 69);
}

TEST(cli_usage_errors)
{
	CHECK(test_system("'%s' 2>/dev/null", cli()) == 64);
	CHECK(test_system("'%s' '%s' 2>/dev/null", cli(), test_path("x")) == 64);
	CHECK(test_system("'%s' -w abc '%s' true 2>/dev/null", cli(), test_path("x")) == 64);
	CHECK(test_system("'%s' -w -1 '%s' true 2>/dev/null", cli(), test_path("x")) == 64);
	CHECK(test_system("'%s' -w nan '%s' true 2>/dev/null", cli(), test_path("x")) == 64);
	CHECK(test_system("'%s' -E 300 '%s' true 2>/dev/null", cli(), test_path("x")) == 64);
	CHECK(test_system("'%s' --help >/dev/null", cli()) == 0);
	CHECK(test_system("'%s' --version | grep -q '^locket %s$'", cli(), LOCKET_VERSION_STRING) == 0);
	CHECK(test_system("'%s' '%s' true 2>/dev/null", cli(), test_path("no/dir/x")) == 66);
	CHECK(test_system("'%s' '%s' -c 2>/dev/null", cli(), test_path("x")) == 64);
	CHECK(test_system("'%s' '%s' -c 'true' extra 2>/dev/null", cli(), test_path("x")) == 64);
	CHECK(test_system("'%s' -F -o '%s' true 2>/dev/null", cli(), test_path("x")) == 64);
	CHECK(test_system("'%s' not-a-number 2>/dev/null", cli()) == 64);
}

/* Two lines on stderr, the first "locket: WHAT", the second where to read more. */
TEST(cli_usage_error_is_one_line_and_a_pointer_to_help)
{
	CHECK(test_system("'%s' -q '%s' true 2>&1 >/dev/null | { read -r a && read -r b && ! read -r c && "
			  "[ \"$a\" = \"locket: invalid option -- 'q'\" ] && "
			  "[ \"$b\" = \"Try 'locket --help' for more information.\" ]; }",
			  cli(), test_path("x")) == 0);
	CHECK(test_system("'%s' '%s' -c 2>&1 >/dev/null | grep -qx 'locket: -c requires exactly one command argument'",
			  cli(), test_path("x")) == 0);
	CHECK(test_system("'%s' '%s' nope 2>&1 >/dev/null | grep -q '^locket: failed to execute nope'",
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
	CHECK(test_system("( '%s' -n 9 || exit 1; flock -n '%s' true; echo $? ) 9>'%s' | grep -qx 1", cli(), x,
			  x) == 0);
	check_held_elsewhere(x, 0); /* gone with the subshell's descriptor */
	CHECK(test_system("exec 9>'%s'; '%s' 9 && '%s' -u 9 && flock -n '%s' true", x, cli(), cli(), x) == 0);
	CHECK(test_system("exec 9>'%s'; flock -n 9; '%s' -n 8 8>'%s'", x, cli(), x) == 1);
	CHECK(test_system("exec 9>'%s'; flock -s 9; '%s' -s -n 8 8>'%s' && '%s' -n -E 7 8 8>'%s'", x, cli(), x,
			  cli(), x) == 7);
	CHECK(test_system("'%s' 9 2>/dev/null 9>&-", cli()) == 65); /* not open */
}

TEST(cli_verbose_reports_on_stdout_failures_on_stderr)
{
	child holder;
	CHECK(test_system("'%s' --verbose '%s' true 2>/dev/null | grep -q '^locket: getting lock took [0-9.]* seconds$'",
			  cli(), test_path("x")) == 0);
	CHECK(test_system("'%s' -v '%s' echo hi 2>/dev/null | head -2 | tail -1 | grep -qx 'locket: executing echo'",
			  cli(), test_path("x")) == 0);
	holder = start_holder(test_path("x"), 0);
	CHECK(test_system("'%s' -v -w 0.05 '%s' true 2>/dev/null | grep -q 'waiting for .*, held by pid %d$'", cli(),
			  test_path("x"), (int)holder.pid) == 0);
	CHECK(test_system("'%s' -v -n '%s' true 2>&1 >/dev/null | grep -q '^locket: failed to get lock'", cli(),
			  test_path("x")) == 0);
	child_wait(&holder);
}

TEST(cli_holds_the_lock_while_the_command_runs)
{
	/* Inside the command, flock(1) and locket itself are refused. */
	CHECK(test_system("'%s' '%s' flock -n '%s' true", cli(), test_path("x"), test_path("x")) == 1);
	CHECK(test_system("'%s' '%s' '%s' -n '%s' true", cli(), test_path("x"), cli(), test_path("x")) == 1);
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
	CHECK(test_system("flock '%s' '%s' -n '%s' true", test_path("x"), cli(), test_path("x")) == 1);
	CHECK(test_system("'%s' '%s' flock -n '%s' true", cli(), test_path("x"), test_path("x")) == 1);
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
	pid_t pid = start_cli("trap 'echo term; exit 5' TERM; echo ready; while :; do sleep 0.05; done",
			      &out);
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
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == sig); /* SIGTERM: passed on, then re-raised */
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
