/*
 * The portable engine: kernel locks with POSIX calls only, for macOS, the
 * BSDs and any other POSIX system (and on Linux, to test it: CMake's
 * LOCKET_ENGINE=portable). docs/design.md says why it looks this way and
 * what it measured.
 *
 * The lock is flock(2), as on Linux (core/linux/lock.c says why), or an OFD
 * lock where the handle asks for one and the OS has them (Linux; elsewhere
 * LOCKET_ENOTSUP, core/posix/file.c): on macOS
 * and the BSDs flock and fcntl locks are one mechanism, so there it also
 * excludes fcntl lockers. An untimed, uninterruptible wait blocks in
 * flock(), the kernel's own hand-off. A timed or interruptible wait sleeps
 * and tries again (wait.c): a release by this process wakes its waiters of
 * the same file at once; any other release is found by a try on a short
 * backoff timer, since POSIX offers no event for another process's unlock.
 *
 * Nothing is kept per handle, per attempt or between waits: a wait's only
 * resource (a pipe for its in-process wake-ups) lives as long as the wait.
 */
#include "internal.h"
#include "portable.h"
#include "posix/posix.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#ifdef __APPLE__
#include <sys/param.h> /* MAXPATHLEN, for F_GETPATH */
#endif

int locket__os_wait_verified(const locket__waiter *w)
{
	(void)w;
	return 0; /* the core re-checks the file after every wait */
}

void locket__os_waiter_free(locket__waiter *w)
{
	(void)w; /* never made: nothing is kept between waits */
}

int locket__os_handle_keeps_waiter(void)
{
	return 0;
}

void locket__os_wait_atfork_child(void)
{
	locket__portable_wait_atfork_child();
}

void locket__os_held(locket__fd fd, locket__key key, const locket__span *span)
{
	(void)fd; /* nothing to announce: in-process waiters sleep on their own pipes */
	(void)key;
	(void)span;
}

int locket__os_unlock(locket__fd fd, locket__key key, const locket__span *span)
{
	int rc = locket__posix_unlock((int)fd, span);
	if (rc != LOCKET_OK)
		return rc;
	/* After the unlock, before the core's close: the woken waiter's try
	 * must find the lock free. */
	locket__portable_wake((int)fd, key);
	return LOCKET_OK;
}

int locket__os_waiter_watch(locket__waiter **waiter, const char *path, int *watch_fd)
{
	/* No event to poll for another process's release: attempts try on
	 * their timer (locket_attempt_retry_ms). */
	(void)waiter;
	(void)path;
	*watch_fd = -1;
	return 0;
}

void locket__os_fd_label(intptr_t fd, char *buf, size_t size)
{
	/* Only for messages: nothing here watches the file by its path. */
#if defined(F_GETPATH) && defined(MAXPATHLEN)
	char path[MAXPATHLEN];
	if (fcntl((int)fd, F_GETPATH, path) == 0) {
		snprintf(buf, size, "%s", path);
		return;
	}
#endif
	snprintf(buf, size, "fd %d", (int)fd);
}
