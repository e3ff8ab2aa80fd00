/*
 * Wake-up hints between locket processes: a table of futex words, one per
 * lock file (by device and inode, hashed), in a shared-memory file per user.
 *
 * A waiter that sleeps sets bit 0 of its file's word, tries the lock once
 * more, then sleeps on the word (FUTEX_WAIT). A releaser unlocks, and if the
 * bit is set, clears it while advancing the generation and wakes one
 * sleeper (FUTEX_WAKE 1): one release wakes one waiter, as a release of a
 * blocked flock() does. The woken waiter sets the bit again (others may
 * still sleep), so the next release wakes the next one.
 *
 * Why per user, /dev/shm/locket-wake-<uid>, mode 0600: a page mapped from a
 * file that someone else can truncate crashes its users with SIGBUS, so only
 * the user's own processes may write it; waiters of other users are woken
 * by their own designated watcher instead (lock.c). Why one fixed-size table,
 * never removed: nothing piles up (one small file per user, however many
 * lock files), and no clean-up race can split one file's waiters between two
 * tables. Collisions only share hints.
 *
 * Nothing here decides who holds the lock: a wake-up only makes a waiter
 * try flock() again, and a missed one is bounded by the waiters' own
 * timeouts. So a table that cannot be made safe is simply not used.
 */
#include "internal.h"
#include "wake.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define TABLE_SLOTS 1024 /* slot 0 is the header */
#define TABLE_BYTES (TABLE_SLOTS * sizeof(locket__slot))
/* Sleepers refresh the header at least this often (lock.c's longest sleep
 * is 250 ms); a header older than this means nobody of this user sleeps, so
 * a release need not even fstat() its descriptor. */
#define QUIET_MS 1000

/* The table's header, in slot 0: when a locket waiter last went to sleep. */
#define LAST_SLEEP(t) (&(t)[0].heartbeat)

/* NULL: not tried yet; NO_TABLE: cannot be used in this process. */
static locket__slot *table;
#define NO_TABLE ((locket__slot *)(void *)-1)

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

	snprintf(path, sizeof path, "/dev/shm/locket-wake-%lu", (unsigned long)geteuid());
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0600);
	if (fd < 0)
		return NO_TABLE;
	/* Only a regular file of ours that nobody else can write is safe. */
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 077) != 0 ||
	    ((size_t)st.st_size < TABLE_BYTES && ftruncate(fd, (off_t)TABLE_BYTES) != 0)) {
		close(fd);
		return NO_TABLE;
	}
	p = mmap(NULL, TABLE_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	return p == MAP_FAILED ? NO_TABLE : (locket__slot *)p;
}

static locket__slot *get_table(void)
{
	locket__slot *t = __atomic_load_n(&table, __ATOMIC_ACQUIRE), *expected = NULL;
	if (t != NULL)
		return t == NO_TABLE ? NULL : t;
	t = map_table();
	if (!__atomic_compare_exchange_n(&table, &expected, t, 0, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE)) {
		if (t != NO_TABLE)
			munmap(t, TABLE_BYTES); /* another thread mapped it first */
		t = expected;
	}
	return t == NO_TABLE ? NULL : t;
}

locket__slot *locket__wake_slot(dev_t dev, ino_t ino)
{
	locket__slot *t = get_table();
	uint64_t h = ((uint64_t)dev * 0x9E3779B97F4A7C15ull) ^ (uint64_t)ino;
	if (t == NULL)
		return NULL;
	h ^= h >> 29;
	h *= 0xBF58476D1CE4E5B9ull;
	h ^= h >> 32;
	return &t[1 + h % (TABLE_SLOTS - 1)];
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
	__atomic_store_n(&s->last_wake, locket__ms32(), __ATOMIC_RELAXED);
	futex(&s->word, FUTEX_WAKE, 1, NULL);
}

void locket__wake_note_sleep(void)
{
	locket__slot *t = get_table();
	if (t != NULL)
		__atomic_store_n(LAST_SLEEP(t), locket__ms32(), __ATOMIC_SEQ_CST);
}

void locket__wake_after_unlock(int fd)
{
	struct stat st;
	locket__slot *t = get_table(), *s;
	/* The uncontended release: nobody of this user has slept lately. */
	if (t == NULL || locket__ms32() - __atomic_load_n(LAST_SLEEP(t), __ATOMIC_SEQ_CST) > QUIET_MS)
		return;
	if (fstat(fd, &st) != 0 || (s = locket__wake_slot(st.st_dev, st.st_ino)) == NULL)
		return;
	locket__wake_one(s, 0);
}

int locket__futex_wait(locket__slot *s, uint32_t expect, int64_t ms)
{
	struct timespec ts;
	if (ms < 0)
		ms = 0;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	if (futex(&s->word, FUTEX_WAIT, expect, &ts) == 0)
		return 0;
	if (errno == ETIMEDOUT || errno == EINTR)
		return errno;
	return 0; /* EAGAIN: the word changed before we slept */
}
