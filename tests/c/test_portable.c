/*
 * The portable engine (core/portable/) in what only it does: a release by a
 * thread of the same process wakes that process's waiters of the file at
 * once (a per-wait pipe), a wait keeps no descriptor after it ends, and a
 * forked child drops the pipes of its parent's waiting threads. The rest of
 * the contract is the whole suite's, run on this engine by the `portable`
 * preset. Each test skips on the Linux engine, which has its own (futex
 * wake-ups: test_engine.c).
 */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void need_portable(void)
{
	if (!engine_is_portable())
		test_skip("a test of the portable engine (LOCKET_ENGINE=portable)");
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* How many of this process's descriptors are pipes (by their /proc links:
 * no call on the descriptors themselves, which other threads own). */
static int pipes_open(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;
	CHECK(d != NULL);
	while ((e = readdir(d)) != NULL) {
		char path[300], link[64];
		ssize_t len;
		if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d))
			continue;
		snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
		len = readlink(path, link, sizeof link - 1);
		if (len > 0 && strncmp(link, "pipe:", 5) == 0)
			n++;
	}
	closedir(d);
	return n;
}

/* Behind another process's holder only the backoff (up to 4 ms) finds the
 * release; behind a holder of the same process the release wakes the wait.
 * A wait that only backed off would get the lock within 1 ms of the release
 * in at most a quarter of the rounds (none of 15, measured): 10 of 15 cannot
 * be luck, and 5 slow rounds leave room for a loaded machine. */
TEST(portable_release_in_this_process_wakes_a_timed_wait_at_once)
{
	const char *path = test_path("x");
	locket_t *holder;
	int round, soon = 0;
	need_portable();
	CHECK_RC(locket_new(&holder, path, NULL), LOCKET_OK);
	for (round = 0; round < 15; round++) {
		struct thread_waiter w = { 0 };
		pthread_t t;
		double released;
		CHECK_RC(locket_acquire(holder, 0, 0), LOCKET_OK);
		w.path = path;
		w.timeout_ms = 10000;
		t = start_waiter(&w);
		sleep_ms(20); /* the wait's backoff is at its ceiling by now */
		released = test_now_ms();
		CHECK_RC(locket_release(holder), LOCKET_OK);
		pthread_join(t, NULL);
		CHECK_RC(w.rc, LOCKET_OK);
		if (w.returned_ms - released < 1.0)
			soon++;
	}
	if (soon < 10)
		test_fail(__FILE__, __LINE__,
			  "only %d of 15 waits got the lock within 1 ms of a release in the same "
			  "process",
			  soon);
	locket_free(holder);
}

/* A wait's pipe lives as long as the wait: none is left after a timeout or a
 * grant (no descriptor kept per thread, per handle or per process). */
TEST(portable_wait_keeps_no_descriptor)
{
	const char *path = test_path("x");
	child h = start_holder(path, 0);
	locket_t *lock;
	int before;
	need_portable();
	before = pipes_open();
	CHECK_RC(locket_new(&lock, path, NULL), LOCKET_OK);
	CHECK_RC(locket_acquire(lock, 50, 0), LOCKET_ETIMEDOUT);
	CHECK(pipes_open() == before);
	child_say(&h, "release");
	CHECK(strcmp(child_read(&h), "released ok") == 0);
	CHECK_RC(locket_acquire(lock, 10000, LOCKET_INTERRUPTIBLE), LOCKET_OK);
	CHECK(pipes_open() == before);
	CHECK_RC(locket_release(lock), LOCKET_OK);
	locket_free(lock);
	child_wait(&h);
}

/* fork() while another thread waits: the child closes that wait's pipe (it
 * has no such thread) and its own waits and releases still work (the list's
 * lock was not left taken). */
TEST(portable_forked_child_drops_the_waits_of_its_parents_threads)
{
	const char *path = test_path("x");
	struct thread_waiter w = { 0 };
	locket_t *holder;
	pthread_t t;
	int before, status;
	pid_t pid;
	need_portable();
	before = pipes_open();
	CHECK_RC(locket_new(&holder, path, NULL), LOCKET_OK);
	CHECK_RC(locket_acquire(holder, 0, 0), LOCKET_OK);
	w.path = path;
	w.timeout_ms = 10000;
	t = start_waiter(&w);
	CHECK(pipes_open() == before + 2); /* the wait's pipe */
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		locket_t *l;
		int ok = pipes_open() == before;
		/* The parent's handle still holds the file: a timed wait times
		 * out, and a lock on another file comes and goes. */
		ok = ok && locket_new(&l, path, NULL) == LOCKET_OK &&
		     locket_acquire(l, 30, 0) == LOCKET_ETIMEDOUT;
		locket_free(l);
		ok = ok && locket_new(&l, test_path("y"), NULL) == LOCKET_OK &&
		     locket_acquire(l, 1000, 0) == LOCKET_OK && locket_release(l) == LOCKET_OK;
		locket_free(l);
		_exit(ok && pipes_open() == before ? 0 : 1);
	}
	CHECK(pid > 0);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK_RC(locket_release(holder), LOCKET_OK);
	pthread_join(t, NULL);
	CHECK_RC(w.rc, LOCKET_OK);
	CHECK(pipes_open() == before);
	locket_free(holder);
}

/* A thread cancelled in its wait (pselect() is a cancellation point) leaves
 * no wait listed and no pipe open: a later release must not write to a dead
 * thread's stack. (Cancelling a wait is not part of the contract, only not
 * corrupting the process: the core may keep the wait's descriptor open.) */
static locket_t *cancelled_lock;

static void *cancelled_waiter_main(void *p)
{
	struct thread_waiter *w = (struct thread_waiter *)p;
	atomic_store(&w->tid, (int)test_gettid());
	if (locket_new(&cancelled_lock, w->path, NULL) == LOCKET_OK)
		w->rc = locket_acquire(cancelled_lock, w->timeout_ms, 0);
	return NULL;
}

TEST(portable_cancelled_wait_leaves_nothing_behind)
{
	const char *path = test_path("x");
	struct thread_waiter w = { 0 };
	locket_t *holder;
	pthread_t t;
	int before;
	need_portable();
	before = pipes_open();
	CHECK_RC(locket_new(&holder, path, NULL), LOCKET_OK);
	CHECK_RC(locket_acquire(holder, 0, 0), LOCKET_OK);
	w.path = path;
	w.timeout_ms = 10000;
	atomic_store(&w.tid, 0);
	CHECK(pthread_create(&t, NULL, cancelled_waiter_main, &w) == 0);
	while (atomic_load(&w.tid) == 0)
		sched_yield();
	wait_until_waiting((pid_t)atomic_load(&w.tid));
	CHECK(pipes_open() == before + 2);
	CHECK(pthread_cancel(t) == 0);
	CHECK(pthread_join(t, NULL) == 0);
	CHECK(pipes_open() == before);
	CHECK_RC(locket_release(holder), LOCKET_OK); /* walks the table: nothing listed */
	locket_free(holder);
	locket_free(cancelled_lock);
}
