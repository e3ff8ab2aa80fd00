/* LOCKET_KIND_OFD: OFD locks on byte ranges, and their interop with POSIX
 * record locks (lockf, fcntl F_SETLK: what fasteners takes), other OFD
 * locks and flock locks; and the POSIX-lock trap (a close drops the
 * process's record locks). */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

/* A child that takes a POSIX lock "type start len" (lockf-style, with
 * F_SETLKW), says "held", and on "release" unlocks without closing and says
 * "released". */
static void posix_holder_main(const char *arg, FILE *in, FILE *out)
{
	char path[1024], line[64];
	long long start, len;
	char type;
	int fd;
	CHECK(sscanf(arg, "%c %lld %lld %1023s", &type, &start, &len, path) == 4);
	fd = open(path, O_RDWR | O_CREAT, 0644);
	CHECK(fd >= 0);
	CHECK(posix_lock(fd, F_SETLKW, type == 'w' ? F_WRLCK : F_RDLCK, (off_t)start, (off_t)len) ==
	      0);
	fprintf(out, "held\n");
	fflush(out);
	while (fgets(line, sizeof line, in) != NULL) {
		if (strncmp(line, "release", 7) == 0) {
			CHECK(posix_lock(fd, F_SETLK, F_UNLCK, (off_t)start, (off_t)len) == 0);
			fprintf(out, "released\n");
			fflush(out);
		}
	}
}

static child start_posix_holder(const char *path, char type, long long start, long long len)
{
	static char arg[1100];
	child c;
	snprintf(arg, sizeof arg, "%c %lld %lld %s", type, start, len, path);
	c = child_start(posix_holder_main, arg);
	CHECK(strcmp(child_read(&c), "held") == 0);
	return c;
}

TEST(ofd_options_are_checked)
{
	const char *path = test_path("x");
	locket_options o = LOCKET_OPTIONS_INIT;
	locket_wait_options w = LOCKET_WAIT_OPTIONS_INIT;
	locket_t *h;
	o.kind = 7;
	CHECK_RC(locket_new(&h, path, &o), LOCKET_EINVAL);
	o.kind = LOCKET_KIND_FLOCK;
	o.start = 10; /* flock has no range */
	CHECK_RC(locket_new(&h, path, &o), LOCKET_EINVAL);
	CHECK(strstr(locket_last_error_message(), "LOCKET_KIND_OFD") != NULL);
	o.kind = LOCKET_KIND_OFD;
	o.start = -1;
	CHECK_RC(locket_new(&h, path, &o), LOCKET_EINVAL);
	o.start = INT64_MAX;
	o.length = 1; /* beyond int64 */
	CHECK_RC(locket_new(&h, path, &o), LOCKET_EINVAL);
	o.start = 0;
	o.length = -5;
	CHECK_RC(locket_new(&h, path, &o), LOCKET_EINVAL);
	/* A version 1 caller's struct ends at flags: what follows is never read. */
	{
		struct {
			locket_options v1;
		} old;
		memset(&old, 0x7f, sizeof old);
		old.v1.version = 1;
		old.v1.file_mode = 0666;
		old.v1.flags = 0;
		CHECK_RC(locket_new(&h, path, &old.v1), LOCKET_OK);
		CHECK_RC(locket_acquire(h, 0, 0), LOCKET_OK);
		CHECK(posix_conflicts(path, F_WRLCK, 0, 0) == 0); /* a flock lock */
		locket_free(h);
	}
	/* A handle's kind is its own: per-call kinds are refused. */
	CHECK_RC(locket_new(&h, path, NULL), LOCKET_OK);
	w.timeout_ms = 0;
	w.kind = LOCKET_KIND_OFD;
	CHECK_RC(locket_acquire_with(h, &w), LOCKET_EINVAL);
	w.kind = LOCKET_KIND_FLOCK;
	w.length = 1;
	CHECK_RC(locket_acquire_with(h, &w), LOCKET_EINVAL);
	locket_free(h);
}

TEST(ofd_lock_excludes_and_is_excluded_by_posix_locks)
{
	const char *path = test_path("x");
	locket_t *h = ofd_handle(path, 0, 0);
	child holder;
	int64_t pid = 0;

	CHECK_RC(locket_acquire(h, 0, 0), LOCKET_OK);
	CHECK(posix_conflicts(path, F_WRLCK, 0, 0) == 1);
	CHECK(posix_conflicts(path, F_RDLCK, 100, 1) == 1);
	CHECK_RC(locket_holder_pid(h, &pid), LOCKET_OK);
	CHECK(pid == -1); /* an OFD holder has no pid */
	CHECK_RC(locket_release(h), LOCKET_OK);
	CHECK(posix_conflicts(path, F_WRLCK, 0, 0) == 0);

	holder = start_posix_holder(path, 'w', 0, 0);
	CHECK_RC(locket_acquire(h, 0, 0), LOCKET_EWOULDBLOCK);
	CHECK_RC(locket_acquire(h, 0, LOCKET_SHARED), LOCKET_EWOULDBLOCK);
	CHECK_RC(locket_holder_pid(h, &pid), LOCKET_OK);
	CHECK(pid == (int64_t)holder.pid); /* a POSIX holder's pid is reported */
	CHECK_RC(locket_acquire(h, 100, 0), LOCKET_ETIMEDOUT);
	child_say(&holder, "release"); /* an unlock without a close */
	CHECK(strcmp(child_read(&holder), "released") == 0);
	CHECK_RC(locket_acquire(h, 5000, 0), LOCKET_OK);
	CHECK_RC(locket_release(h), LOCKET_OK);
	child_wait(&holder);

	/* Shared with shared: no conflict. */
	holder = start_posix_holder(path, 'r', 0, 0);
	CHECK_RC(locket_acquire(h, 0, LOCKET_SHARED), LOCKET_OK);
	CHECK_RC(locket_release(h), LOCKET_OK);
	child_wait(&holder);
	locket_free(h);
}

TEST(ofd_locks_exclude_each_other_within_one_process)
{
	const char *path = test_path("x");
	locket_t *a = ofd_handle(path, 0, 0), *b = ofd_handle(path, 0, 0);
	CHECK_RC(locket_acquire(a, 0, 0), LOCKET_OK);
	CHECK_RC(locket_acquire(b, 0, 0), LOCKET_EWOULDBLOCK); /* per description */
	CHECK_RC(locket_release(a), LOCKET_OK);
	CHECK_RC(locket_acquire(a, 0, LOCKET_SHARED), LOCKET_OK);
	CHECK_RC(locket_acquire(b, 0, LOCKET_SHARED), LOCKET_OK);
	CHECK_RC(locket_release(a), LOCKET_OK);
	CHECK_RC(locket_release(b), LOCKET_OK);
	locket_free(a);
	locket_free(b);
}

TEST(ofd_and_flock_locks_do_not_conflict_on_a_local_filesystem)
{
	const char *path = test_path("x");
	locket_t *o = ofd_handle(path, 0, 0), *f;
	CHECK_RC(locket_new(&f, path, NULL), LOCKET_OK);
	CHECK_RC(locket_acquire(o, 0, 0), LOCKET_OK);
	CHECK_RC(locket_acquire(f, 0, 0), LOCKET_OK);
	check_held_elsewhere(path, 1); /* the flock one */
	CHECK_RC(locket_release(f), LOCKET_OK);
	check_held_elsewhere(path, 0); /* the OFD lock is no flock lock */
	CHECK(posix_conflicts(path, F_WRLCK, 0, 1) == 1);
	locket_free(o);
	locket_free(f);
}

TEST(ofd_ranges_that_overlap_exclude_and_disjoint_ones_do_not)
{
	const char *path = test_path("x");
	locket_t *a = ofd_handle(path, 10, 10);   /* [10, 20) */
	locket_t *b = ofd_handle(path, 19, 5);    /* overlaps at 19 */
	locket_t *c = ofd_handle(path, 20, 5);    /* touches, does not overlap */
	locket_t *tail = ofd_handle(path, 30, 0); /* [30, end) */
	CHECK_RC(locket_acquire(a, 0, 0), LOCKET_OK);
	CHECK_RC(locket_acquire(b, 0, 0), LOCKET_EWOULDBLOCK);
	CHECK_RC(locket_acquire(c, 0, 0), LOCKET_OK);
	CHECK_RC(locket_acquire(tail, 0, 0), LOCKET_OK);
	CHECK(posix_conflicts(path, F_WRLCK, 9, 1) == 0);
	CHECK(posix_conflicts(path, F_WRLCK, 0, 11) == 1);
	CHECK(posix_conflicts(path, F_WRLCK, 25, 5) == 0);
	CHECK(posix_conflicts(path, F_WRLCK, 1000000, 1) == 1); /* length 0: to the end */
	CHECK_RC(locket_release(a), LOCKET_OK);
	CHECK_RC(locket_acquire(b, 0, 0), LOCKET_EWOULDBLOCK); /* c holds 20..24 */
	CHECK_RC(locket_release(c), LOCKET_OK);
	CHECK_RC(locket_acquire(b, 0, 0), LOCKET_OK);
	locket_free(a);
	locket_free(b);
	locket_free(c);
	locket_free(tail);
}

/* A child holding an OFD handle on path: "held", then "release" ->
 * "released ok". */
static void ofd_holder_main(const char *path, FILE *in, FILE *out)
{
	char line[64];
	locket_t *h = ofd_handle(path, 0, 0);
	CHECK_RC(locket_acquire(h, -1, 0), LOCKET_OK);
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

static pid_t waiter_tid;

static void *timed_acquire(void *p)
{
	__atomic_store_n(&waiter_tid, test_gettid(), __ATOMIC_SEQ_CST);
	return (void *)(intptr_t)locket_acquire((locket_t *)p, 30000, 0);
}

static void *untimed_acquire(void *p)
{
	__atomic_store_n(&waiter_tid, test_gettid(), __ATOMIC_SEQ_CST);
	return (void *)(intptr_t)locket_acquire((locket_t *)p, -1, 0);
}

/* Return once the thread started with timed_acquire / untimed_acquire sleeps in its wait. */
static void wait_for_waiter(void)
{
	pid_t tid;
	while ((tid = __atomic_load_n(&waiter_tid, __ATOMIC_SEQ_CST)) == 0)
		sched_yield();
	wait_until_waiting(tid);
}

TEST(ofd_timed_wait_is_woken_by_a_locket_release)
{
	const char *path = test_path("x");
	child holder = child_start(ofd_holder_main, path);
	locket_t *h = ofd_handle(path, 0, 0);
	pthread_t t;
	void *rc;
	double t0;
	CHECK(strcmp(child_read(&holder), "held") == 0);
	CHECK(pthread_create(&t, NULL, timed_acquire, h) == 0);
	/* In the engine's sleep: 250 ms behind a locket holder if no wake-up came. */
	wait_for_waiter();
	child_say(&holder, "release");
	t0 = test_now_ms();
	CHECK(strcmp(child_read(&holder), "released ok") == 0);
	CHECK(pthread_join(t, &rc) == 0);
	CHECK_RC((int)(intptr_t)rc, LOCKET_OK);
	/* Woken by the release (a futex wake-up), not by its 250 ms timer. */
	CHECK(test_now_ms() - t0 < 150);
	CHECK_RC(locket_release(h), LOCKET_OK);
	locket_free(h);
	child_wait(&holder);
}

static void on_alarm(int sig)
{
	(void)sig;
}

TEST(ofd_interruptible_wait_ends_on_a_signal)
{
	const char *path = test_path("x");
	child holder = start_posix_holder(path, 'w', 0, 0);
	locket_t *h = ofd_handle(path, 0, 0);
	struct sigaction sa;
	struct itimerval in_100ms = { { 0, 100000 }, { 0, 100000 } }, off = { { 0, 0 }, { 0, 0 } };
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &in_100ms, NULL);
	CHECK_RC(locket_acquire(h, 30000, LOCKET_INTERRUPTIBLE), LOCKET_EINTR);
	setitimer(ITIMER_REAL, &off, NULL);
	CHECK(!locket_locked(h));
	locket_free(h);
	child_wait(&holder);
}

TEST(ofd_untimed_wait_blocks_until_the_release)
{
	const char *path = test_path("x");
	child holder = start_posix_holder(path, 'w', 5, 1);
	locket_t *h = ofd_handle(path, 0, 10);
	pthread_t t;
	void *rc;
	CHECK(pthread_create(&t, NULL, untimed_acquire, h) == 0);
	wait_for_waiter(); /* blocked in F_OFD_SETLKW */
	CHECK(!locket_locked(h));
	child_say(&holder, "release");
	CHECK(strcmp(child_read(&holder), "released") == 0);
	CHECK(pthread_join(t, &rc) == 0);
	CHECK_RC((int)(intptr_t)rc, LOCKET_OK);
	locket_free(h);
	child_wait(&holder);
}

/* After a fork the child's copy of the descriptor is closed without an
 * unlock: the parent keeps its OFD lock. */
TEST(ofd_lock_survives_a_forked_child)
{
	const char *path = test_path("x");
	locket_t *h = ofd_handle(path, 0, 0);
	int status;
	pid_t pid;
	CHECK_RC(locket_acquire(h, 0, 0), LOCKET_OK);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int rc = locket_release(h);
		locket_free(h);
		_exit(rc == LOCKET_ENOTHELD ? 0 : 1);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(posix_conflicts(path, F_WRLCK, 0, 0) == 1);
	CHECK_RC(locket_release(h), LOCKET_OK);
	CHECK(posix_conflicts(path, F_WRLCK, 0, 0) == 0);
	locket_free(h);
}

/* An exclusive OFD lock needs a read-write open, a shared one does not: a
 * file that is read-only for the user takes shared OFD locks only. */
static void readonly_file_case(void *arg)
{
	const char *path = (const char *)arg;
	locket_t *h = ofd_handle(path, 0, 0);
	if (locket_acquire(h, 0, LOCKET_SHARED) != LOCKET_OK)
		_exit(2);
	locket_release(h);
	_exit(locket_acquire(h, 0, 0) == LOCKET_EACCES ? 0 : 3);
}

TEST(ofd_exclusive_lock_opens_read_write_and_shared_read_only)
{
	const char *path = test_path("x");
	int fd = open(path, O_CREAT | O_WRONLY, 0644), status;
	CHECK(fd >= 0);
	close(fd);
	if (!run_as_nobody(readonly_file_case, (void *)path, &status))
		test_skip("cannot drop privileges here");
	CHECK(status == 0);
}

TEST(ofd_fd_lock_with_a_range)
{
	const char *path = test_path("x");
	locket_wait_options o = LOCKET_WAIT_OPTIONS_INIT;
	int rw = open(path, O_RDWR | O_CREAT, 0644), ro = open(path, O_RDONLY);
	CHECK(rw >= 0 && ro >= 0);
	o.kind = LOCKET_KIND_OFD;
	o.start = 100;
	o.length = 10;
	o.timeout_ms = 0;
	CHECK_RC(locket_fd_lock_with(rw, &o), LOCKET_OK);
	CHECK(posix_conflicts(path, F_RDLCK, 109, 1) == 1);
	CHECK(posix_conflicts(path, F_RDLCK, 110, 1) == 0);
	/* Another description of this process conflicts (OFD), shared too. */
	o.flags = LOCKET_SHARED;
	CHECK_RC(locket_fd_lock_with(ro, &o), LOCKET_EWOULDBLOCK);
	/* Exclusive on a read-only descriptor: EBADF, said so. */
	o.flags = 0;
	o.start = 200;
	CHECK_RC(locket_fd_lock_with(ro, &o), LOCKET_EIO);
	CHECK(locket_last_os_error() == EBADF);
	CHECK(strstr(locket_last_error_message(), "open for writing") != NULL);
	/* Unlock only the range given. */
	o.start = 100;
	CHECK_RC(locket_fd_unlock_with(rw, &o), LOCKET_OK);
	CHECK(posix_conflicts(path, F_RDLCK, 109, 1) == 0);
	close(rw);
	close(ro);
}

/* The POSIX-lock trap: closing any descriptor of a file drops every POSIX
 * record lock the closing process holds on it. This shows what locket's
 * closes do to the same process's lockf lock. */
TEST(posix_lock_trap_locket_release_drops_the_process_lockf_lock)
{
	const char *path = test_path("x");
	int fd = open(path, O_RDWR | O_CREAT, 0644);
	locket_t *h;
	CHECK(fd >= 0);
	CHECK(lockf(fd, F_TLOCK, 0) == 0);
	CHECK(posix_conflicts(path, F_WRLCK, 0, 0) == 1);
	/* locket_new's probe does not close a descriptor of the file that could
	 * drop it (see locket__os_probe): the lock stays. */
	CHECK_RC(locket_new(&h, path, NULL), LOCKET_OK);
	CHECK(posix_conflicts(path, F_WRLCK, 0, 0) == 1);
	/* Every release closes its descriptor: the process's lockf lock goes
	 * with it, whatever kind the handle takes (documented in locket.h). */
	CHECK_RC(locket_acquire(h, 0, 0), LOCKET_OK);
	CHECK(posix_conflicts(path, F_WRLCK, 0, 0) == 1);
	CHECK_RC(locket_release(h), LOCKET_OK);
	CHECK(posix_conflicts(path, F_WRLCK, 0, 0) == 0);
	locket_free(h);
	close(fd);
}

/* Run under LD_PRELOAD=fault_inject with LOCKET_FAULT=ofd_einval (see CMakeLists): a kernel
 * without OFD locks (EINVAL from fcntl). The kind fails with not_supported, for a try, a timed
 * wait, an untimed one and a descriptor lock, and never falls back to a process-owned F_SETLK
 * (the shim aborts on one). */
TEST(fault_ofd_without_kernel_support_is_not_supported)
{
	const char *path = test_path("x");
	locket_wait_options w = LOCKET_WAIT_OPTIONS_INIT;
	locket_t *h = ofd_handle(path, 0, 0), *f;
	int fd = open(path, O_RDWR);
	CHECK(fd >= 0);
	CHECK_RC(locket_acquire(h, 0, 0), LOCKET_ENOTSUP);
	CHECK(strstr(locket_last_error_message(), "OFD") != NULL);
	CHECK_RC(locket_acquire(h, 100, LOCKET_SHARED), LOCKET_ENOTSUP);
	CHECK_RC(locket_acquire(h, -1, 0), LOCKET_ENOTSUP);
	CHECK(!locket_locked(h));
	w.kind = LOCKET_KIND_OFD;
	w.timeout_ms = 0;
	CHECK_RC(locket_fd_lock_with(fd, &w), LOCKET_ENOTSUP);
	/* The default kind is untouched. */
	CHECK_RC(locket_new(&f, path, NULL), LOCKET_OK);
	CHECK_RC(locket_acquire(f, 0, 0), LOCKET_OK);
	CHECK_RC(locket_release(f), LOCKET_OK);
	locket_free(f);
	locket_free(h);
	close(fd);
}
