/*
 * The Linux engine's wait, after a failed try (lock.c says why it looks the
 * way it does): each round claims or keeps the file's watcher role, picks
 * what to sleep on (the futex word, or ppoll on the inotify instance or on
 * nothing) and for how long, tries, and sleeps; a wake-up is tried at once.
 */
#include "internal.h"
#include "linux.h"
#include "posix/posix.h"
#include "wake.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define EVENT_RETRY_MS 1     /* a retry after an event whose try failed (a killed holder) */
#define FOREIGN_MS 10        /* the watcher's timer behind a holder that is not locket */
#define LOCKET_HOLDER_MS 250 /* ...behind a locket holder, whose release wakes it */
#define SLEEPER_MS 250       /* any other sleeper's longest sleep (watcher take-over) */
#define LEASE_MS 600         /* a watcher not heard of for this long is taken over */

/* The calling thread's id, the watcher role's owner (a syscall saved per wait). */
static __thread uint32_t thread_id;

static uint32_t my_thread_id(void)
{
	if (thread_id == 0)
		thread_id = (uint32_t)syscall(SYS_gettid);
	return thread_id;
}

void locket__linux_sleep_atfork_child(void)
{
	thread_id = 0; /* the forking thread's copy holds its parent's id */
}

static int timed_out(const char *path, int op)
{
	return locket__fail(LOCKET_ETIMEDOUT, "timed out waiting for %s lock on '%s'",
			    op == LOCK_SH ? "a shared" : "an exclusive", path);
}

static int interrupted(const char *path)
{
	return locket__fail(LOCKET_EINTR, "interrupted while waiting for '%s'", path);
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

static sigset_t all_signals;
static pthread_once_t all_signals_once = PTHREAD_ONCE_INIT;
static void fill_all_signals(void)
{
	sigfillset(&all_signals);
}

/* One wait's state, between the steps of wait_for_lock(). */
typedef struct wait_state {
	int fd, op;
	const locket__span *span;
	const char *path;
	locket__wait *how;
	locket__key key;
	dev_t dev;
	ino_t ino;
	locket__slot *slot;     /* the file's wake-up slot, or NULL (no table) */
	uint32_t expect;        /* the futex word as read when the sleep bit was set */
	int armed;              /* the bit was set and a try made since: sleep on expect */
	int on_futex;           /* this round sleeps on the futex word (else in ppoll) */
	int64_t round_end;      /* when this round's sleep ends and the next round tries */
	int woken;              /* a releaser's wake-up was consumed: pass it on if we leave */
	int watcher;            /* this thread is the file's watcher */
	int watch_fd;           /* the borrowed inotify instance, or -1 */
	int64_t event_retry_ms; /* after an inotify event whose try failed: retry in 1 ms */
	int64_t last_event;     /* when the last event woke us */
	int masked;           /* a flag-only interruptible wait: signals blocked but while asleep */
	sigset_t caller_mask; /* ...and the caller's mask, restored for the sleeps */
	int64_t mute_until;   /* events do not wake us before this (a busy file) */
} wait_state;

/* Set the sleep bit (a release after this sees it, or changes the word we
 * then sleep on) and try once more: LOCKET_EWOULDBLOCK to go to sleep. */
static int arm_and_try(wait_state *ws)
{
	ws->expect = __atomic_or_fetch(&ws->slot->word, 1, __ATOMIC_SEQ_CST);
	locket__wake_note_sleep(ws->slot);
	ws->armed = 1;
	return locket__posix_try(ws->fd, ws->op, ws->span, ws->path);
}

/* In a masked wait: run the handlers of signals that came while blocked (a
 * ppoll of nothing, for no time, with the caller's mask); 1 if one ran. */
static int handlers_ran(wait_state *ws)
{
	struct timespec zero = { 0, 0 };
	return ws->masked && ppoll(NULL, 0, &zero, &ws->caller_mask) < 0 && errno == EINTR;
}

/* Sleep on the futex word; a wake-up is tried at once. */
static int sleep_on_futex(wait_state *ws, int64_t ms)
{
	int r;
	if (ws->masked) {
		/* No atomic mask for a futex sleep: a handler running in the few
		 * instructions between these calls and the sleep is the one thing
		 * a flag-only wait can miss (a callback closes it). */
		if (handlers_ran(ws))
			return locket__wait_should_end(ws->how, 1) ? interrupted(ws->path)
								   : LOCKET_EWOULDBLOCK;
		pthread_sigmask(SIG_SETMASK, &ws->caller_mask, NULL);
		r = locket__futex_wait(ws->slot, ws->expect, ms);
		pthread_sigmask(SIG_BLOCK, &all_signals, NULL);
		if (r != EINTR && handlers_ran(ws))
			r = EINTR;
	} else {
		r = locket__futex_wait(ws->slot, ws->expect, ms);
	}
	if (r == EINTR)
		return locket__wait_should_end(ws->how, 1) ? interrupted(ws->path)
							   : LOCKET_EWOULDBLOCK;
	if (r == ETIMEDOUT) {
		/* A sleep cut short for the interrupt callback's check goes on
		 * armed; the round's own timer ends the round: the loop tries. */
		if (locket__now_ms() >= ws->round_end)
			ws->armed = 0;
		return LOCKET_EWOULDBLOCK;
	}
	ws->armed = 0;
	ws->woken = 1;
	return arm_and_try(ws); /* the likely hand-off */
}

/* Sleep in ppoll() on the inotify instance (or on nothing: the timer).
 *
 * Coalescing: a file that others open and close all the time (a data file
 * used as its own lock) makes an event at every close. After an event whose
 * try failed, events do not wake the watcher again for FOREIGN_MS: it tries
 * at most about twice per FOREIGN_MS, as its timer would, instead of once per
 * close. The one exception is a retry 1 ms after the first event of a quiet
 * spell: the kernel reports a close before it drops the locks of a
 * descriptor closed without unlocking (a killed holder). */
static int sleep_on_poll(wait_state *ws, int64_t now, int64_t ms)
{
	struct pollfd pfd;
	struct timespec ts;
	int n, rc, watching = ws->watch_fd >= 0 && now >= ws->mute_until;
	if (ws->watch_fd >= 0 && !watching && ws->mute_until - now < ms)
		ms = ws->mute_until - now;
	pfd.fd = ws->watch_fd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	n = ppoll(watching ? &pfd : NULL, watching ? 1 : 0, &ts,
		  ws->masked ? &ws->caller_mask : NULL);
	if (n < 0) {
		if (errno != EINTR)
			return locket__fail_os(errno, "cannot wait for lock file", ws->path);
		return locket__wait_should_end(ws->how, 1) ? interrupted(ws->path)
							   : LOCKET_EWOULDBLOCK;
	}
	ws->event_retry_ms = 0;
	if (n == 0)
		return LOCKET_EWOULDBLOCK;
	/* The likely hand-off: try before draining. */
	rc = locket__posix_try(ws->fd, ws->op, ws->span, ws->path);
	if (rc == LOCKET_EWOULDBLOCK) {
		/* What they said is covered by the try at the top of the loop; a
		 * release after this drain leaves a new event. (A timer wake-up
		 * drains nothing: ppoll said the queue was empty.) */
		locket__watch_drain();
		now = locket__now_ms();
		if (now - ws->last_event >= FOREIGN_MS)
			ws->event_retry_ms = EVENT_RETRY_MS;
		ws->last_event = now;
		ws->mute_until = now + FOREIGN_MS;
	}
	return rc;
}

/* Who does what this round: the watcher role, the channel to sleep on, and
 * how long. Returns the sleep's length. */
static int64_t choose(wait_state *ws, int64_t now)
{
	int behind_locket;
	if (ws->slot != NULL && !locket__wake_slot_is(ws->slot, ws->key)) {
		/* Unused long enough to go to another file: claim one again. */
		ws->slot = locket__wake_claim(ws->key);
		ws->armed = 0;
	}
	ws->watcher = ws->slot == NULL || claim_watcher(ws->slot, my_thread_id(), (uint32_t)now);
	behind_locket = ws->slot != NULL && locket__wake_holder_is_locket(ws->slot);
	if (ws->watcher && !behind_locket) {
		if (ws->watch_fd < 0) {
			/* Watch before trying: a release between the try and the
			 * sleep then still leaves an event in the queue. */
			ws->watch_fd = locket__watch_begin(ws->path, ws->dev, ws->ino);
			ws->event_retry_ms = 0;
		}
	} else if (ws->watch_fd >= 0) {
		locket__watch_end();
		ws->watch_fd = -1;
	}
	if (!ws->watcher)
		return SLEEPER_MS;
	if (behind_locket)
		return LOCKET_HOLDER_MS;
	return ws->event_retry_ms ? ws->event_retry_ms : FOREIGN_MS;
}

/* Leave the slot as others need it: pass on a wake-up we consumed or the
 * watcher role, and let the next sharer in. */
static void leave(wait_state *ws, int rc)
{
	if (ws->watch_fd >= 0)
		locket__watch_end();
	if (ws->slot == NULL || !locket__wake_slot_is(ws->slot, ws->key))
		return;
	if (ws->watcher)
		resign_watcher(ws->slot, my_thread_id());
	if (rc == LOCKET_OK) {
		if (ws->op == LOCK_SH)
			locket__wake_one(ws->slot, 1); /* the next sharer may enter too */
		else if (ws->woken)
			__atomic_or_fetch(&ws->slot->word, 1,
					  __ATOMIC_SEQ_CST); /* others may still sleep */
	} else if (ws->woken || ws->watcher) {
		locket__wake_one(ws->slot, 1);
	}
}

/* A thread cancelled in a sleep (ppoll is a cancellation point): leave as
 * any wait leaves (the inotify instance back, the watcher role and a
 * consumed wake-up passed on), so that the process's later waits are not
 * left to their timers. */
static void wait_cancelled(void *arg)
{
	wait_state *ws = (wait_state *)arg;
	leave(ws, LOCKET_EINTR);
	if (ws->masked)
		pthread_sigmask(SIG_SETMASK, &ws->caller_mask, NULL);
}

/* The rest of a timed or interruptible wait, after a failed try. */
int locket__engine_wait(int fd, const char *path, int op, const locket__span *span,
			locket__wait *how)
{
	wait_state ws;
	struct stat st;
	int rc;

	pthread_once(&all_signals_once, fill_all_signals);
	memset(&ws, 0, sizeof ws);
	/* A flag-only interruptible wait (no callback to ask) keeps signals
	 * blocked outside its sleeps, so that a handler cannot run unseen during
	 * a try; the sleeps restore the caller's mask (ppoll atomically). */
	ws.masked = how->interruptible && how->interrupted == NULL;
	if (ws.masked)
		pthread_sigmask(SIG_BLOCK, &all_signals, &ws.caller_mask);
	ws.fd = fd;
	ws.op = op;
	ws.span = span;
	ws.path = path;
	ws.how = how;
	ws.watch_fd = -1;
	if (fstat(fd, &st) == 0) {
		ws.dev = st.st_dev;
		ws.ino = st.st_ino;
		ws.key = locket__linux_span_key(locket__file_key(st.st_dev, st.st_ino), span);
		ws.slot = locket__wake_claim(ws.key);
	}
	pthread_cleanup_push(wait_cancelled, &ws);
	for (;;) {
		const int64_t now = locket__now_ms();
		int64_t ms;

		/* A round: roles, channel and a try, unless this is an armed futex
		 * sleep that a signal or the callback's check cut short. */
		if (!(ws.on_futex && ws.armed && now < ws.round_end)) {
			ms = choose(&ws, now);
			ws.on_futex = ws.slot != NULL && ws.watch_fd < 0;
			if (!ws.on_futex)
				ws.armed = 0; /* a later futex sleep arms anew */
			if (!(ws.on_futex && ws.armed)) {
				rc = ws.on_futex ? arm_and_try(&ws)
						 : locket__posix_try(fd, op, span, path);
				if (rc != LOCKET_EWOULDBLOCK)
					break;
			}
			ws.round_end = now + ms;
		}
		if (now >= how->deadline) {
			rc = timed_out(path, op);
			break;
		}
		if (locket__wait_should_end(how, 0)) {
			rc = interrupted(path);
			break;
		}
		ms = locket__wait_cap_ms(how, ws.round_end > now ? ws.round_end - now : 0);
		rc = ws.on_futex ? sleep_on_futex(&ws, ms) : sleep_on_poll(&ws, now, ms);
		if (rc != LOCKET_EWOULDBLOCK)
			break;
	}
	pthread_cleanup_pop(0);
	leave(&ws, rc);
	if (ws.masked)
		pthread_sigmask(SIG_SETMASK, &ws.caller_mask, NULL);
	return rc;
}
