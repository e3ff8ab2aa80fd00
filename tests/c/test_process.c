/* Processes: death of a holder, fork, exec, other tools, introspection. */
#include "harness.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

TEST(killed_holder_releases)
{
	child holder = start_holder(test_path("x"), 0);
	locket_t *w;
	double t0;
	CHECK_RC(locket_new(&w, test_path("x"), NULL), LOCKET_OK);
	CHECK_RC(locket_acquire(w, 0, 0), LOCKET_EWOULDBLOCK);
	child_kill9(&holder);
	t0 = test_now_ms();
	CHECK_RC(locket_acquire(w, 10000, 0), LOCKET_OK);
	CHECK(test_now_ms() - t0 < 5000); /* generous: the point is "not the 10 s timeout" */
	CHECK(child_wait(&holder) == 128 + SIGKILL);
	locket_free(w);
}

TEST(killed_holder_releases_to_blocked_waiter)
{
	child holder = start_holder(test_path("x"), 0);
	locket_t *w;
	CHECK_RC(locket_new(&w, test_path("x"), NULL), LOCKET_OK);
	child_kill9(&holder);
	CHECK_RC(locket_acquire(w, -1, 0), LOCKET_OK); /* a blocking wait */
	child_wait(&holder);
	locket_free(w);
}

TEST(exiting_holder_releases)
{
	child holder = start_holder(test_path("x"), 0);
	locket_t *w;
	CHECK_RC(locket_new(&w, test_path("x"), NULL), LOCKET_OK);
	child_say(&holder, "exit");
	CHECK_RC(locket_acquire(w, 10000, LOCKET_INTERRUPTIBLE), LOCKET_OK);
	CHECK(child_wait(&holder) == 0);
	locket_free(w);
}

TEST(waiter_in_other_process_gets_lock_on_release)
{
	child holder = start_holder(test_path("x"), 0);
	locket_t *w;
	CHECK_RC(locket_new(&w, test_path("x"), NULL), LOCKET_OK);
	CHECK_RC(locket_acquire(w, 0, 0), LOCKET_EWOULDBLOCK);
	child_say(&holder, "release");
	CHECK(strcmp(child_read(&holder), "released ok") == 0);
	CHECK_RC(locket_acquire(w, 10000, 0), LOCKET_OK);
	child_wait(&holder);
	locket_free(w);
}

/* fork(): the child sees the parent's handle as not held and cannot
 * release it; neither releasing, freeing, nor exiting in the child frees
 * the parent's lock. */
TEST(fork_child_cannot_release_parents_lock)
{
	locket_t *lock;
	pid_t pid;
	int status;
	CHECK_RC(locket_new(&lock, test_path("x"), NULL), LOCKET_OK);
	CHECK_RC(locket_acquire(lock, -1, 0), LOCKET_OK);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		int ok = locket_locked(lock) == 0 && locket_release(lock) == LOCKET_ENOTHELD &&
			 strstr(locket_last_error_message(), "fork") != NULL &&
			 locket_acquire(lock, 0, 0) == LOCKET_EWOULDBLOCK;
		locket_free(lock);
		_exit(ok ? 0 : 1);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(locket_locked(lock));
	check_held_elsewhere(test_path("x"), 1);
	CHECK_RC(locket_release(lock), LOCKET_OK);
	check_held_elsewhere(test_path("x"), 0);
	locket_free(lock);
}

TEST(fork_child_can_use_the_handle_after_parent_releases)
{
	locket_t *lock;
	int go[2], tried[2], status;
	pid_t pid;
	char c;
	CHECK(pipe(go) == 0 && pipe(tried) == 0);
	CHECK_RC(locket_new(&lock, test_path("x"), NULL), LOCKET_OK);
	CHECK_RC(locket_acquire(lock, -1, 0), LOCKET_OK);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		int ok;
		close(go[1]);
		ok = locket_acquire(lock, 0, 0) == LOCKET_EWOULDBLOCK;
		if (write(tried[1], "t", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(2);
		ok = ok && locket_acquire(lock, 10000, 0) == LOCKET_OK && locket_locked(lock) &&
		     locket_release(lock) == LOCKET_OK;
		locket_free(lock);
		_exit(ok ? 0 : 1);
	}
	close(go[0]);
	CHECK(read(tried[0], &c, 1) == 1);
	CHECK_RC(locket_release(lock), LOCKET_OK);
	CHECK(write(go[1], "g", 1) == 1);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	locket_free(lock);
}

static void spawn_daemon_and_die(const char *path, FILE *in, FILE *out)
{
	locket_t *lock;
	pid_t daemon_pid;
	(void)in;
	if (locket_new(&lock, path, NULL) != LOCKET_OK || locket_acquire(lock, -1, 0) != LOCKET_OK)
		_exit(1);
	daemon_pid = fork();
	if (daemon_pid == 0) {
		/* A long-lived program started by the holder. */
		execlp("sleep", "sleep", "300", (char *)NULL);
		_exit(127);
	}
	fprintf(out, "daemon %d\n", (int)daemon_pid);
	fflush(out);
	_exit(0); /* the holder dies; its daemon lives on */
}

TEST(program_started_by_holder_does_not_keep_the_lock)
{
	child holder = child_start(spawn_daemon_and_die, test_path("x"));
	int daemon_pid = 0;
	locket_t *w;
	CHECK(sscanf(child_read(&holder), "daemon %d", &daemon_pid) == 1);
	CHECK(child_wait(&holder) == 0);
	CHECK_RC(locket_new(&w, test_path("x"), NULL), LOCKET_OK);
	CHECK_RC(locket_acquire(w, 10000, 0), LOCKET_OK);
	kill(daemon_pid, SIGKILL);
	locket_free(w);
}

TEST(interop_with_flock_command)
{
	locket_t *lock;
	FILE *p;
	char line[32];
	CHECK_RC(locket_new(&lock, test_path("x"), NULL), LOCKET_OK);
	/* flock(1) holds until it reads a line from a fifo. */
	CHECK(test_system("mkfifo '%s' '%s'", test_path("to"), test_path("from")) == 0);
	CHECK(test_system("flock '%s' -c 'echo held > \"%s\"; read x < \"%s\"' &", test_path("x"),
			  test_path("from"), test_path("to")) == 0);
	p = fopen(test_path("from"), "r");
	CHECK(p != NULL && fgets(line, sizeof line, p) != NULL && strcmp(line, "held\n") == 0);
	fclose(p);
	CHECK_RC(locket_acquire(lock, 0, 0), LOCKET_EWOULDBLOCK);
	p = fopen(test_path("to"), "w");
	fputs("go\n", p);
	fclose(p);
	CHECK_RC(locket_acquire(lock, 10000, 0), LOCKET_OK);
	/* And flock(1) is refused while we hold. */
	CHECK(test_system("flock -n '%s' true", test_path("x")) == 1);
	CHECK_RC(locket_release(lock), LOCKET_OK);
	CHECK(test_system("flock -n '%s' true", test_path("x")) == 0);
	locket_free(lock);
}

TEST(holder_pid)
{
	child holder = start_holder(test_path("x"), 0);
	locket_t *lock;
	int64_t pid = -1;
	CHECK_RC(locket_new(&lock, test_path("x"), NULL), LOCKET_OK);
	if (engine_is_portable()) {
		/* Documented: on Linux F_GETLK does not see flock() locks, so the
		 * portable engine cannot tell (core/portable/holder.c). */
		CHECK_RC(locket_holder_pid(lock, &pid), LOCKET_ENOTSUP);
		CHECK(pid == 0);
		CHECK(strstr(locket_last_error_message(), "F_GETLK") != NULL);
		child_wait(&holder);
		locket_free(lock);
		return;
	}
	CHECK_RC(locket_holder_pid(lock, &pid), LOCKET_OK);
	CHECK(pid == holder.pid);
	child_say(&holder, "release");
	CHECK(strcmp(child_read(&holder), "released ok") == 0);
	CHECK_RC(locket_holder_pid(lock, &pid), LOCKET_OK);
	CHECK(pid == 0);
	{
		/* A lock on another file of the same filesystem is not this file's holder. */
		child neighbour = start_holder(test_path("y"), 0);
		CHECK_RC(locket_holder_pid(lock, &pid), LOCKET_OK);
		CHECK(pid == 0);
		child_wait(&neighbour);
	}
	CHECK_RC(locket_acquire(lock, 0, 0), LOCKET_OK);
	CHECK_RC(locket_holder_pid(lock, &pid), LOCKET_OK);
	CHECK(pid == getpid());
	child_wait(&holder);
	locket_free(lock);
}

TEST(holder_pid_of_removed_file)
{
	locket_t *lock;
	int64_t pid = -1;
	CHECK_RC(locket_new(&lock, test_path("x"), NULL), LOCKET_OK);
	CHECK(unlink(test_path("x")) == 0);
	CHECK_RC(locket_holder_pid(lock, &pid), LOCKET_ENOENT);
	CHECK(pid == 0);
	locket_free(lock);
}
