/*
 * The process's one inotify instance, lent to one wait at a time.
 *
 * Why one per process, kept: inotify instances are a per-user resource
 * (fs.inotify.max_user_instances, 128 by default, for all of the user's
 * programs), so handles must not keep one each; and closing one costs
 * milliseconds (an SRCU grace period), so a wait must not close one on its
 * way out. So the process creates one at its first watched wait and keeps it
 * with the last file's watch; a wait that finds it lent out (another thread
 * waits too) or that cannot create one (the user is out of instances) polls
 * instead: it degrades, never fails, and a failed creation is retried at
 * most once a second.
 *
 * Only the waiter designated for a file (see lock.c) watches, so a close
 * wakes one waiter per file, not every waiter.
 */
#include "internal.h"
#include "wake.h"

#include <errno.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#define WATCH_MASK (IN_CLOSE_WRITE | IN_CLOSE_NOWRITE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF)
#define RETRY_CREATE_MS 1000

/* The lender's state. lent is taken with an atomic exchange; everything
 * else belongs to the borrower while lent is 1. */
static int lent;
static int inotify_fd = -1;
static int64_t create_after;   /* no creation attempt before this locket__now_ms() */
static int wd = -1;            /* the kept watch, or -1 */
static dev_t watch_dev;        /* its file, when known */
static ino_t watch_ino;
static const char *watch_path; /* the borrower's path, to add the watch again */

static int drain(int fd)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	int seen = 0;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof buf);
		char *p;
		if (n <= 0)
			return seen;
		seen |= LOCKET__DRAINED_ANY;
		for (p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)(void *)p;
			if (ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF | IN_Q_OVERFLOW))
				seen |= LOCKET__DRAINED_LOST | LOCKET__DRAINED_CHANGED;
			if (ev->mask & IN_ATTRIB)
				seen |= LOCKET__DRAINED_CHANGED;
			p += sizeof *ev + ev->len;
		}
		/* A read that did not fill half the buffer took all there was. */
		if ((size_t)n < sizeof buf / 2)
			return seen;
	}
}

static void add_watch(void)
{
	wd = inotify_add_watch(inotify_fd, watch_path, WATCH_MASK);
}

int locket__watch_begin(const char *path, dev_t dev, ino_t ino)
{
	if (path == NULL) /* a descriptor without a path (locket_fd_lock): only the timer */
		return -1;
	if (__atomic_exchange_n(&lent, 1, __ATOMIC_ACQUIRE))
		return -1;
	if (inotify_fd < 0) {
		int64_t now = locket__now_ms();
		if (now < create_after)
			goto unavailable;
		inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (inotify_fd < 0) {
			create_after = now + RETRY_CREATE_MS;
			goto unavailable;
		}
	}
	watch_path = path;
	if (wd < 0) {
		add_watch();
	} else if (dev == 0 || dev != watch_dev || ino != watch_ino) {
		/* Another file's watch, or one we cannot tell: watching the same
		 * file again returns the same watch; another file's is removed. */
		int old = wd;
		add_watch();
		if (wd != old)
			inotify_rm_watch(inotify_fd, old);
	}
	watch_dev = dev;
	watch_ino = ino;
	if (wd < 0) {
		/* The path is gone or not watchable: poll. */
		__atomic_store_n(&lent, 0, __ATOMIC_RELEASE);
		return -1;
	}
	if (drain(inotify_fd) & LOCKET__DRAINED_LOST)
		add_watch();
	return wd >= 0 ? inotify_fd : -1;
unavailable:
	__atomic_store_n(&lent, 0, __ATOMIC_RELEASE);
	return -1;
}

int locket__watch_drain(void)
{
	int seen = drain(inotify_fd);
	if (seen & LOCKET__DRAINED_LOST) {
		add_watch();
		watch_dev = 0;
		watch_ino = 0;
	}
	return seen;
}

void locket__watch_end(void)
{
	watch_path = NULL;
	__atomic_store_n(&lent, 0, __ATOMIC_RELEASE);
}

void locket__watch_atfork_child(void)
{
	/* The child's copy shares the parent's queue: reading it would steal
	 * the parent's events. Closing a copy is cheap (not the last one). */
	if (inotify_fd >= 0)
		close(inotify_fd);
	inotify_fd = -1;
	wd = -1;
	watch_dev = 0;
	watch_ino = 0;
	watch_path = NULL;
	create_after = 0;
	__atomic_store_n(&lent, 0, __ATOMIC_RELAXED);
}
