/* fork() never waits on I/O, and costs what the open descriptors cost, not
 * what the live handles cost (docs/design.md, "fork"). */
#include "harness.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- a hung open(), by fault injection (tests/c/fault_inject.c) ---- */

struct hang_ctl {
	int notify[2];  /* the injector says "hung" here */
	int release[2]; /* and waits for a byte here */
};

/* The next open() of path hangs; call after the handle was made. */
static void hang_next_open(struct hang_ctl *h, const char *path)
{
	char buf[16];
	if (getenv("LOCKET_FAULT") == NULL)
		test_skip("needs the fault injector (LD_PRELOAD, registered by CMake)");
	CHECK(pipe(h->notify) == 0 && pipe(h->release) == 0);
	CHECK(setenv("LOCKET_FAULT_FROM", path, 1) == 0);
	snprintf(buf, sizeof buf, "%d", h->notify[1]);
	CHECK(setenv("LOCKET_FAULT_NOTIFY_FD", buf, 1) == 0);
	snprintf(buf, sizeof buf, "%d", h->release[0]);
	CHECK(setenv("LOCKET_FAULT_RELEASE_FD", buf, 1) == 0);
}

static void wait_until_hung(struct hang_ctl *h)
{
	char c;
	CHECK(read(h->notify[0], &c, 1) == 1);
}

static void end_hang(struct hang_ctl *h)
{
	CHECK(write(h->release[1], "!", 1) == 1);
}

struct acquirer {
	locket_t *lock;
	unsigned int flags;
	int64_t timeout_ms;
	int rc;
	pid_t tid;
	int started[2]; /* the thread writes a byte before it acquires */
};

static void *acquire_main(void *arg)
{
	struct acquirer *a = (struct acquirer *)arg;
	a->tid = test_gettid();
	if (write(a->started[1], "!", 1) != 1)
		abort();
	a->rc = locket_acquire(a->lock, a->timeout_ms, a->flags);
	return NULL;
}

static void start_acquirer(struct acquirer *a, pthread_t *t)
{
	char c;
	CHECK(pipe(a->started) == 0);
	CHECK(pthread_create(t, NULL, acquire_main, a) == 0);
	CHECK(read(a->started[0], &c, 1) == 1);
	close(a->started[0]);
	close(a->started[1]);
}

/* Ends the hang if fork() has not returned within 2 s, so that a fork that
 * waits for the open fails the test instead of hanging it. */
struct watchdog {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done, fired;
	struct hang_ctl *hang;
};

static void *watchdog_main(void *arg)
{
	struct watchdog *w = (struct watchdog *)arg;
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 2;
	pthread_mutex_lock(&w->mu);
	while (!w->done)
		if (pthread_cond_timedwait(&w->cv, &w->mu, &deadline) == ETIMEDOUT)
			break;
	if (!w->done) {
		w->fired = 1;
		end_hang(w->hang);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* Item 5 of issue 19: a thread's open() of a lock file hangs; another
 * thread's fork() must return at once. It used to wait for the open (the
 * open held the handle's mutex, which the prepare handler takes): every
 * subprocess start in the process blocked on a dead NFS or FUSE server. */
TEST(fault_fork_does_not_wait_for_a_hung_open)
{
	char path[4096];
	struct watchdog w = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, NULL };
	struct acquirer a;
	struct hang_ctl h;
	pthread_t t, wt;
	double t0, ms;
	int status;
	pid_t pid;
	snprintf(path, sizeof path, "%s", test_path("hang.lock"));
	memset(&a, 0, sizeof a);
	CHECK_RC(locket_new(&a.lock, path, NULL), LOCKET_OK);
	hang_next_open(&h, path);
	a.timeout_ms = 10000;
	start_acquirer(&a, &t);
	wait_until_hung(&h);
	w.hang = &h;
	CHECK(pthread_create(&wt, NULL, watchdog_main, &w) == 0);
	fflush(NULL);
	t0 = test_now_ms();
	pid = fork();
	if (pid == 0) {
		/* The handle works here: not held, free for this process to take. */
		int ok = locket_locked(a.lock) == 0 && locket_acquire(a.lock, 0, 0) == LOCKET_OK &&
			 locket_release(a.lock) == LOCKET_OK;
		_exit(ok ? 0 : 1);
	}
	ms = test_now_ms() - t0;
	pthread_mutex_lock(&w.mu);
	w.done = 1;
	pthread_cond_signal(&w.cv);
	pthread_mutex_unlock(&w.mu);
	CHECK(pthread_join(wt, NULL) == 0);
	CHECK(pid > 0);
	CHECK(!w.fired);
	CHECK(ms < 1000);
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	end_hang(&h);
	CHECK(pthread_join(t, NULL) == 0);
	CHECK_RC(a.rc, LOCKET_OK); /* the open, made again after the fork, took the lock */
	CHECK(locket_locked(a.lock) == 1);
	check_held_elsewhere(path, 1);
	CHECK_RC(locket_release(a.lock), LOCKET_OK);
	check_held_elsewhere(path, 0);
	locket_free(a.lock);
}

/* In its own process: a thread's open() has returned a descriptor but not
 * yet to locket when another thread forks a child that lives on (so the
 * child has an unrecorded copy). Says "held CHILD_PID" once the thread
 * holds the lock, then waits to be killed. */
static void holder_racing_a_fork(const char *path, FILE *in, FILE *out)
{
	struct acquirer a;
	struct hang_ctl h;
	pthread_t t;
	char line[16];
	pid_t worker;
	memset(&a, 0, sizeof a);
	if (locket_new(&a.lock, path, NULL) != LOCKET_OK)
		_exit(2);
	hang_next_open(&h, path);
	a.timeout_ms = 10000;
	start_acquirer(&a, &t);
	wait_until_hung(&h);
	fflush(NULL);
	worker = fork();
	if (worker == 0) {
		/* Keeps whatever descriptors it has until the test is done with it
		 * (closes its end of our pipe), whatever happens to us. */
		while (fgets(line, sizeof line, in) != NULL)
			;
		_exit(0);
	}
	end_hang(&h);
	pthread_join(t, NULL);
	fprintf(out, "held %d %s\n", (int)worker, locket_error_name(a.rc));
	fflush(out);
	while (fgets(line, sizeof line, in) != NULL)
		;
}

/* The descriptor that the child copied must never be the one locked: the
 * open is made again, so a child that outlives its killed parent does not
 * keep the parent's lock. */
TEST(fault_open_that_raced_a_fork_is_made_again)
{
	const char *path = test_path("raced.lock");
	child holder = child_start(holder_racing_a_fork, path);
	int worker = 0;
	char rc[32];
	CHECK(sscanf(child_read(&holder), "held %d %31s", &worker, rc) == 2 && worker > 0);
	if (strcmp(rc, "ok") != 0)
		test_fail(__FILE__, __LINE__, "the holder's acquire gave %s", rc);
	check_held_elsewhere(path, 1);
	child_kill9(&holder);
	CHECK(waitpid(holder.pid, NULL, 0) == holder.pid);
	CHECK(kill(worker, 0) == 0);
	check_held_elsewhere(path, 0); /* the worker lives on, with an unlocked copy */
	CHECK(kill(worker, 0) == 0);
	fclose(holder.to); /* the worker's cue to exit */
	fclose(holder.from);
}

/* A second shared acquirer of one handle waits on the handle's condition
 * variable for the slot when another thread forks: in the child the handle
 * must be usable (not held, a fresh mutex and condition variable). */
TEST(fork_while_a_thread_waits_for_the_handle_slot)
{
	const char *path = test_path("slot.lock");
	struct acquirer a;
	pthread_t t;
	int status;
	pid_t pid;
	memset(&a, 0, sizeof a);
	CHECK_RC(locket_new(&a.lock, path, NULL), LOCKET_OK);
	CHECK_RC(locket_acquire(a.lock, 0, LOCKET_SHARED), LOCKET_OK);
	a.timeout_ms = -1;
	a.flags = LOCKET_SHARED;
	start_acquirer(&a, &t);
	wait_until_waiting(a.tid);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		int ok = locket_locked(a.lock) == 0;
		ok = ok && locket_release(a.lock) == LOCKET_ENOTHELD &&
		     strstr(locket_last_error_message(), "fork") != NULL;
		ok = ok && locket_acquire(a.lock, 0, 0) == LOCKET_EWOULDBLOCK; /* the parent's shared lock */
		ok = ok && locket_acquire(a.lock, 0, LOCKET_SHARED) == LOCKET_OK && locket_locked(a.lock) == 1;
		ok = ok && locket_acquire(a.lock, 100, LOCKET_SHARED) == LOCKET_ETIMEDOUT; /* binary */
		ok = ok && locket_release(a.lock) == LOCKET_OK;
		locket_free(a.lock);
		_exit(ok ? 0 : 1);
	}
	CHECK(pid > 0);
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK_RC(locket_release(a.lock), LOCKET_OK);
	CHECK(pthread_join(t, NULL) == 0);
	CHECK_RC(a.rc, LOCKET_OK);
	CHECK_RC(locket_release(a.lock), LOCKET_OK);
	locket_free(a.lock);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Median microseconds of fork() + the child's _exit(0) + waitpid(). */
static double fork_us(int rounds)
{
	double v[64];
	for (int i = 0; i < rounds && i < 64; i++) {
		double t0 = test_now_ms();
		pid_t pid = fork();
		if (pid == 0)
			_exit(0);
		CHECK(pid > 0 && waitpid(pid, NULL, 0) == pid);
		v[i] = (test_now_ms() - t0) * 1000.0;
	}
	qsort(v, (size_t)rounds, sizeof v[0], cmp_double);
	return v[rounds / 2];
}

/* Item 6 of issue 19: the fork handlers used to lock, touch and unlock every
 * live handle (20k idle handles: ~10 ms per fork here, 30x the same heap
 * without handles). Now they see only open descriptors. The control is the
 * same number of heap blocks without handles, freed for the handles to
 * reuse, so both forks copy about the same page tables. */
TEST(fork_cost_follows_open_descriptors_not_handles)
{
	enum { N = 20000, ROUNDS = 31 };
	const char *path = test_path("many.lock");
	locket_t **locks = calloc(N, sizeof *locks), *warm;
	void **blocks = calloc(N, sizeof *blocks);
	double control, with_handles;
	CHECK_RC(locket_new(&warm, path, NULL), LOCKET_OK); /* handlers registered for both */
	for (int i = 0; i < N; i++) {
		blocks[i] = malloc(384);
		memset(blocks[i], 1, 384);
	}
	control = fork_us(ROUNDS);
	for (int i = 0; i < N; i++)
		free(blocks[i]);
	for (int i = 0; i < N; i++)
		CHECK_RC(locket_new(&locks[i], path, NULL), LOCKET_OK);
	with_handles = fork_us(ROUNDS);
	printf("fork+exit+wait: %.0f us with %d idle handles, %.0f us with the same heap and none\n",
	       with_handles, N, control);
	CHECK(with_handles < 4 * control + 1000);
	for (int i = 0; i < N; i++)
		locket_free(locks[i]);
	locket_free(warm);
	free(locks);
	free(blocks);
}
