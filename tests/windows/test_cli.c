/*
 * locket.exe, the CLI on Windows: runs a command while holding the lock.
 * Registered only when the build has the CLI (cli/run_win.c).
 */
#include "harness.h"

#include <string.h>

static child cli(const char *args)
{
	child c = child_start_exe("locket.exe", args);
	if (c.process == NULL)
		test_skip("locket.exe is not built");
	return c;
}

TEST(cli_runs_command_holding_lock)
{
	const char *path = test_path("lock");
	char args[8192];
	child c;
	snprintf(args, sizeof args, "\"%s\" \"%s\" --child try \"%s\" excl", path,
		 bin_path("locket_win_tests.exe"), path);
	c = cli(args);
	child_expect(&c, "would_block"); /* the command ran while locket held the lock */
	CHECK(child_wait(&c) == 0);
	{
		locket_t *lock;
		CHECK_RC(locket_new(&lock, path, NULL), LOCKET_OK);
		CHECK_RC(locket_acquire(lock, 0, 0), LOCKET_OK); /* released after the command */
		locket_free(lock);
	}
}

TEST(cli_passes_exit_code_on)
{
	char args[8192];
	child c;
	snprintf(args, sizeof args, "\"%s\" \"%s\" --child exit 7", test_path("lock"),
		 bin_path("locket_win_tests.exe"));
	c = cli(args);
	CHECK(child_wait(&c) == 7);
	snprintf(args, sizeof args, "\"%s\" -c \"exit 5\"", test_path("lock")); /* cmd.exe /c */
	c = cli(args);
	CHECK(child_wait(&c) == 5);
	snprintf(args, sizeof args, "\"%s\" no-such-program-here", test_path("lock"));
	c = cli(args);
	CHECK(child_wait(&c) == 69); /* flock(1)'s code for a command that cannot run */
	snprintf(args, sizeof args, "\"%s\" \"%s\" --child exit 0", test_path("missing\\lock"),
		 bin_path("locket_win_tests.exe"));
	c = cli(args);
	CHECK(child_wait(&c) == 66);
}

TEST(cli_conflict_exit_code)
{
	const char *path = test_path("lock");
	locket_t *lock;
	char args[8192];
	child c;
	double t0;
	CHECK_RC(locket_new(&lock, path, NULL), LOCKET_OK);
	CHECK_RC(locket_acquire(lock, 0, 0), LOCKET_OK);
	snprintf(args, sizeof args, "-n \"%s\" \"%s\" --child exit 0", path,
		 bin_path("locket_win_tests.exe"));
	c = cli(args);
	CHECK(child_wait(&c) == 1);
	snprintf(args, sizeof args, "-w 0.3 -E 9 \"%s\" \"%s\" --child exit 0", path,
		 bin_path("locket_win_tests.exe"));
	t0 = test_now_ms();
	c = cli(args);
	CHECK(child_wait(&c) == 9);
	CHECK(test_now_ms() - t0 >= 290);
	locket_free(lock);
}

/* If locket dies, the lock goes, and so must the command. */
TEST(cli_command_dies_with_locket)
{
	const char *path = test_path("lock");
	char args[8192];
	const char *line;
	child c;
	HANDLE cmd;
	locket_t *lock;
	snprintf(args, sizeof args, "\"%s\" \"%s\" --child sayhold", path,
		 bin_path("locket_win_tests.exe"));
	c = cli(args);
	line = child_read(&c);
	CHECK(strncmp(line, "pid ", 4) == 0);
	cmd = OpenProcess(SYNCHRONIZE, FALSE, (DWORD)strtoul(line + 4, NULL, 10));
	CHECK(cmd != NULL);
	CHECK_RC(locket_new(&lock, path, NULL), LOCKET_OK);
	CHECK_RC(locket_acquire(lock, 0, 0), LOCKET_EWOULDBLOCK);
	child_kill(&c);
	CHECK(WaitForSingleObject(cmd, 30000) == WAIT_OBJECT_0);
	CloseHandle(cmd);
	CHECK_RC(locket_acquire(lock, 30000, 0), LOCKET_OK);
	locket_free(lock);
}
