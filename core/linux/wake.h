/*
 * The Linux wait engine's two wake-up channels, both hints: the kernel's
 * flock() stays the only truth, so a wake-up that is missed costs a bounded
 * fallback delay and a spurious one costs a retry, never exclusion.
 *
 * wake.c:  the per-user table of futex words through which locket releasers
 *          wake one sleeping locket waiter of the same file, and locket
 *          holders say that their release will do so.
 * watch.c: the process's inotify instance, lent to one wait at a time, for a
 *          watcher behind a holder that is not locket (flock(1), locket.py,
 *          another user): its close wakes the watcher at once.
 */
#ifndef LOCKET_UNIX_WAKE_H
#define LOCKET_UNIX_WAKE_H

#include "internal.h"

#include <stdint.h>
#include <sys/types.h>

/* ---- watch.c ---- */

#define LOCKET__DRAINED_ANY 1  /* there were events */
#define LOCKET__DRAINED_LOST 2 /* the watch is gone (file removed or replaced) */

/* Borrow the process's inotify instance (created on first use) and watch
 * path, whose file is (dev, ino) if known (0, 0: unknown). Returns the
 * descriptor to poll, or -1 when another thread has it or inotify is out of
 * instances (then the caller relies on its timer). Queued events are
 * discarded: they say nothing about the holder the caller's next try meets. */
int locket__watch_begin(const char *path, dev_t dev, ino_t ino);
/* Discard queued events of the borrowed instance, adding the watch again if
 * it was lost; returns LOCKET__DRAINED_* bits. */
int locket__watch_drain(void);
/* Give the instance back; its watch stays until locket__watch_tidy(). */
void locket__watch_end(void);
/* Give an idle instance back to the system, off the hand-off path: the
 * first call after a wait removes the watch (tens of µs), a call at least
 * 20 ms later closes the instance (~15 µs; closing one that still watches
 * costs 15-25 ms: an SRCU grace period). Called by releases and frees. */
void locket__watch_tidy(void);
/* Reset the per-process state in a forked child (see internal.h). */
void locket__watch_atfork_child(void);

/* ---- wake.c ---- */

/* One file's hints, found by its key (a hash of device and inode) within a
 * small window of the table, so that files whose hashes collide still get
 * slots of their own. All fields are used with atomics. */
typedef struct locket__slot {
	uint64_t key;     /* the file's key; 0: free */
	uint32_t word;    /* futex: generation << 1 | 1 if a locket waiter may sleep on it */
	uint32_t watcher; /* thread id of the waiter that watches for other releasers, or 0 */
	uint32_t
		heartbeat; /* locket__ms32() when the watcher last woke: a stale one is taken over */
	uint32_t spare;    /* unused: keeps a slot at 32 bytes, two per cache line */
	uint32_t used;   /* locket__ms32() of the last claim, sleep or hold: old slots are reused */
	uint32_t holder; /* pid of a locket holder of this user whose release wakes, or 0 */
} locket__slot;

/* The file's slot, claimed for it if it has none (NULL: no usable table in
 * this process, or every slot of its window is busy with other files). */
locket__slot *locket__wake_claim(locket__key key);
/* A locket holder of this process now holds the file key: claim its slot
 * and record this process as the holder, so that waiters know the release
 * will wake them. */
void locket__wake_hold(locket__key key);
/* After unlocking the file key: forget this process as its holder and wake
 * one sleeping waiter, if one may sleep. */
void locket__wake_release(locket__key key);
/* Still the slot of key? (a slot unused for a while may go to another file) */
int locket__wake_slot_is(const locket__slot *s, locket__key key);
/* Before a futex sleep (after setting the sleep bit): note that someone
 * sleeps, and refresh the slot's use. */
void locket__wake_note_sleep(locket__slot *s);
/* A locket holder of this user whose release will wake a sleeper holds s's
 * file, as far as anyone can tell (the pid is alive). */
int locket__wake_holder_is_locket(const locket__slot *s);
/* Wake one sleeper of s; if !forced, only when the sleep bit is set. */
void locket__wake_one(locket__slot *s, int forced);
/* Sleep on s->word while it equals expect, at most ms milliseconds, with the
 * thread's signals as they are. Returns 0 (woken, or the word had changed),
 * ETIMEDOUT, or EINTR (a signal handler ran). */
int locket__futex_wait(locket__slot *s, uint32_t expect, int64_t ms);
/* The monotonic clock in milliseconds, modulo 2^32 (compare differences). */
uint32_t locket__ms32(void);

#endif
