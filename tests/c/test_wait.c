/* Waiting: deadlines, signals, a lock file that goes away, no inotify. */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

TEST(try_fails_at_once)
{
	child holder = start_holder(test_path("x"), 0);
	locket_t *w;
	double t0;
	CHECK_RC(locket_new(&w, test_path("x"), NULL), LOCKET_OK);
	t0 = test_now_ms();
	CHECK_RC(locket_acquire(w, 0, 0), LOCKET_EWOULDBLOCK);
	CHECK(test_now_ms() - t0 < 1000);
	CHECK(locket_last_error_code() == LOCKET_EWOULDBLOCK);
	child_wait(&holder);
	locket_free(w);
}

TEST(timeout_is_one_deadline)
{
	child holder = start_holder(test_path("x"), 0);
	locket_t *w;
	int attempt;
	CHECK_RC(locket_new(&w, test_path("x"), NULL), LOCKET_OK);
	for (attempt = 0; attempt < 3; attempt++) {
		double t0 = test_now_ms(), elapsed;
		CHECK_RC(locket_acquire(w, 200, attempt == 2 ? LOCKET_INTERRUPTIBLE : 0),
			 LOCKET_ETIMEDOUT);
		elapsed = test_now_ms() - t0;
		CHECK(elapsed >= 199); /* never early */
		CHECK(elapsed < 2000); /* and not twice (or ten times) the timeout */
		CHECK(!locket_locked(w));
	}
	CHECK(strstr(locket_last_error_message(), "timed out") != NULL);
	child_wait(&holder);
	locket_free(w);
}

TEST(shared_waiter_times_out_on_exclusive_holder)
{
	child holder = start_holder(test_path("x"), 0);
	locket_t *w;
	CHECK_RC(locket_new(&w, test_path("x"), NULL), LOCKET_OK);
	CHECK_RC(locket_acquire(w, 100, LOCKET_SHARED), LOCKET_ETIMEDOUT);
	child_say(&holder, "release");
	CHECK(strcmp(child_read(&holder), "released ok") == 0);
	CHECK_RC(locket_acquire(w, 5000, LOCKET_SHARED), LOCKET_OK);
	child_wait(&holder);
	locket_free(w);
}

static volatile sig_atomic_t signals_seen;
static void on_signal(int sig)
{
	(void)sig;
	signals_seen++;
}

struct signaller {
	pthread_t target;
	int done; /* set once the waiter's acquire returned */
	int sig;
	int go[2];
};

/* Signal the waiting thread until its acquire returns: a signal that lands
 * before the wait began is not the end of the test, the next one comes. */
static void *send_signals(void *arg)
{
	struct signaller *s = (struct signaller *)arg;
	char c;
	if (read(s->go[0], &c, 1) != 1)
		return NULL;
	while (!__atomic_load_n(&s->done, __ATOMIC_SEQ_CST)) {
		pthread_kill(s->target, s->sig);
		usleep(20000); /* pacing between signals, not synchronisation */
	}
	return NULL;
}

static void install(int sig, int restart)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = restart ? SA_RESTART : 0;
	sigaction(sig, &sa, NULL);
}

/* Acquire while another thread keeps sending SIGUSR1 (handled, with or
 * without SA_RESTART) to this one; returns the result and the time taken. */
static int acquire_under_signals(locket_t *w, int64_t timeout, unsigned flags, int restart,
				 double *elapsed_ms)
{
	struct signaller s;
	pthread_t t;
	double t0;
	int rc;
	install(SIGUSR1, restart);
	signals_seen = 0;
	s.target = pthread_self();
	s.done = 0;
	s.sig = SIGUSR1;
	CHECK(pipe(s.go) == 0);
	CHECK(pthread_create(&t, NULL, send_signals, &s) == 0);
	CHECK(write(s.go[1], "g", 1) == 1);
	t0 = test_now_ms();
	rc = locket_acquire(w, timeout, flags);
	*elapsed_ms = test_now_ms() - t0;
	__atomic_store_n(&s.done, 1, __ATOMIC_SEQ_CST);
	pthread_join(t, NULL);
	close(s.go[0]);
	close(s.go[1]);
	return rc;
}

static void check_interrupt(int restart, int64_t timeout)
{
	child holder = start_holder(test_path("x"), 0);
	locket_t *w;
	double elapsed;
	CHECK_RC(locket_new(&w, test_path("x"), NULL), LOCKET_OK);
	CHECK_RC(acquire_under_signals(w, timeout, LOCKET_INTERRUPTIBLE, restart, &elapsed),
		 LOCKET_EINTR);
	CHECK(elapsed < 5000);
	CHECK(!locket_locked(w));
	check_held_elsewhere(test_path("x"), 1); /* still the holder's */
	/* The handle is still usable. */
	child_say(&holder, "release");
	CHECK(strcmp(child_read(&holder), "released ok") == 0);
	CHECK_RC(locket_acquire(w, 10000, LOCKET_INTERRUPTIBLE), LOCKET_OK);
	child_wait(&holder);
	locket_free(w);
}

TEST(signal_interrupts_interruptible_wait)
{
	check_interrupt(0, 60000);
}

TEST(signal_interrupts_interruptible_wait_despite_sa_restart)
{
	check_interrupt(1, 60000);
}

TEST(signal_interrupts_interruptible_infinite_wait)
{
	check_interrupt(1, -1);
}

TEST(signals_do_not_end_an_uninterruptible_wait)
{
	child holder = start_holder(test_path("x"), 0);
	locket_t *w;
	double elapsed;
	CHECK_RC(locket_new(&w, test_path("x"), NULL), LOCKET_OK);
	CHECK_RC(acquire_under_signals(w, 1500, 0, 0, &elapsed), LOCKET_ETIMEDOUT);
	CHECK(elapsed >= 1500); /* the same deadline, not restarted, not cut short */
	CHECK(signals_seen >= 3);
	child_wait(&holder);
	locket_free(w);
}

static void hand_over_without_inotify(void *arg)
{
	/* Use up this user's inotify instances, then wait: the wait must fall
	 * back to polling, not fail. */
	const char *path = (const char *)arg;
	child holder = start_holder(path, 0);
	locket_t *w;
	int n = 0;
	while (inotify_init1(IN_CLOEXEC) >= 0)
		n++; /* fs.inotify.max_user_instances is 128 by default */
	if (errno != EMFILE && errno != ENFILE)
		_exit(3);
	if (locket_new(&w, path, NULL) != LOCKET_OK)
		_exit(4);
	if (locket_acquire(w, 50, 0) != LOCKET_ETIMEDOUT)
		_exit(5);
	child_say(&holder, "release");
	if (strcmp(child_read(&holder), "released ok") != 0)
		_exit(6);
	if (locket_acquire(w, 10000, 0) != LOCKET_OK)
		_exit(7);
	child_wait(&holder);
	_exit(n > 0 ? 0 : 8);
}

TEST(wait_without_inotify_falls_back_to_polling)
{
	int status;
	if (!run_as_nobody(hand_over_without_inotify, (void *)test_path("x"), &status))
		test_skip("cannot fork a child");
	CHECK(status == 0);
}

struct waiter {
	locket_t *lock;
	int rc;
	int started[2];
	pid_t tid;
};

static void *wait_10s(void *arg)
{
	struct waiter *w = (struct waiter *)arg;
	w->tid = test_gettid();
	if (write(w->started[1], "s", 1) != 1)
		return NULL;
	w->rc = locket_acquire(w->lock, 10000, 0);
	return NULL;
}

/* Start wait_10s in a thread and return once it waits inside the acquire. */
static void start_waiting(struct waiter *w, pthread_t *t)
{
	char c;
	CHECK(pipe(w->started) == 0);
	CHECK(pthread_create(t, NULL, wait_10s, w) == 0);
	CHECK(read(w->started[0], &c, 1) == 1);
	wait_until_waiting(w->tid);
}

static void remove_dir_later(const char *dir, FILE *in, FILE *out)
{
	char line[16];
	(void)out;
	if (fgets(line, sizeof line, in) == NULL)
		_exit(1);
	_exit(test_system("rm -rf '%s'", dir) == 0 ? 0 : 2);
}

TEST(lock_file_removed_while_waiting)
{
	child holder, remover;
	struct waiter w;
	pthread_t t;
	CHECK(mkdir(test_path("d"), 0755) == 0);
	holder = start_holder(test_path("d/x"), 0);
	CHECK_RC(locket_new(&w.lock, test_path("d/x"), NULL), LOCKET_OK);
	start_waiting(&w, &t);
	remover = child_start(remove_dir_later, test_path("d"));
	child_say(&remover, "go");
	CHECK(child_wait(&remover) == 0);
	/* The waiter respects the holder of the removed file... */
	child_say(&holder, "release");
	CHECK(strcmp(child_read(&holder), "released ok") == 0);
	pthread_join(t, NULL);
	/* ...and then reports that the file is gone, holding nothing. */
	CHECK_RC(w.rc, LOCKET_ENOENT);
	CHECK(!locket_locked(w.lock));
	child_wait(&holder);
	locket_free(w.lock);
}

TEST(lock_file_replaced_while_waiting)
{
	child holder = start_holder(test_path("x"), 0);
	struct waiter w;
	pthread_t t;
	int fd;
	CHECK_RC(locket_new(&w.lock, test_path("x"), NULL), LOCKET_OK);
	start_waiting(&w, &t);
	/* Someone replaces the lock file (what deleting lock files leads to). */
	fd = open(test_path("new"), O_CREAT | O_WRONLY, 0644);
	close(fd);
	CHECK(rename(test_path("new"), test_path("x")) == 0);
	/* The waiter still waits for the holder of the old file... */
	child_say(&holder, "release");
	CHECK(strcmp(child_read(&holder), "released ok") == 0);
	pthread_join(t, NULL);
	/* ...and then holds the file that the path names now. */
	CHECK_RC(w.rc, LOCKET_OK);
	check_held_elsewhere(test_path("x"), 1);
	child_wait(&holder);
	locket_free(w.lock);
}

/* Each waiter, once granted, checks that it is alone (in the test's count
 * and in the kernel's: another handle's try fails), holds a moment so that
 * an overlap would show, and passes the lock on. */
static atomic_int holders_now, holders_most;

struct hold_waiter {
	struct waiter w;
	locket_t *probe;
	int probe_rc;
};

static void *wait_then_hold(void *arg)
{
	struct hold_waiter *h = (struct hold_waiter *)arg;
	int now;
	wait_10s(&h->w);
	if (h->w.rc != LOCKET_OK)
		return NULL;
	now = atomic_fetch_add(&holders_now, 1) + 1;
	if (now > atomic_load(&holders_most))
		atomic_store(&holders_most, now);
	h->probe_rc = locket_acquire(h->probe, 0, 0);
	usleep(2000);
	atomic_fetch_sub(&holders_now, 1);
	h->w.rc = locket_release(h->w.lock);
	return NULL;
}

TEST(many_waiters_one_winner_each_time)
{
	enum {
		N = 6
	};
	child holder = start_holder(test_path("x"), 0);
	struct hold_waiter h[N];
	pthread_t t[N];
	int i;
	char c;
	for (i = 0; i < N; i++) {
		memset(&h[i], 0, sizeof h[i]);
		CHECK_RC(locket_new(&h[i].w.lock, test_path("x"), NULL), LOCKET_OK);
		CHECK_RC(locket_new(&h[i].probe, test_path("x"), NULL), LOCKET_OK);
		CHECK(pipe(h[i].w.started) == 0);
		CHECK(pthread_create(&t[i], NULL, wait_then_hold, &h[i]) == 0);
		CHECK(read(h[i].w.started[0], &c, 1) == 1);
		wait_until_waiting(h[i].w.tid);
	}
	child_say(&holder, "release");
	CHECK(strcmp(child_read(&holder), "released ok") == 0);
	/* All must get the lock before their 10 s, one at a time. */
	for (i = 0; i < N; i++) {
		pthread_join(t[i], NULL);
		CHECK_RC(h[i].w.rc, LOCKET_OK);
		CHECK_RC(h[i].probe_rc, LOCKET_EWOULDBLOCK);
		locket_free(h[i].w.lock);
		locket_free(h[i].probe);
	}
	CHECK(atomic_load(&holders_most) == 1);
	child_wait(&holder);
}

/* The +1 ms in the deadline: the clock counts whole milliseconds, so without
 * it a 1 ms wait that starts late in a millisecond ends at once. Early
 * returns were 7 in 300 without it: 1000 tries. */
TEST(one_ms_timeout_is_never_early)
{
	child holder = start_holder(test_path("x"), 0);
	locket_t *w;
	int i;
	CHECK_RC(locket_new(&w, test_path("x"), NULL), LOCKET_OK);
	for (i = 0; i < 1000; i++) {
		double t0 = test_now_ms(), elapsed;
		CHECK_RC(locket_acquire(w, 1, 0), LOCKET_ETIMEDOUT);
		elapsed = test_now_ms() - t0;
		if (elapsed < 1.0)
			test_fail(__FILE__, __LINE__,
				  "try %d: a 1 ms timeout returned after %.3f ms", i, elapsed);
	}
	child_wait(&holder);
	locket_free(w);
}

/* Run under LD_PRELOAD=fault_inject with LOCKET_FAULT=eintr:3: a blocking
 * wait that is not interruptible retries after EINTR and still gets the lock.
 * The preload tells us (a byte on a pipe) when it has injected the EINTRs; only
 * then does the holder release, so the wait really was blocked. */
struct release_on_cue {
	int cue;
	child *holder;
};

static void *release_after_cue(void *arg)
{
	struct release_on_cue *r = (struct release_on_cue *)arg;
	char c;
	if (read(r->cue, &c, 1) == 1) {
		child_say(r->holder, "release");
		child_read(r->holder);
	}
	return NULL;
}

TEST(fault_eintr_in_blocking_wait_is_retried)
{
	child holder;
	locket_t *w;
	struct release_on_cue r;
	pthread_t t;
	int cue[2];
	char fdnum[16];
	if (getenv("LOCKET_FAULT") == NULL)
		test_skip("needs the fault-injection preload");
	CHECK(pipe(cue) == 0);
	snprintf(fdnum, sizeof fdnum, "%d", cue[1]);
	setenv("LOCKET_FAULT_NOTIFY_FD", fdnum, 1);
	holder = start_holder(test_path("x"), 0);
	CHECK_RC(locket_new(&w, test_path("x"), NULL), LOCKET_OK);
	r.cue = cue[0];
	r.holder = &holder;
	CHECK(pthread_create(&t, NULL, release_after_cue, &r) == 0);
	CHECK_RC(locket_acquire(w, -1, 0), LOCKET_OK);
	pthread_join(t, NULL);
	child_wait(&holder);
	locket_free(w);
}
