/*
 * Kernel locks on Linux: flock(2), or an OFD lock (fcntl F_OFD_SETLK) on a
 * byte range when the handle asks for that kind, and how a waiter learns of
 * a release.
 *
 * Why flock(2): it is what flock(1), locket.py, filelock and portalocker
 * take, so processes still using them exclude ours; it belongs to the open
 * file description, so two opens in one process exclude each other (POSIX
 * record locks do not, and any close() of the file drops them); and it dies
 * with the last descriptor, so a killed holder releases it.
 *
 * Why not just block in flock(): a blocking flock() cannot be given a
 * deadline without a timer signal, and a library must not install signal
 * handlers (nor start a thread per wait: a second thread in the waiter's
 * process makes its wake-ups several times slower). So only untimed,
 * uninterruptible waits block in the kernel. The others sleep and try again
 * with LOCK_NB when a hint says the lock may be free; flock() is the only
 * truth, a hint only decides when to try:
 *
 * - Locket releasers wake one sleeping locket waiter of the file through a
 *   futex word in shared memory (wake.c): one release, one wake-up, the
 *   kernel queue's behaviour, not every waiter at every close. Every waiter
 *   sleeps on that word, whatever else it does, so a locket release is seen
 *   at once by waiters on any number of files in any number of threads.
 * - A locket holder writes its pid into the file's slot. Behind such a
 *   holder (alive), waiters need nothing else: its release wakes one. Only
 *   one waiter per file, the watcher, wakes every LOCKET_HOLDER_MS to try
 *   anyway, for a holder killed before it could wake anyone.
 * - Behind any other holder (flock(1), locket.py, a locket process of another
 *   user, or none known) the watcher tries every FOREIGN_MS (10 ms): an
 *   unlock without a close makes no event, and this bounds it at any point
 *   of the wait, for about 3 ms of CPU per second. It also borrows the
 *   process's inotify instance (watch.c) when it is free, so that a close
 *   (the usual release, or a holder's death) wakes it at once. The watcher
 *   role is claimed through the slot and taken over when its heartbeat goes
 *   stale (a killed watcher).
 * - Without the shared table every waiter is its own watcher; without
 *   inotify the watcher has its timer. Both degrade, neither fails.
 *
 * OFD locks wait the same way, on a wake-up slot of their own: the table's
 * key mixes the kind and the exact range into the file's key (flock keeps
 * the file's key, which other locket versions of the same user share). Why
 * not one slot per file: a release wakes one waiter, and a waiter for
 * another kind or range (flock and OFD do not conflict; disjoint ranges do
 * not either) would take that wake-up, find itself still blocked and sleep
 * again, while the waiter the release freed slept on until a timer. With a
 * slot per (kind, range), waiters of the same range hand off as flock
 * waiters do; a waiter for an overlapping but different range sees no
 * locket holder in its own slot and waits as behind flock(1): the watcher's
 * inotify (locket's release closes the descriptor) and its 10 ms timer.
 *
 * The kernel reports a close before it drops the locks of a descriptor
 * closed without unlocking (a killed holder), so a try that fails right
 * after an inotify event is retried after 1, 2, 4... ms.
 *
 * Signals: a waiting thread never blocks signals while it sleeps. A
 * process-directed signal (Ctrl-C) then goes to whichever thread the kernel
 * picks, possibly the waiter, and a handler that runs on the waiter
 * interrupts its sleep (the futex and ppoll sleeps have timeouts, so the
 * kernel returns EINTR whatever SA_RESTART says: Lua 5.1's handler has it).
 * Whether the wait then ends is the caller's (locket__wait_should_end): a
 * callback decides, and is also asked every 50 ms, which is how Python
 * learns of a Ctrl-C that the kernel gave to another thread; a flag-only
 * wait ends on any handler, and keeps signals blocked between its sleeps so
 * that a handler cannot run unseen during a try (ppoll restores the caller's
 * mask atomically; around a futex sleep only the system call's entry and
 * exit remain, a few instructions).
 */
#include "internal.h"
#include "linux.h"
#include "posix/posix.h"
#include "wake.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Attempts borrow the process's inotify instance while they last. */
struct locket__waiter {
	int watch_fd; /* the instance while this attempt has it, else -1 */
};

int locket__os_wait_verified(const locket__waiter *w)
{
	(void)w;
	return 0; /* the core re-checks the file after every wait */
}

void locket__os_waiter_free(locket__waiter *w)
{
	if (w == NULL)
		return;
	if (w->watch_fd >= 0)
		locket__watch_end();
	free(w);
}

void locket__os_wait_atfork_child(void)
{
	locket__linux_sleep_atfork_child();
	locket__watch_atfork_child();
}

static locket__key key_of_fd(int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 ? locket__file_key(st.st_dev, st.st_ino) : 0;
}

static uint64_t mix64(uint64_t x)
{
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

locket__key locket__linux_span_key(locket__key file, const locket__span *span)
{
	uint64_t k;
	if (file == 0 || span == NULL || span->kind != LOCKET_KIND_OFD)
		return file; /* flock: the file's key, as every locket version has it */
	k = mix64(file ^ 0x4f46444c4f434b31ULL); /* "OFDLOCK1" */
	k = mix64(k ^ (uint64_t)span->start);
	k = mix64(k ^ (uint64_t)span->length);
	return k != 0 ? k : 1;
}

void locket__os_held(locket__fd fd, locket__key key, const locket__span *span)
{
	if (key == 0)
		key = key_of_fd((int)fd);
	key = locket__linux_span_key(key, span);
	if (key != 0)
		locket__wake_hold(key);
}

int locket__os_unlock(locket__fd fd, locket__key key, const locket__span *span)
{
	int rc = locket__posix_unlock((int)fd, span);
	if (rc != LOCKET_OK)
		return rc;
	/* After the unlock, before the core's close: the woken waiter's try
	 * must find the lock free. */
	if (key == 0)
		key = key_of_fd((int)fd);
	key = locket__linux_span_key(key, span);
	if (key != 0)
		locket__wake_release(key);
	locket__watch_tidy();
	return LOCKET_OK;
}

int locket__os_waiter_watch(locket__waiter **waiter, const char *path, int *watch_fd)
{
	int drained;
	if (*waiter == NULL) {
		*waiter = (locket__waiter *)malloc(sizeof **waiter);
		if (*waiter == NULL) {
			*watch_fd = -1;
			return 0;
		}
		(*waiter)->watch_fd = -1;
	}
	if ((*waiter)->watch_fd < 0) {
		/* The instance is lent to one wait at a time; when another wait or
		 * attempt of this process has it, this one relies on tries. */
		(*waiter)->watch_fd = locket__watch_begin(path, 0, 0);
		*watch_fd = (*waiter)->watch_fd;
		return 0;
	}
	drained = locket__watch_drain();
	*watch_fd = (*waiter)->watch_fd;
	return (drained & LOCKET__DRAINED_ANY) != 0;
}

int locket__os_handle_keeps_waiter(void)
{
	return 0; /* an attempt's waiter lends the process's inotify instance */
}

void locket__os_fd_label(intptr_t fd, char *buf, size_t size)
{
	/* A path that names the descriptor's own file, which inotify follows. */
	snprintf(buf, size, "/proc/self/fd/%d", (int)fd);
}
