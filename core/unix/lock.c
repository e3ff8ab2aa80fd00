/*
 * Kernel locks on Linux: flock(2), and how a waiter learns of a release.
 *
 * Why flock(2): it is what flock(1), locket.py, filelock and portalocker
 * take, so processes still using them exclude ours; it belongs to the open
 * file description, so two opens in one process exclude each other (POSIX
 * record locks do not, and any close() of the file drops them); and it dies
 * with the last descriptor, so a killed holder releases it.
 *
 * Why not just block in flock(): a blocking flock() cannot be given a
 * deadline without a timer signal, and a library must not install signal
 * handlers. So only untimed, uninterruptible waits block in the kernel; the
 * others wait for inotify to report a close of the lock file. Releasers
 * unlock and then close, so the close event means "try again". The kernel
 * reports a close before it drops the locks of a descriptor closed without
 * unlocking (a killed holder, a holder that only closes), so a try that
 * fails right after an event is retried after 1, 2, 4... ms, and retries
 * after 100 ms, backing off to every 500 ms, cover releases that make no
 * event here (a holder on another NFS client, a FUSE mount). Each wake-up
 * costs tens of microseconds of CPU on a VM, which is why the fallback backs
 * off instead of ticking. Without inotify (the per-user instance
 * limit) the wait degrades to a backoff poll, never to a failure.
 *
 * ppoll() returns EINTR after any signal handler, whatever SA_RESTART says,
 * which is what lets an interruptible wait end on Ctrl-C in interpreters
 * that install their handler with SA_RESTART (Lua 5.1). An interruptible
 * wait blocks signals in its own thread between polls and lets ppoll()
 * unblock them atomically, so a signal that arrives just before the poll is
 * not slept through: it stays pending and ends the poll at once.
 */
#include "internal.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

/* The inotify instance is kept per handle between waits: closing one costs
 * milliseconds (an SRCU grace period), creating one ~10 us. */
struct locket__waiter {
	int inotify_fd; /* -1 when inotify is unavailable: poll with backoff */
	int verified;   /* the last wait watched fd's own file throughout and saw it
			   neither replaced nor removed (see locket__os_wait_verified) */
};

#define RETRY_FLOOR_MS 1     /* first retry after an event whose try failed */
#define RETRY_FIRST_MS 100   /* first retry without any event */
#define RETRY_CEILING_MS 500 /* longest wait without an event */
#define POLL_CEILING_MS 16  /* longest sleep when there is no inotify */

#define WATCH_MASK (IN_CLOSE_WRITE | IN_CLOSE_NOWRITE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF)

int locket__os_wait_verified(const locket__waiter *w)
{
	/* The watch follows the file, not the path: the core always checks. */
	(void)w;
	return 0;
}

void locket__os_waiter_free(locket__waiter *w)
{
	if (w == NULL)
		return;
	if (w->inotify_fd >= 0)
		close(w->inotify_fd);
	free(w);
}

int locket__os_unlock(locket__fd fd)
{
	if (flock((int)fd, LOCK_UN) != 0)
		return locket__fail_os(errno, "cannot unlock lock file", NULL);
	return LOCKET_OK;
}

/* One non-blocking try: LOCKET_OK, LOCKET_EWOULDBLOCK (unrecorded), or an error. */
static int try_lock(int fd, int op, const char *path)
{
	if (flock(fd, op | LOCK_NB) == 0)
		return LOCKET_OK;
	if (errno == EWOULDBLOCK)
		return LOCKET_EWOULDBLOCK;
	return locket__fail_os(errno, "cannot lock", path);
}

#define DRAINED_ANY 1     /* there were events */
#define DRAINED_LOST 2    /* the watch is gone (file removed or replaced): add it again */
#define DRAINED_CHANGED 4 /* links or metadata changed: the file may have been replaced */

/* Discard queued events; returns DRAINED_* bits. */
static int drain_events(int ifd)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	int seen = 0;
	for (;;) {
		ssize_t n = read(ifd, buf, sizeof buf);
		char *p;
		if (n <= 0)
			return seen;
		seen |= DRAINED_ANY;
		for (p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)(void *)p;
			if (ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF | IN_Q_OVERFLOW))
				seen |= DRAINED_LOST | DRAINED_CHANGED;
			if (ev->mask & IN_ATTRIB)
				seen |= DRAINED_CHANGED;
			p += sizeof *ev + ev->len;
		}
		/* A read that did not fill half the buffer took all there was; a
		 * later event makes the descriptor readable again anyway. */
		if ((size_t)n < sizeof buf / 2)
			return seen;
	}
}

static locket__waiter *waiter_new(void)
{
	locket__waiter *w = (locket__waiter *)malloc(sizeof *w);
	if (w != NULL) {
		w->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		w->verified = 0;
	}
	return w;
}

int locket__os_waiter_watch(locket__waiter **waiter, const char *path, int *watch_fd)
{
	int drained = 0;
	if (*waiter == NULL)
		*waiter = waiter_new();
	if (*waiter == NULL || (*waiter)->inotify_fd < 0) {
		*watch_fd = -1;
		return 0;
	}
	if (*watch_fd >= 0)
		drained = drain_events(*watch_fd);
	if (*watch_fd < 0 || (drained & DRAINED_LOST)) {
		int ifd = (*waiter)->inotify_fd;
		*watch_fd = inotify_add_watch(ifd, path, WATCH_MASK) >= 0 ? ifd : -1;
		/* Events queued before this watch (earlier waits, this handle's own
		 * releases) say nothing about the holder the next try will meet. */
		if (*watch_fd >= 0 && !(drained & DRAINED_LOST))
			drain_events(ifd);
	}
	return (drained & DRAINED_ANY) != 0;
}

static int timed_out(const char *path, int op)
{
	return locket__fail(LOCKET_ETIMEDOUT, "timed out waiting for %s lock on '%s'",
			    op == LOCK_SH ? "a shared" : "an exclusive", path);
}

int locket__os_lock(locket__fd lfd, const char *path, int shared, int64_t deadline,
		    int interruptible, locket__waiter **waiter)
{
	const int fd = (int)lfd, op = shared ? LOCK_SH : LOCK_EX;
	int rc = try_lock(fd, op, path), ifd, watching = 0;
	int64_t retry_ms = RETRY_FIRST_MS, poll_ms = RETRY_FLOOR_MS;
	sigset_t caller_mask;

	if (waiter != NULL && *waiter != NULL)
		(*waiter)->verified = 0; /* until this wait shows otherwise */
	if (rc != LOCKET_EWOULDBLOCK)
		return rc;
	if (deadline == 0)
		return locket__fail(LOCKET_EWOULDBLOCK, "'%s' is locked by another holder", path);

	if (deadline == LOCKET__FOREVER && !interruptible) {
		/* No deadline and no interruption wanted: block in the kernel,
		 * the fastest hand-off there is. */
		while (flock(fd, op) != 0)
			if (errno != EINTR)
				return locket__fail_os(errno, "cannot lock", path);
		return LOCKET_OK;
	}

	if (*waiter == NULL && (*waiter = waiter_new()) == NULL)
		return locket__fail(LOCKET_ENOMEM, "out of memory waiting for '%s'", path);
	ifd = (*waiter)->inotify_fd;

	if (interruptible) {
		sigset_t all;
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &caller_mask);
	}
	for (;;) {
		struct pollfd pfd;
		struct timespec ts;
		int64_t now, wait_ms;
		int n;

		/* Watch before trying: a release between the try and the poll then
		 * still leaves an event in the queue. */
		if (ifd >= 0) {
			int drained = 0;
			if (!watching) {
				watching = inotify_add_watch(ifd, path, WATCH_MASK) >= 0;
				/* The watch follows the path's file: if that is fd's, changes
				 * to it will show, and the core need not stat after the grant. */
				(*waiter)->verified = watching && locket__os_same_file(lfd, path) == 1;
			}
			if (watching)
				drained = drain_events(ifd);
			if (drained & DRAINED_CHANGED)
				(*waiter)->verified = 0;
			if (drained & DRAINED_LOST)
				watching = inotify_add_watch(ifd, path, WATCH_MASK) >= 0;
		}
		rc = try_lock(fd, op, path);
		if (rc != LOCKET_EWOULDBLOCK)
			break;

		now = locket__now_ms();
		if (now >= deadline) {
			rc = timed_out(path, op);
			break;
		}
		if (watching) {
			wait_ms = retry_ms;
		} else {
			wait_ms = poll_ms; /* no inotify: back off up to a small ceiling */
			poll_ms = poll_ms * 2 > POLL_CEILING_MS ? POLL_CEILING_MS : poll_ms * 2;
		}
		if (deadline != LOCKET__FOREVER && deadline - now < wait_ms)
			wait_ms = deadline - now;

		pfd.fd = watching ? ifd : -1;
		pfd.events = POLLIN;
		pfd.revents = 0;
		ts.tv_sec = (time_t)(wait_ms / 1000);
		ts.tv_nsec = (long)(wait_ms % 1000) * 1000000L;
		n = ppoll(&pfd, 1, &ts, interruptible ? &caller_mask : NULL);
		if (n < 0) {
			if (errno != EINTR) {
				rc = locket__fail_os(errno, "cannot wait for lock file", path);
				break;
			}
			if (interruptible) {
				rc = locket__fail(LOCKET_EINTR, "interrupted while waiting for '%s'", path);
				break;
			}
			continue;
		}
		if (n > 0)
			retry_ms = RETRY_FLOOR_MS; /* an event: retry soon if this try fails */
		else if (retry_ms < RETRY_CEILING_MS)
			retry_ms = retry_ms * 2 > RETRY_CEILING_MS ? RETRY_CEILING_MS : retry_ms * 2;
	}
	if (interruptible)
		pthread_sigmask(SIG_SETMASK, &caller_mask, NULL);
	return rc;
}
