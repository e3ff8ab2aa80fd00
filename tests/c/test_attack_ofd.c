/* Attacks on the OFD kind and byte ranges (issue 24), on either engine: a
 * killed holder, fork with a second thread, a range waiter behind another
 * range, shared against exclusive, deadlines, signals aimed at a waiting
 * thread, many threads on many files, and a file renamed over during a
 * wait. Each test states the contract it tries to break. */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static locket_t *attack_ofd(const char *path, int64_t start, int64_t length)
{
	locket_options o = LOCKET_OPTIONS_INIT;
	locket_t *h;
	o.kind = LOCKET_KIND_OFD;
	o.start = start;
	o.length = length;
	CHECK_RC(locket_new(&h, path, &o), LOCKET_OK);
	return h;
}

/* In a fresh process: can a POSIX lock of type on [start, start+len) be had
 * now? 1: it conflicts (held), 0: free. */
static int attack_posix_conflicts(const char *path, short type, off_t start, off_t len)
{
	int status;
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		struct flock fl;
		int fd = open(path, O_RDWR);
		if (fd < 0)
			_exit(3);
		memset(&fl, 0, sizeof fl);
		fl.l_type = type;
		fl.l_whence = SEEK_SET;
		fl.l_start = start;
		fl.l_len = len;
		if (fcntl(fd, F_SETLK, &fl) == 0)
			_exit(0);
		_exit(errno == EAGAIN || errno == EACCES ? 1 : 4);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) <= 1);
	return WEXITSTATUS(status);
}

/* A child holding an OFD handle: arg is "s|x START LENGTH PATH". Says
 * "held", then on "release" says "released <name>"; holds until killed or
 * its pipe closes. */
static void ofd_range_holder(const char *arg, FILE *in, FILE *out)
{
	char path[1024], line[64], mode;
	long long start, length;
	locket_t *h;
	int rc;
	CHECK(sscanf(arg, "%c %lld %lld %1023s", &mode, &start, &length, path) == 4);
	h = attack_ofd(path, start, length);
	rc = locket_acquire(h, 10000, mode == 's' ? LOCKET_SHARED : 0);
	if (rc != LOCKET_OK) {
		fprintf(out, "error %s\n", locket_error_name(rc));
		_exit(1);
	}
	fprintf(out, "held\n");
	fflush(out);
	while (fgets(line, sizeof line, in) != NULL) {
		if (strncmp(line, "release", 7) == 0) {
			fprintf(out, "released %s\n", locket_error_name(locket_release(h)));
			fflush(out);
		}
	}
	locket_free(h);
}

static child start_range_holder(const char *path, char mode, long long start, long long length)
{
	static char arg[1100];
	child c;
	snprintf(arg, sizeof arg, "%c %lld %lld %s", mode, start, length, path);
	c = child_start(ofd_range_holder, arg);
	CHECK(strcmp(child_read(&c), "held") == 0);
	return c;
}

/* A thread's acquisition, timed. */
typedef struct acq {
	locket_t *h;
	int64_t timeout_ms;
	unsigned int flags;
	pid_t tid;
	int rc;
	double done_at;
	sigset_t mask_after;
} acq;

static void *acq_main(void *p)
{
	acq *a = (acq *)p;
	__atomic_store_n(&a->tid, test_gettid(), __ATOMIC_SEQ_CST);
	a->rc = locket_acquire(a->h, a->timeout_ms, a->flags);
	{
		double now = test_now_ms();
		__atomic_store(&a->done_at, &now, __ATOMIC_SEQ_CST);
	}
	pthread_sigmask(SIG_SETMASK, NULL, &a->mask_after);
	return NULL;
}

/* The thread's acquisition has returned (read while it may still run). */
static int acq_done(acq *a)
{
	double at;
	__atomic_load(&a->done_at, &at, __ATOMIC_SEQ_CST);
	return at != 0;
}

static void acq_start(pthread_t *t, acq *a)
{
	pid_t tid;
	CHECK(pthread_create(t, NULL, acq_main, a) == 0);
	while ((tid = __atomic_load_n(&a->tid, __ATOMIC_SEQ_CST)) == 0)
		sched_yield();
	wait_until_waiting(tid);
}

/* A holder killed with SIGKILL releases its OFD lock with its last
 * descriptor; a timed waiter in another process gets it within the engine's
 * longest sleep behind a locket holder (250 ms; the portable engine's
 * backoff: 4 ms), not at its deadline. */
TEST(attack_ofd_killed_holder_hands_over_to_a_timed_waiter)
{
	const char *path = test_path("x");
	child holder = start_range_holder(path, 'x', 0, 0);
	locket_t *h = attack_ofd(path, 0, 0);
	acq a = { h, 20000, 0, 0, 0, 0, { { 0 } } };
	pthread_t t;
	double t0;
	acq_start(&t, &a);
	t0 = test_now_ms();
	child_kill9(&holder);
	CHECK(child_wait(&holder) == 128 + SIGKILL);
	CHECK(pthread_join(t, NULL) == 0);
	CHECK_RC(a.rc, LOCKET_OK);
	CHECK(a.done_at - t0 < 1500);
	CHECK(attack_posix_conflicts(path, F_RDLCK, 0, 1) == 1);
	CHECK_RC(locket_release(h), LOCKET_OK);
	locket_free(h);
}

/* Fork while an OFD lock is held and a second thread of the parent is in a
 * timed OFD wait on another range of the same file: the child's free, its
 * own tries and its exit leave the parent's lock alone, and the parent's
 * waiter still ends on the parent's release. */
static volatile int stop_spinning;

static void *spinner(void *p)
{
	(void)p;
	while (!__atomic_load_n(&stop_spinning, __ATOMIC_RELAXED))
		sched_yield();
	return NULL;
}

TEST(attack_ofd_fork_with_threads_keeps_the_parent_lock)
{
	const char *path = test_path("x");
	locket_t *h = attack_ofd(path, 0, 100), *w = attack_ofd(path, 50, 100);
	acq a = { w, 20000, 0, 0, 0, 0, { { 0 } } };
	pthread_t t, spin;
	int status;
	pid_t pid;
	CHECK_RC(locket_acquire(h, 0, 0), LOCKET_OK);
	CHECK(pthread_create(&spin, NULL, spinner, NULL) == 0);
	acq_start(&t, &a); /* w waits for [50, 150), which overlaps h's [0, 100) */
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		/* The child: not held here, a try conflicts with the parent's
		 * lock, a release is refused, and free closes without unlocking. */
		int ok = !locket_locked(h) && locket_release(h) == LOCKET_ENOTHELD &&
			 locket_acquire(h, 0, 0) == LOCKET_EWOULDBLOCK &&
			 locket_acquire(h, 50, 0) == LOCKET_ETIMEDOUT;
		locket_free(h);
		_exit(ok ? 0 : 1);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(locket_locked(h));
	CHECK(attack_posix_conflicts(path, F_RDLCK, 10, 1) == 1);
	CHECK(!acq_done(&a)); /* still waiting */
	CHECK_RC(locket_release(h), LOCKET_OK);
	CHECK(pthread_join(t, NULL) == 0);
	CHECK_RC(a.rc, LOCKET_OK);
	CHECK(attack_posix_conflicts(path, F_RDLCK, 10, 1) == 0);
	CHECK(attack_posix_conflicts(path, F_RDLCK, 60, 1) == 1);
	__atomic_store_n(&stop_spinning, 1, __ATOMIC_RELAXED);
	CHECK(pthread_join(spin, NULL) == 0);
	CHECK_RC(locket_release(w), LOCKET_OK);
	locket_free(w);
	locket_free(h);
}

/* A waiter for one range behind a locket holder of another, overlapping
 * range (its own wake-up slot has no locket holder): the holder's release
 * hands over promptly, by the close event or the 10 ms timer (portable: the
 * backoff), never by the waiter's deadline. Three shapes: the waiter's
 * range inside, straddling, and to the end of the file. */
static void range_handover(long long hs, long long hl, long long ws, long long wl)
{
	const char *path = test_path("x");
	child holder = start_range_holder(path, 'x', hs, hl);
	locket_t *h = attack_ofd(path, ws, wl);
	acq a = { h, 20000, 0, 0, 0, 0, { { 0 } } };
	pthread_t t;
	double t0;
	acq_start(&t, &a);
	child_say(&holder, "release");
	t0 = test_now_ms();
	CHECK(strcmp(child_read(&holder), "released ok") == 0);
	CHECK(pthread_join(t, NULL) == 0);
	CHECK_RC(a.rc, LOCKET_OK);
	CHECK(a.done_at - t0 < 500);
	CHECK_RC(locket_release(h), LOCKET_OK);
	locket_free(h);
	child_wait(&holder);
}

TEST(attack_ofd_range_waiter_woken_by_an_overlapping_release)
{
	range_handover(0, 100, 10, 10);  /* inside */
	range_handover(0, 100, 90, 100); /* straddling the end */
	range_handover(50, 10, 0, 0);    /* the waiter's to the end of the file */
}

/* Two shared OFD holders in two processes and an exclusive waiter: the
 * first release does not let it in, the second does, at once. */
TEST(attack_ofd_exclusive_waits_for_every_shared_holder)
{
	const char *path = test_path("x");
	child s1 = start_range_holder(path, 's', 0, 0);
	child s2 = start_range_holder(path, 's', 0, 0);
	locket_t *h = attack_ofd(path, 0, 0);
	acq a = { h, 20000, 0, 0, 0, 0, { { 0 } } };
	pthread_t t;
	double t0;
	acq_start(&t, &a);
	child_say(&s1, "release");
	CHECK(strcmp(child_read(&s1), "released ok") == 0);
	/* s2 still holds: a shared POSIX lock still fits, an exclusive does not. */
	CHECK(attack_posix_conflicts(path, F_RDLCK, 0, 1) == 0);
	CHECK(!locket_locked(h) && !acq_done(&a));
	child_say(&s2, "release");
	t0 = test_now_ms();
	CHECK(strcmp(child_read(&s2), "released ok") == 0);
	CHECK(pthread_join(t, NULL) == 0);
	CHECK_RC(a.rc, LOCKET_OK);
	CHECK(a.done_at - t0 < 500);
	CHECK(attack_posix_conflicts(path, F_RDLCK, 0, 1) == 1);
	CHECK_RC(locket_release(h), LOCKET_OK);
	locket_free(h);
	/* s2 last started, first ended: it holds copies of s1's pipes. */
	child_wait(&s2);
	child_wait(&s1);
}

/* Deadlines: no early return and no large overshoot, behind a locket holder
 * (whose release would wake: the engine sleeps long), behind a POSIX lock
 * of another process, and behind the same handle held by another thread. */
static void check_timeout(locket_t *h, int64_t ms, unsigned int flags, int held_here)
{
	double t0 = test_now_ms(), took;
	CHECK_RC(locket_acquire(h, ms, flags), LOCKET_ETIMEDOUT);
	took = test_now_ms() - t0;
	if (took < (double)ms || took > (double)ms + 400)
		test_fail(__FILE__, __LINE__, "a %lld ms timeout took %.1f ms", (long long)ms,
			  took);
	CHECK(locket_locked(h) == held_here);
}

static void posix_lock_child(const char *arg, FILE *in, FILE *out)
{
	struct flock fl;
	char line[16];
	int fd = open(arg, O_RDWR | O_CREAT, 0644);
	CHECK(fd >= 0);
	memset(&fl, 0, sizeof fl);
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	fl.l_start = 5;
	fl.l_len = 1;
	CHECK(fcntl(fd, F_SETLK, &fl) == 0);
	fprintf(out, "held\n");
	fflush(out);
	while (fgets(line, sizeof line, in) != NULL)
		;
}

TEST(attack_ofd_timeouts_are_honoured)
{
	const char *path = test_path("x");
	child locketh = start_range_holder(path, 'x', 0, 10);
	child posix;
	locket_t *h = attack_ofd(path, 0, 10), *same;
	check_timeout(h, 30, 0, 0);
	check_timeout(h, 300, 0, 0); /* longer than the 250 ms sleep behind a locket holder */
	check_timeout(h, 120, LOCKET_SHARED | LOCKET_INTERRUPTIBLE, 0);
	child_say(&locketh, "release");
	CHECK(strcmp(child_read(&locketh), "released ok") == 0);
	child_wait(&locketh);
	posix = child_start(posix_lock_child, path);
	CHECK(strcmp(child_read(&posix), "held") == 0);
	check_timeout(h, 50, 0, 0);
	check_timeout(h, 260, LOCKET_SHARED, 0);
	child_wait(&posix);
	/* The same handle, held by this thread: the slot's wait. */
	same = attack_ofd(path, 100, 0);
	CHECK_RC(locket_acquire(same, 0, LOCKET_SHARED), LOCKET_OK);
	check_timeout(same, 80, LOCKET_SHARED, 1);
	CHECK_RC(locket_release(same), LOCKET_OK);
	locket_free(same);
	locket_free(h);
}

/* A flag-only interruptible wait ends on a signal aimed at the waiting
 * thread while another thread runs (and blocks nothing), and leaves the
 * waiter's signal mask as it was; a signal handled by the other thread
 * does not end it. */
static volatile sig_atomic_t handled;
static void on_usr1(int sig)
{
	(void)sig;
	handled++;
}

TEST(attack_ofd_interruptible_wait_with_a_second_thread)
{
	const char *path = test_path("x");
	child posix = child_start(posix_lock_child, path);
	locket_t *h = attack_ofd(path, 0, 0);
	acq a = { h, 20000, LOCKET_INTERRUPTIBLE, 0, 0, 0, { { 0 } } };
	struct sigaction sa;
	sigset_t before, usr2;
	pthread_t t;
	double t0;
	CHECK(strcmp(child_read(&posix), "held") == 0);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_RESTART;
	CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
	/* The waiter inherits a mask with SIGUSR2 blocked; it must keep it. */
	sigemptyset(&usr2);
	sigaddset(&usr2, SIGUSR2);
	CHECK(pthread_sigmask(SIG_BLOCK, &usr2, &before) == 0);
	acq_start(&t, &a);
	/* This thread takes a SIGUSR1 itself: the waiter sleeps on. */
	CHECK(pthread_kill(pthread_self(), SIGUSR1) == 0);
	CHECK(handled == 1);
	wait_until_waiting(a.tid);
	CHECK(!acq_done(&a));
	t0 = test_now_ms();
	CHECK(pthread_kill(t, SIGUSR1) == 0);
	CHECK(pthread_join(t, NULL) == 0);
	CHECK_RC(a.rc, LOCKET_EINTR);
	CHECK(a.done_at - t0 < 500);
	CHECK(!locket_locked(h));
	CHECK(sigismember(&a.mask_after, SIGUSR2) == 1);
	CHECK(sigismember(&a.mask_after, SIGUSR1) == 0);
	CHECK(pthread_sigmask(SIG_SETMASK, &before, NULL) == 0);
	locket_free(h);
	child_wait(&posix);
}

/* Many threads in two processes on many files, each with two disjoint
 * ranges: every range excludes (a shared-memory count inside each critical
 * section never exceeds one), and every acquisition ends by its deadline. */
#define MT_FILES 3
#define MT_THREADS 4
#define MT_ROUNDS 60

typedef struct mt_shared {
	int inside[MT_FILES][2];
	int violations;
	int timeouts;
	int errors;
} mt_shared;

static mt_shared *mt;
static char mt_paths[MT_FILES][1024];

static void *mt_worker(void *p)
{
	unsigned int seed = (unsigned int)(uintptr_t)p * 2654435761u ^ (unsigned int)getpid();
	locket_t *hs[MT_FILES][2];
	int f, r, i;
	for (f = 0; f < MT_FILES; f++)
		for (r = 0; r < 2; r++)
			hs[f][r] = attack_ofd(mt_paths[f], r * 100, 100);
	for (i = 0; i < MT_ROUNDS; i++) {
		int rc;
		seed = seed * 1103515245u + 12345u;
		f = (int)((seed >> 8) % MT_FILES);
		r = (int)((seed >> 16) & 1);
		rc = locket_acquire(hs[f][r], 10000, (seed >> 20) & 1 ? LOCKET_INTERRUPTIBLE : 0);
		if (rc == LOCKET_ETIMEDOUT) {
			__atomic_add_fetch(&mt->timeouts, 1, __ATOMIC_SEQ_CST);
			continue;
		}
		if (rc != LOCKET_OK) {
			__atomic_add_fetch(&mt->errors, 1, __ATOMIC_SEQ_CST);
			continue;
		}
		if (__atomic_add_fetch(&mt->inside[f][r], 1, __ATOMIC_SEQ_CST) != 1)
			__atomic_add_fetch(&mt->violations, 1, __ATOMIC_SEQ_CST);
		sched_yield();
		__atomic_sub_fetch(&mt->inside[f][r], 1, __ATOMIC_SEQ_CST);
		if (locket_release(hs[f][r]) != LOCKET_OK)
			__atomic_add_fetch(&mt->errors, 1, __ATOMIC_SEQ_CST);
	}
	for (f = 0; f < MT_FILES; f++)
		for (r = 0; r < 2; r++)
			locket_free(hs[f][r]);
	return NULL;
}

static void mt_run(void)
{
	pthread_t t[MT_THREADS];
	int i;
	for (i = 0; i < MT_THREADS; i++)
		CHECK(pthread_create(&t[i], NULL, mt_worker, (void *)(uintptr_t)(i + 1)) == 0);
	for (i = 0; i < MT_THREADS; i++)
		CHECK(pthread_join(t[i], NULL) == 0);
}

TEST(attack_ofd_many_threads_many_files_many_ranges)
{
	int i, status;
	pid_t pid;
	mt = (mt_shared *)mmap(NULL, sizeof *mt, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
			       -1, 0);
	CHECK(mt != MAP_FAILED);
	memset(mt, 0, sizeof *mt);
	for (i = 0; i < MT_FILES; i++)
		snprintf(mt_paths[i], sizeof mt_paths[i], "%s", test_path(i == 0   ? "a"
									  : i == 1 ? "b"
										   : "c"));
	fflush(NULL);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		mt_run();
		_exit(0);
	}
	mt_run();
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	if (mt->violations || mt->errors || mt->timeouts)
		test_fail(__FILE__, __LINE__, "%d violations, %d errors, %d timeouts",
			  mt->violations, mt->errors, mt->timeouts);
}

/* A file renamed over the path while a waiter waits behind its holder: the
 * waiter's lock, once granted, is on the file the path names now (identity
 * after acquisition), and a POSIX locker of the new file sees it. */
TEST(attack_ofd_wait_while_the_file_is_renamed_over)
{
	const char *path = test_path("x"), *fresh = test_path("x.new");
	child holder = start_range_holder(path, 'x', 0, 0);
	locket_t *h = attack_ofd(path, 0, 0);
	acq a = { h, 20000, 0, 0, 0, 0, { { 0 } } };
	pthread_t t;
	int fd;
	acq_start(&t, &a);
	fd = open(fresh, O_RDWR | O_CREAT, 0644);
	CHECK(fd >= 0);
	close(fd);
	CHECK(rename(fresh, path) == 0);
	/* The old file is still the holder's, and not the waiter's. */
	child_say(&holder, "release");
	CHECK(strcmp(child_read(&holder), "released ok") == 0);
	CHECK(pthread_join(t, NULL) == 0);
	CHECK_RC(a.rc, LOCKET_OK);
	CHECK(attack_posix_conflicts(path, F_RDLCK, 0, 1) == 1);
	CHECK_RC(locket_check(h), LOCKET_OK);
	CHECK_RC(locket_release(h), LOCKET_OK);
	CHECK(attack_posix_conflicts(path, F_RDLCK, 0, 1) == 0);
	locket_free(h);
	child_wait(&holder);
}

/* An attempt (the event-loop acquisition) of an exclusive OFD range behind
 * another process's overlapping lock: tries fail, then succeed once it is
 * released, and the lock is the range's. */
TEST(attack_ofd_attempt_behind_an_overlapping_range)
{
	const char *path = test_path("x");
	child holder = start_range_holder(path, 'x', 0, 10);
	locket_t *h = attack_ofd(path, 5, 10);
	locket_attempt_t *at;
	double deadline;
	int rc;
	CHECK_RC(locket_attempt_start(&at, h, 0), LOCKET_EWOULDBLOCK);
	CHECK_RC(locket_attempt_try(at), LOCKET_EWOULDBLOCK);
	child_say(&holder, "release");
	CHECK(strcmp(child_read(&holder), "released ok") == 0);
	deadline = test_now_ms() + 5000;
	while ((rc = locket_attempt_try(at)) == LOCKET_EWOULDBLOCK && test_now_ms() < deadline)
		usleep(1000);
	CHECK_RC(rc, LOCKET_OK);
	locket_attempt_free(at);
	CHECK(locket_locked(h));
	CHECK(attack_posix_conflicts(path, F_RDLCK, 14, 1) == 1);
	CHECK(attack_posix_conflicts(path, F_RDLCK, 15, 1) == 0);
	CHECK(attack_posix_conflicts(path, F_RDLCK, 4, 1) == 0);
	CHECK_RC(locket_release(h), LOCKET_OK);
	locket_free(h);
	child_wait(&holder);
}

/* Shared OFD on a directory (ALLOW_DIRECTORY) works, exclusive is refused
 * with LOCKET_EISDIR (locket.h), and nothing is left held or open. */
TEST(attack_ofd_directory_lock)
{
	locket_options o = LOCKET_OPTIONS_INIT;
	locket_t *h;
	o.kind = LOCKET_KIND_OFD;
	o.flags = LOCKET_ALLOW_DIRECTORY;
	CHECK_RC(locket_new(&h, test_dir(), &o), LOCKET_OK);
	CHECK_RC(locket_acquire(h, 0, LOCKET_SHARED), LOCKET_OK);
	CHECK_RC(locket_release(h), LOCKET_OK);
	CHECK_RC(locket_acquire(h, 100, 0), LOCKET_EISDIR);
	CHECK(!locket_locked(h));
	locket_free(h);
}
