/*
 * Wake-up hints between locket processes: a table of futex words, one slot
 * per lock file in use (found by a key hashed from device and inode), in a
 * shared-memory file per user.
 *
 * A waiter that sleeps sets bit 0 of its file's word, tries the lock once
 * more, then sleeps on the word (FUTEX_WAIT). A releaser unlocks, and if the
 * bit is set, clears it while advancing the generation and wakes one
 * sleeper (FUTEX_WAKE 1): one release wakes one waiter, as a release of a
 * blocked flock() does. The woken waiter sets the bit again (others may
 * still sleep), so the next release wakes the next one. A locket holder
 * also writes its pid into the slot, so that a waiter knows its release will
 * wake it and need not poll for it (lock.c).
 *
 * Why a slot per file, found by key within a window of 8: with one slot per
 * hash bucket, files whose hashes collide shared one word and one watcher,
 * and a program with a few hundred lock files collided all the time (a
 * FUTEX_WAKE(1) for Y woke X's sleeper; Y had no watcher). A slot is claimed
 * for its key by compare-and-swap; when two processes claim two slots for
 * one key at once, both keep the lower one. Slots are not freed: a slot
 * nobody used for STALE_MS is reused for another key when its window has no
 * free slot, and whoever still relied on it notices that the key changed.
 *
 * Why per user, /dev/shm/locket-wake2-<uid>, mode 0600, fully allocated: a
 * page mapped from a file that the filesystem cannot back kills its users
 * with SIGBUS at the first store (a full /dev/shm: containers get 64 MiB,
 * shared with every other program), and so does a file that someone else can
 * truncate. So the table is allocated whole (posix_fallocate) before it is
 * mapped, refused unless every block is there, and only the user's own
 * processes may write it. A table that cannot be used is not used: waits
 * then rely on their timers. A failure is retried a second later, so that a
 * transient one (EMFILE, /dev/shm full or not mounted yet) does not degrade
 * a long-lived process for ever. ("2": the first table's layout differs.)
 *
 * Nothing here decides who holds the lock: a wake-up only makes a waiter try
 * flock() again, and a missed one is bounded by the waiters' own timeouts.
 */
#include "internal.h"
#include "wake.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* The futex operations, stable kernel ABI (musl-gcc ships no kernel headers). */
#ifndef FUTEX_WAIT
#define FUTEX_WAIT 0
#define FUTEX_WAKE 1
#endif

#define TABLE_SLOTS 4096 /* slot 0 is the header */
#define TABLE_BYTES (TABLE_SLOTS * sizeof(locket__slot))
#define WINDOW 8       /* a key's slot is one of the 8 from its hash on */
#define STALE_MS 10000 /* a slot unused this long may go to another key */
#define RETRY_MS 1000  /* after a failure to map the table */
/* Sleepers refresh the header at least this often (lock.c's longest sleep
 * is 250 ms); a header older than this means nobody of this user sleeps. */
#define QUIET_MS 1000

_Static_assert(sizeof(locket__slot) == 32, "two slots per 64-byte line");

/* The table's header, in slot 0: when a locket waiter last went to sleep. */
#define LAST_SLEEP(t) (&(t)[0].heartbeat)

static locket__slot *table;      /* NULL: not mapped (yet) */
static int64_t retry_after = -1; /* -1: never tried; else no new try before this */

uint32_t locket__ms32(void)
{
	return (uint32_t)locket__now_ms();
}

static locket__slot *map_table(void)
{
	char path[64];
	struct stat st;
	void *p;
	int fd;

	snprintf(path, sizeof path, "/dev/shm/locket-wake2-%lu", (unsigned long)geteuid());
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0600);
	if (fd < 0)
		return NULL;
	/* Only a regular file of ours that nobody else can write is safe; every
	 * block must exist before the first store (no SIGBUS on a full tmpfs). */
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 077) != 0 || posix_fallocate(fd, 0, (off_t)TABLE_BYTES) != 0 ||
	    fstat(fd, &st) != 0 || (size_t)st.st_size < TABLE_BYTES ||
	    (size_t)st.st_blocks * 512 < TABLE_BYTES) {
		close(fd);
		return NULL;
	}
	p = mmap(NULL, TABLE_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
	close(fd);
	return p == MAP_FAILED ? NULL : (locket__slot *)p;
}

static locket__slot *get_table(void)
{
	locket__slot *t = __atomic_load_n(&table, __ATOMIC_ACQUIRE), *expected = NULL;
	int64_t now, after;
	if (t != NULL)
		return t;
	now = locket__now_ms();
	after = __atomic_load_n(&retry_after, __ATOMIC_RELAXED);
	if (after >= 0 && now < after)
		return NULL;
	t = map_table();
	if (t == NULL) {
		__atomic_store_n(&retry_after, now + RETRY_MS, __ATOMIC_RELAXED);
		return NULL;
	}
	if (!__atomic_compare_exchange_n(&table, &expected, t, 0, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE)) {
		munmap(t, TABLE_BYTES); /* another thread mapped it first */
		t = expected;
	}
	return t;
}

static size_t window_start(locket__key key)
{
	return (size_t)(key % (TABLE_SLOTS - 1));
}

static locket__slot *window_slot(locket__slot *t, size_t start, int i)
{
	return &t[1 + (start + (size_t)i) % (TABLE_SLOTS - 1)];
}

/* The lowest slot of the window that has key, or NULL. */
static locket__slot *find(locket__slot *t, locket__key key)
{
	size_t start = window_start(key);
	int i;
	for (i = 0; i < WINDOW; i++) {
		locket__slot *s = window_slot(t, start, i);
		if (__atomic_load_n(&s->key, __ATOMIC_ACQUIRE) == key)
			return s;
	}
	return NULL;
}

locket__slot *locket__wake_claim(locket__key key)
{
	locket__slot *t = get_table(), *s, *mine = NULL, *stale = NULL;
	size_t start;
	uint32_t now;
	int i;
	if (t == NULL)
		return NULL;
	now = locket__ms32();
	s = find(t, key);
	if (s != NULL) {
		__atomic_store_n(&s->used, now, __ATOMIC_RELAXED);
		return s;
	}
	start = window_start(key);
	for (i = 0; i < WINDOW && mine == NULL; i++) {
		uint64_t free_key = 0;
		s = window_slot(t, start, i);
		if (__atomic_compare_exchange_n(&s->key, &free_key, key, 0, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE))
			mine = s;
		else if (stale == NULL &&
			 now - __atomic_load_n(&s->used, __ATOMIC_RELAXED) > STALE_MS)
			stale = s;
	}
	if (mine == NULL && stale != NULL) {
		uint64_t old = __atomic_load_n(&stale->key, __ATOMIC_ACQUIRE);
		if (now - __atomic_load_n(&stale->used, __ATOMIC_RELAXED) > STALE_MS &&
		    __atomic_compare_exchange_n(&stale->key, &old, key, 0, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE))
			mine = stale;
	}
	if (mine == NULL)
		return NULL; /* every slot of the window is busy: timers only */
	__atomic_store_n(&mine->holder, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&mine->watcher, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&mine->used, now, __ATOMIC_RELAXED);
	/* Someone may have claimed a lower slot for the same key meanwhile:
	 * everyone keeps the lowest. */
	s = find(t, key);
	if (s != NULL && s != mine) {
		uint64_t k = key;
		__atomic_compare_exchange_n(&mine->key, &k, 0, 0, __ATOMIC_ACQ_REL,
					    __ATOMIC_RELAXED);
		__atomic_store_n(&s->used, now, __ATOMIC_RELAXED);
		return s;
	}
	return mine;
}

int locket__wake_slot_is(const locket__slot *s, locket__key key)
{
	return __atomic_load_n(&s->key, __ATOMIC_ACQUIRE) == key;
}

void locket__wake_hold(locket__key key)
{
	locket__slot *s = locket__wake_claim(key);
	if (s != NULL)
		__atomic_store_n(&s->holder, (uint32_t)locket__os_pid(), __ATOMIC_RELEASE);
}

int locket__wake_holder_is_locket(const locket__slot *s)
{
	uint32_t pid = __atomic_load_n(&s->holder, __ATOMIC_ACQUIRE);
	if (pid == 0)
		return 0;
	if (pid == (uint32_t)locket__os_pid())
		return 1;
	/* A dead holder wakes no one. (A zombie passes: the waiter's own timer
	 * still tries now and then.) */
	return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

static long futex(uint32_t *word, int op, uint32_t val, const struct timespec *ts)
{
	return syscall(SYS_futex, word, op, val, ts, NULL, 0);
}

void locket__wake_one(locket__slot *s, int forced)
{
	uint32_t w = __atomic_load_n(&s->word, __ATOMIC_SEQ_CST);
	if (forced) {
		__atomic_fetch_add(&s->word, 2, __ATOMIC_SEQ_CST); /* a new generation, bit kept */
	} else {
		/* Clear the bit and advance the generation in one step: (g|1)+1. */
		do {
			if (!(w & 1))
				return;
		} while (!__atomic_compare_exchange_n(&s->word, &w, w + 1, 0, __ATOMIC_SEQ_CST,
						      __ATOMIC_SEQ_CST));
	}
	futex(&s->word, FUTEX_WAKE, 1, NULL);
}

void locket__wake_release(locket__key key)
{
	locket__slot *t = get_table(), *s;
	uint32_t me;
	if (t == NULL || (s = find(t, key)) == NULL)
		return;
	me = (uint32_t)locket__os_pid();
	__atomic_compare_exchange_n(&s->holder, &me, 0, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
	/* The uncontended release: nobody of this user has slept lately. */
	if (locket__ms32() - __atomic_load_n(LAST_SLEEP(t), __ATOMIC_SEQ_CST) > QUIET_MS)
		return;
	locket__wake_one(s, 0);
}

void locket__wake_note_sleep(locket__slot *s)
{
	locket__slot *t = get_table();
	uint32_t now = locket__ms32();
	if (t != NULL)
		__atomic_store_n(LAST_SLEEP(t), now, __ATOMIC_SEQ_CST);
	__atomic_store_n(&s->used, now, __ATOMIC_RELAXED);
}

int locket__futex_wait(locket__slot *s, uint32_t expect, int64_t ms)
{
	struct timespec ts;
	if (ms < 0)
		ms = 0;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	/* A relative timeout: after a signal handler the kernel returns EINTR
	 * whatever SA_RESTART says, which is what lets an interruptible wait end. */
	if (futex(&s->word, FUTEX_WAIT, expect, &ts) == 0)
		return 0;
	if (errno == ETIMEDOUT || errno == EINTR)
		return errno;
	return 0; /* EAGAIN: the word changed before we slept */
}
