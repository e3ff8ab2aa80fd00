/*
 * The Linux wait engine's two wake-up channels, both hints: the kernel's
 * flock() stays the only truth, so a wake-up that is missed costs a bounded
 * fallback delay and a spurious one costs a retry, never exclusion.
 *
 * watch.c: the process's one inotify instance, lent to one wait at a time.
 * wake.c:  the per-user table of futex words that locket releasers use to
 *          wake one sleeping locket waiter of the same file.
 */
#ifndef LOCKET_UNIX_WAKE_H
#define LOCKET_UNIX_WAKE_H

#include <stdint.h>
#include <sys/types.h>

/* ---- watch.c ---- */

#define LOCKET__DRAINED_ANY 1     /* there were events */
#define LOCKET__DRAINED_LOST 2    /* the watch is gone (file removed or replaced) */
#define LOCKET__DRAINED_CHANGED 4 /* links or metadata changed: the file may have been replaced */

/* Borrow the process's inotify instance (created on first use) and watch
 * path, whose file is (dev, ino) if known (0, 0: unknown). Returns the
 * descriptor to poll, or -1 when another thread has it or inotify is out of
 * instances (then the caller polls). Queued events are discarded: they say
 * nothing about the holder the caller's next try will meet. */
int locket__watch_begin(const char *path, dev_t dev, ino_t ino);
/* Discard queued events of the borrowed instance, adding the watch again if
 * it was lost; returns LOCKET__DRAINED_* bits. */
int locket__watch_drain(void);
/* Give the instance back; its watch stays for the next wait of the file. */
void locket__watch_end(void);

/* ---- wake.c ---- */

/* One file's hints (files whose keys collide share one: more spurious
 * wake-ups, never less exclusion). All fields are used with atomics. */
typedef struct locket__slot {
	uint32_t word;      /* futex: generation << 1 | 1 if a locket waiter may sleep on it */
	uint32_t watcher;   /* thread id of the waiter that watches for other releasers, or 0 */
	uint32_t heartbeat; /* locket__ms32() when the watcher last woke: a stale one is taken over */
	uint32_t last_wake; /* locket__ms32() of the last wake-up a releaser sent */
} locket__slot;

/* The hints for the file (dev, ino), or NULL when this process has no
 * table (no /dev/shm, or the user's table is not safe to map). */
locket__slot *locket__wake_slot(dev_t dev, ino_t ino);
/* Before a futex sleep (after setting the sleep bit): note that someone
 * sleeps, so that releases look at their slot. */
void locket__wake_note_sleep(void);
/* After unlocking fd: wake one sleeping waiter of its file, if any may sleep. */
void locket__wake_after_unlock(int fd);
/* Wake one sleeper of s; if !forced, only when the sleep bit is set. */
void locket__wake_one(locket__slot *s, int forced);
/* Sleep on s->word while it equals expect, at most ms milliseconds.
 * Returns 0 (woken, or the word had changed), ETIMEDOUT, or EINTR. */
int locket__futex_wait(locket__slot *s, uint32_t expect, int64_t ms);
/* The monotonic clock in milliseconds, modulo 2^32 (compare differences). */
uint32_t locket__ms32(void);

/* Reset the per-process state in a forked child (see internal.h). */
void locket__watch_atfork_child(void);

#endif
