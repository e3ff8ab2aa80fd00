/* The ways of taking the lock that the suites compare: locket itself, a waiter blocked in
 * flock(LOCK_EX) (the floor), and the anchors' polling waiters. */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/time.h>
#include <unistd.h>

int raw_open(const char *path)
{
	return open(path, O_RDWR | O_CLOEXEC | O_NOCTTY | O_NONBLOCK); /* as locket opens */
}

static int fail(const waiter *w, const char *what)
{
	fprintf(stderr, "%s: %s: %s\n", w->kind->name, what, strerror(errno));
	return WAIT_ERROR;
}

static int raw_release(waiter *w)
{
	/* Unlock, then close, as locket does: the close wakes inotify watchers. */
	int rc = flock(w->fd, LOCK_UN);
	close(w->fd);
	w->fd = -1;
	return rc == 0 ? WAIT_OK : fail(w, "flock(LOCK_UN)");
}

/* flock(1) -w: a blocking flock() that a SIGALRM without SA_RESTART interrupts; the timer
 * re-arms every 1% of the timeout in case the signal lands before flock() starts. */
static volatile sig_atomic_t alarm_rang;

static void on_alarm(int sig)
{
	(void)sig;
	alarm_rang = 1;
}

static void set_timer(int64_t timeout_ms)
{
	int64_t every_ms = timeout_ms / 100 > 1 ? timeout_ms / 100 : 1;
	struct itimerval it = {
		{ (time_t)(every_ms / 1000), (suseconds_t)(every_ms % 1000 * 1000) },
		{ (time_t)(timeout_ms / 1000), (suseconds_t)(timeout_ms % 1000 * 1000) }
	};
	if (timeout_ms < 0)
		memset(&it, 0, sizeof it);
	setitimer(ITIMER_REAL, &it, NULL);
}

/* For a non-negative timeout: SIGALRM without SA_RESTART after timeout_ms. */
static void arm_alarm(int64_t timeout_ms)
{
	if (timeout_ms < 0)
		return;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	alarm_rang = 0;
	set_timer(timeout_ms > 0 ? timeout_ms : 1);
}

static int flock_acquire(waiter *w, int64_t timeout_ms)
{
	w->fd = raw_open(w->path);
	if (w->fd < 0)
		return fail(w, "open");
	arm_alarm(timeout_ms);
	int rc;
	while ((rc = flock(w->fd, LOCK_EX)) != 0 && errno == EINTR && !alarm_rang)
		;
	int saved = errno;
	if (timeout_ms >= 0)
		set_timer(-1);
	if (rc == 0)
		return WAIT_OK;
	close(w->fd);
	w->fd = -1;
	errno = saved;
	return saved == EINTR ? WAIT_TIMEOUT : fail(w, "flock(LOCK_EX)");
}

/* Open file description locks: what the anchors' "blocked in F_OFD_SETLKW" figure measured.
 * They do not conflict with flock(), so this waiter needs an OFD holder. */
int ofd_lock(int fd, int cmd, short type)
{
	struct flock fl;
	memset(&fl, 0, sizeof fl);
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	return fcntl(fd, cmd, &fl);
}

static int ofd_acquire(waiter *w, int64_t timeout_ms)
{
	w->fd = raw_open(w->path);
	if (w->fd < 0)
		return fail(w, "open");
	arm_alarm(timeout_ms);
	int rc;
	while ((rc = ofd_lock(w->fd, F_OFD_SETLKW, F_WRLCK)) != 0 && errno == EINTR && !alarm_rang)
		;
	int saved = errno;
	if (timeout_ms >= 0)
		set_timer(-1);
	if (rc == 0)
		return WAIT_OK;
	close(w->fd);
	w->fd = -1;
	errno = saved;
	return saved == EINTR ? WAIT_TIMEOUT : fail(w, "F_OFD_SETLKW");
}

static int ofd_release(waiter *w)
{
	int rc = ofd_lock(w->fd, F_OFD_SETLK, F_UNLCK);
	close(w->fd);
	w->fd = -1;
	return rc == 0 ? WAIT_OK : fail(w, "F_OFD_SETLK(F_UNLCK)");
}

/* The anchors' design (filelock, locket.py): try, sleep, try again until the deadline. */
static int poll_acquire(waiter *w, int64_t timeout_ms)
{
	int64_t deadline = now_ns() + timeout_ms * 1000000;
	w->fd = raw_open(w->path);
	if (w->fd < 0)
		return fail(w, "open");
	for (;;) {
		if (flock(w->fd, LOCK_EX | LOCK_NB) == 0)
			return WAIT_OK;
		if (errno != EWOULDBLOCK)
			break;
		if (timeout_ms >= 0 && now_ns() >= deadline) {
			close(w->fd);
			w->fd = -1;
			return WAIT_TIMEOUT;
		}
		sleep_us(w->kind->poll_ms * 1000);
	}
	int rc = fail(w, "flock(LOCK_EX|LOCK_NB)");
	close(w->fd);
	w->fd = -1;
	return rc;
}

static int locket_wait(waiter *w, int64_t timeout_ms)
{
	int rc = locket_acquire(w->lock, timeout_ms, w->kind->locket_flags);
	if (rc == LOCKET_OK)
		return WAIT_OK;
	if (rc == LOCKET_ETIMEDOUT || rc == LOCKET_EWOULDBLOCK)
		return WAIT_TIMEOUT;
	fprintf(stderr, "%s: locket_acquire: %s\n", w->kind->name, locket_last_error_message());
	return WAIT_ERROR;
}

static int locket_unlock(waiter *w)
{
	if (locket_release(w->lock) == LOCKET_OK)
		return WAIT_OK;
	fprintf(stderr, "%s: locket_release: %s\n", w->kind->name, locket_last_error_message());
	return WAIT_ERROR;
}

const waiter_kind kind_flock_blocking = {
	"flock_blocking", 0, flock_acquire, raw_release, 0, 0, 0
};
const waiter_kind kind_ofd_blocking = { "ofd_blocking", 1, ofd_acquire, ofd_release, 0, 0, 0 };
const waiter_kind kind_poll_1ms = { "poll_1ms", 1, poll_acquire, raw_release, 0, 1, 0 };
const waiter_kind kind_poll_50ms = { "poll_50ms", 1, poll_acquire, raw_release, 0, 50, 0 };
const waiter_kind kind_poll_100ms = { "poll_100ms", 1, poll_acquire, raw_release, 0, 100, 0 };
const waiter_kind kind_locket = { "locket", 0, locket_wait, locket_unlock, 0, 0, 0 };
const waiter_kind kind_locket_ofd = { "locket_ofd",   0, locket_wait, locket_unlock, 0, 0,
				      LOCKET_KIND_OFD };
const waiter_kind kind_locket_interruptible = {
	"locket_interruptible", 0, locket_wait, locket_unlock, LOCKET_INTERRUPTIBLE, 0, 0
};

int waiter_init(waiter *w, const waiter_kind *kind, const char *path)
{
	memset(w, 0, sizeof *w);
	w->kind = kind;
	w->path = path;
	w->fd = -1;
	if (kind->acquire == locket_wait) {
		locket_options o = LOCKET_OPTIONS_INIT;
		o.kind = kind->locket_kind;
		if (locket_new(&w->lock, path, &o) != LOCKET_OK) {
			fprintf(stderr, "locket_new: %s\n", locket_last_error_message());
			return -1;
		}
		return 0;
	}
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
	if (fd < 0) {
		fprintf(stderr, "open %s: %s\n", path, strerror(errno));
		return -1;
	}
	close(fd);
	return 0;
}

void waiter_fini(waiter *w)
{
	if (w->fd >= 0)
		close(w->fd);
	locket_free(w->lock);
	w->fd = -1;
	w->lock = NULL;
}
