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
 * handlers (nor start a thread per wait: a second thread in the waiter's
 * process makes its wake-ups several times slower). So only untimed,
 * uninterruptible waits block in the kernel. The others sleep and try again
 * with LOCK_NB when a hint says the lock may be free; flock() is the only
 * truth, a hint only decides when to try:
 *
 * - Locket releasers wake one sleeping locket waiter of the file through a
 *   futex word in shared memory (wake.c): one release, one wake-up, the
 *   kernel queue's behaviour, not every waiter at every close.
 * - Other releasers (flock(1), locket.py, a killed holder, a locket process
 *   of another user) wake no one, so one waiter per file, the watcher, also
 *   watches the file with the process's inotify instance (watch.c) for
 *   closes and retries on a timer for unlocks without a close. The role is
 *   claimed through the shared slot and taken over when its heartbeat goes
 *   stale (a killed watcher). While locket releasers are waking waiters, the
 *   watcher sleeps on the futex like the others, on a short timer, so that a
 *   release does not wake two processes.
 * - Without the shared table every waiter is its own watcher (inotify for
 *   one wait per process, the timer for the others); without inotify the
 *   watcher only has its timer. Both degrade, neither fails.
 *
 * The kernel reports a close before it drops the locks of a descriptor
 * closed without unlocking (a killed holder), so a try that fails right
 * after an inotify event is retried after 1, 2, 4... ms.
 *
 * Interruptible waits block signals in their own thread and let ppoll()
 * unblock them atomically, so a signal that arrives just before a sleep is
 * not slept through; a futex sleep cannot do that, so it sleeps with signals
 * blocked for short slices and then lets pending handlers run in a ppoll()
 * of no descriptors and no time, which returns EINTR only if a handler ran.
 * ppoll() returns EINTR after any handler, whatever SA_RESTART says, which is
 * what lets an interruptible wait end on Ctrl-C in interpreters that install
 * their handler with SA_RESTART (Lua 5.1).
 */
#include "internal.h"
#include "wake.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define EVENT_RETRY_MAX_MS 8  /* retries after an event whose try failed: 1, 2, 4, 8 ms */
#define WATCH_FAST_MS 10      /* the watcher's timer in the first WATCH_FAST_FOR_MS */
#define WATCH_FAST_FOR_MS 100
#define WATCH_SLOW_MS 250     /* ...then a quarter of the time waited so far, up to this */
#define WATCHER_FUTEX_MS 10   /* the watcher's futex sleep while locket releasers wake */
#define RECENT_WAKE_MS 20     /* a releaser's wake-up this recent: locket holders at work */
#define SLEEPER_MS 250        /* a plain sleeper's longest futex sleep */
#define SLEEPER_SIGNAL_MS 50  /* ...if interruptible (signals blocked while it sleeps) */
#define LEASE_MS 600          /* a watcher not heard of for this long is taken over */

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

/* The calling thread's id, the watcher role's owner (a syscall saved per wait). */
static __thread uint32_t thread_id;

static uint32_t my_thread_id(void)
{
	if (thread_id == 0)
		thread_id = (uint32_t)syscall(SYS_gettid);
	return thread_id;
}

void locket__os_wait_atfork_child(void)
{
	thread_id = 0; /* the forking thread's copy holds its parent's id */
	locket__watch_atfork_child();
}

void locket__os_held(locket__fd fd, locket__key key)
{
	(void)fd;
	(void)key;
}

int locket__os_unlock(locket__fd fd, locket__key key)
{
	(void)key;
	if (flock((int)fd, LOCK_UN) != 0)
		return locket__fail_os(errno, "cannot unlock lock file", NULL);
	/* After the unlock, before the core's close: the woken waiter's try
	 * must find the lock free. */
	locket__wake_after_unlock((int)fd);
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

static int timed_out(const char *path, int op)
{
	return locket__fail(LOCKET_ETIMEDOUT, "timed out waiting for %s lock on '%s'",
			    op == LOCK_SH ? "a shared" : "an exclusive", path);
}

/* Claim or keep the watcher role of s for thread me; 1 if ours. */
static int claim_watcher(locket__slot *s, uint32_t me, uint32_t now)
{
	uint32_t w = __atomic_load_n(&s->watcher, __ATOMIC_ACQUIRE);
	if (w != me) {
		uint32_t beat = __atomic_load_n(&s->heartbeat, __ATOMIC_RELAXED);
		if (w != 0 && now - beat < LEASE_MS)
			return 0;
		if (!__atomic_compare_exchange_n(&s->watcher, &w, me, 0, __ATOMIC_ACQ_REL,
						 __ATOMIC_ACQUIRE))
			return 0;
	}
	__atomic_store_n(&s->heartbeat, now, __ATOMIC_RELAXED);
	return 1;
}

static void resign_watcher(locket__slot *s, uint32_t me)
{
	__atomic_compare_exchange_n(&s->watcher, &me, 0, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
}

/* The watcher's timer when no event comes: frequent at first (most holds
 * are short, and an unlock without a close makes no event), then backing
 * off so that a long wait costs little CPU. */
static int64_t watch_timer_ms(int64_t waited_ms)
{
	int64_t t;
	if (waited_ms < WATCH_FAST_FOR_MS)
		return WATCH_FAST_MS;
	t = waited_ms / 4;
	return t > WATCH_SLOW_MS ? WATCH_SLOW_MS : t;
}

/* The rest of a timed or interruptible wait, after a failed try. */
static int wait_for_lock(int fd, const char *path, int op, int64_t deadline, int interruptible)
{
	const int64_t start = locket__now_ms();
	const uint32_t me = my_thread_id();
	locket__slot *slot = NULL;
	struct stat st;
	sigset_t caller_mask;
	int64_t event_retry_ms = 0;
	uint32_t expect = 0;
	int rc, watch_fd = -1, watcher = 0, woken = 0, tried = 0;

	if (fstat(fd, &st) == 0)
		slot = locket__wake_slot(st.st_dev, st.st_ino);
	if (interruptible) {
		sigset_t all;
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &caller_mask);
	}
	for (;;) {
		const int64_t now = locket__now_ms();
		const uint32_t now32 = (uint32_t)now;
		int64_t wait_ms;
		int use_futex;

		if (slot != NULL)
			watcher = claim_watcher(slot, me, now32);
		else
			watcher = 1;
		/* Sleep on the futex unless we watch and no locket releaser has
		 * been waking waiters lately (then the holder may be another
		 * program, which only inotify or the timer can notice). */
		use_futex = slot != NULL &&
			    (!watcher ||
			     now32 - __atomic_load_n(&slot->last_wake, __ATOMIC_RELAXED) < RECENT_WAKE_MS);
		if (use_futex) {
			if (watch_fd >= 0) {
				locket__watch_end();
				watch_fd = -1;
			}
			/* Announce the sleep before the last try: a release after the
			 * try then sees the bit (or changes the word we sleep on).
			 * Done already if we just woke and tried (tried). */
			if (!tried) {
				locket__wake_note_sleep();
				expect = __atomic_or_fetch(&slot->word, 1, __ATOMIC_SEQ_CST);
			}
		} else if (watch_fd < 0) {
			/* Watch before trying: a release between the try and the
			 * sleep then still leaves an event in the queue. */
			watch_fd = locket__watch_begin(path, st.st_dev, st.st_ino);
		} else if (locket__watch_drain() & LOCKET__DRAINED_ANY) {
			if (event_retry_ms == 0)
				event_retry_ms = 1;
		}

		if (!(use_futex && tried)) {
			rc = try_lock(fd, op, path);
			if (rc != LOCKET_EWOULDBLOCK)
				break;
		}
		tried = 0;
		if (now >= deadline) {
			rc = timed_out(path, op);
			break;
		}

		if (use_futex) {
			int r;
			wait_ms = watcher ? WATCHER_FUTEX_MS
					  : (interruptible ? SLEEPER_SIGNAL_MS : SLEEPER_MS);
			if (watcher && interruptible && wait_ms > SLEEPER_SIGNAL_MS)
				wait_ms = SLEEPER_SIGNAL_MS;
			if (deadline - now < wait_ms)
				wait_ms = deadline - now;
			r = locket__futex_wait(slot, expect, wait_ms);
			if (r == 0) {
				/* The likely hand-off: announce (others may still sleep)
				 * and try at once; if it fails, sleep again on that word. */
				woken = 1;
				locket__wake_note_sleep();
				expect = __atomic_or_fetch(&slot->word, 1, __ATOMIC_SEQ_CST);
				rc = try_lock(fd, op, path);
				if (rc != LOCKET_EWOULDBLOCK)
					break;
				tried = 1;
			}
			if (interruptible) {
				/* Let handlers of signals that came while we slept run
				 * now; ppoll() fails with EINTR only if one did. */
				struct timespec zero = { 0, 0 };
				if (ppoll(NULL, 0, &zero, &caller_mask) < 0 && errno == EINTR) {
					rc = locket__fail(LOCKET_EINTR, "interrupted while waiting for '%s'",
							  path);
					break;
				}
			}
			event_retry_ms = 0;
		} else {
			struct pollfd pfd;
			struct timespec ts;
			int n;
			wait_ms = event_retry_ms ? event_retry_ms : watch_timer_ms(now - start);
			if (deadline != LOCKET__FOREVER && deadline - now < wait_ms)
				wait_ms = deadline - now;
			pfd.fd = watch_fd;
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
					rc = locket__fail(LOCKET_EINTR, "interrupted while waiting for '%s'",
							  path);
					break;
				}
				continue;
			}
			if (n > 0) {
				/* The likely hand-off: try before draining. The loop then
				 * drains and tries again before it sleeps, so a release
				 * between this try and the drain is not missed. */
				rc = try_lock(fd, op, path);
				if (rc != LOCKET_EWOULDBLOCK)
					break;
			}
			/* An event: retry soon if the next try fails (a killed holder's
			 * close comes before its lock goes). */
			if (n > 0)
				event_retry_ms = event_retry_ms == 0 ? 1
					       : event_retry_ms * 2 > EVENT_RETRY_MAX_MS ? EVENT_RETRY_MAX_MS
											  : event_retry_ms * 2;
			else
				event_retry_ms = 0;
		}
	}
	if (watch_fd >= 0)
		locket__watch_end();
	if (slot != NULL) {
		if (watcher)
			resign_watcher(slot, me);
		if (rc == LOCKET_OK) {
			if (op == LOCK_SH)
				locket__wake_one(slot, 1); /* the next sharer may enter too */
			else if (woken)
				__atomic_or_fetch(&slot->word, 1, __ATOMIC_SEQ_CST); /* others may still sleep */
		} else if (woken || watcher) {
			/* Pass on the wake-up we consumed, or the watcher role. */
			locket__wake_one(slot, 1);
		}
	}
	if (interruptible)
		pthread_sigmask(SIG_SETMASK, &caller_mask, NULL);
	return rc;
}

int locket__os_lock(locket__fd lfd, const char *path, int shared, locket__wait *how,
		    locket__waiter **waiter)
{
	const int64_t deadline = how->deadline;
	const int interruptible = how->interruptible;
	const int fd = (int)lfd, op = shared ? LOCK_SH : LOCK_EX;
	int rc = try_lock(fd, op, path);

	(void)waiter; /* the engine keeps no per-handle state */
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
	return wait_for_lock(fd, path, op, deadline, interruptible);
}
