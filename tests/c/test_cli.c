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
	CHECK(test_system("'%s' '%s' no-such-command-here 2>/dev/null", cli(), test_path("x")) == 127);
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
	CHECK(test_system("'%s' '%s' true 2>/dev/null", cli(), test_dir()) == 66);
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
	CHECK(test_system("'%s' -v -n '%s' true 2>&1 | grep -q 'failed to get lock'", cli(),
			  test_path("x")) == 0);
	CHECK(test_system("'%s' -v -w 0.05 '%s' true 2>&1 | grep -q 'held by pid %d'", cli(),
			  test_path("x"), (int)holder.pid) == 0);
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

TEST(cli_killed_takes_the_command_with_it)
{
	FILE *out;
	int cmd_pid = 0, status, i;
	locket_t *w;
	pid_t pid = start_cli("echo $$; exec sleep 300", &out);
	CHECK(fscanf(out, "%d", &cmd_pid) == 1 && cmd_pid > 0);
	CHECK_RC(locket_new(&w, test_path("x"), NULL), LOCKET_OK);
	CHECK_RC(locket_acquire(w, 0, 0), LOCKET_EWOULDBLOCK);
	CHECK(kill(pid, SIGKILL) == 0);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK_RC(locket_acquire(w, 10000, 0), LOCKET_OK);
	/* The command must not run on without the lock. The kernel delivers the
	 * parent-death signal as locket exits; give it a generous while. */
	for (i = 0; i < 500 && process_alive(cmd_pid); i++)
		usleep(10000);
	CHECK(!process_alive(cmd_pid));
	fclose(out);
	locket_free(w);
}
