/*
 * The process's inotify instance, lent to one wait at a time.
 *
 * Only a file's watcher behind a holder that is not locket uses it (lock.c):
 * locket releasers wake sleepers through the futex table, so most waits
 * never touch inotify, and a wait that finds the instance lent to another
 * thread (or cannot create one: the user is out of instances) sleeps on its
 * futex word with a short timer instead. It degrades, never fails, and a
 * failed creation is retried at most once a second.
 *
 * Why one per process, and given back in two steps: inotify instances are a
 * per-user resource (fs.inotify.max_user_instances, 128 by default, for all
 * of the user's programs), so waits must not keep one each, and an idle
 * process must give its one back. But closing an instance that still
 * watches costs 15-25 ms (an SRCU grace period), while removing the watch
 * costs tens of microseconds and closing an instance whose watch went 20 ms
 * earlier about 15 µs (measured here). So the wait keeps its watch on the
 * way out (the next wait of the same file reuses it), and releases and frees
 * tidy up: the first one after the wait removes the watch, one at least
 * 20 ms later closes the instance.
 */
#include "internal.h"
#include "wake.h"

#include <errno.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#define WATCH_MASK (IN_CLOSE_WRITE | IN_CLOSE_NOWRITE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF)
#define RETRY_CREATE_MS 1000
#define CLOSE_AFTER_RM_MS 20 /* closing then costs ~15 µs instead of 15-25 ms */

/* The lender's state. lent is taken with an atomic exchange; everything
 * else belongs to the borrower while lent is 1. */
static int lent;
static int inotify_fd = -1;
static int64_t create_after;   /* no creation attempt before this locket__now_ms() */
static int wd = -1;            /* the kept watch, or -1 */
static dev_t watch_dev;        /* its file, when known */
static ino_t watch_ino;
static const char *watch_path; /* the borrower's path, to add the watch again */
static int64_t removed_at = -1; /* when the idle instance's watch was removed, or -1 */

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
				seen |= LOCKET__DRAINED_LOST;
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
		__atomic_store_n(&inotify_fd, inotify_init1(IN_NONBLOCK | IN_CLOEXEC), __ATOMIC_RELAXED);
		if (inotify_fd < 0) {
			create_after = now + RETRY_CREATE_MS;
			goto unavailable;
		}
	}
	watch_path = path;
	removed_at = -1;
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

void locket__watch_tidy(void)
{
	if (__atomic_load_n(&inotify_fd, __ATOMIC_RELAXED) < 0)
		return; /* the common case: one load */
	if (__atomic_exchange_n(&lent, 1, __ATOMIC_ACQUIRE))
		return; /* a wait uses it */
	if (inotify_fd >= 0) {
		int64_t now = locket__now_ms();
		if (wd >= 0) {
			inotify_rm_watch(inotify_fd, wd);
			wd = -1;
			watch_dev = 0;
			watch_ino = 0;
			removed_at = now;
		} else if (removed_at < 0) {
			removed_at = now;
		} else if (now - removed_at >= CLOSE_AFTER_RM_MS) {
			close(inotify_fd);
			__atomic_store_n(&inotify_fd, -1, __ATOMIC_RELAXED);
			removed_at = -1;
		}
	}
	__atomic_store_n(&lent, 0, __ATOMIC_RELEASE);
}

void locket__watch_atfork_child(void)
{
	/* The child's copy shares the parent's queue: reading it would steal
	 * the parent's events. Closing a copy is cheap (not the last one). */
	if (inotify_fd >= 0)
		close(inotify_fd);
	__atomic_store_n(&inotify_fd, -1, __ATOMIC_RELAXED);
	wd = -1;
	watch_dev = 0;
	watch_ino = 0;
	watch_path = NULL;
	removed_at = -1;
	create_after = 0;
	__atomic_store_n(&lent, 0, __ATOMIC_RELAXED);
}
