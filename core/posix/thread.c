/*
 * Time, process identity, and the mutex/condition variable behind a
 * handle's slot, on POSIX threads.
 *
 * Per-OS forms (docs/cross.md): deadlines are on CLOCK_MONOTONIC, given to
 * the condition variable through pthread_condattr_setclock() (Linux, the
 * BSDs) or, on macOS, which lacks it, as a relative time to
 * pthread_cond_timedwait_relative_np(), which the kernel counts on its own
 * clock (mach_absolute_time): neither moves when the wall clock is set.
 */
#include "internal.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

_Static_assert(sizeof(pthread_mutex_t) <= sizeof(locket__mutex), "locket__mutex too small");
_Static_assert(sizeof(pthread_cond_t) <= sizeof(locket__cond), "locket__cond too small");

#define MUTEX(m) ((pthread_mutex_t *)(void *)(m)->u.bytes)
#define COND(c) ((pthread_cond_t *)(void *)(c)->u.bytes)

int64_t locket__now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * The process id without a system call per use (a release and an
 * acquisition each ask for it, to tell a forked child from its parent):
 * cached in a page that the kernel wipes in every child created by fork(),
 * including _Fork() and raw clone() children, which run no fork handlers
 * (MADV_WIPEONFORK, Linux 4.14; minherit(INHERIT_ZERO), FreeBSD 12). Where
 * that cannot be had (macOS: its minherit() can share or drop a page in a
 * child, not zero it), getpid().
 */
static int64_t *pid_page;
static pthread_once_t pid_page_once = PTHREAD_ONCE_INIT;

#if defined(MADV_WIPEONFORK) || defined(INHERIT_ZERO)
static int wipe_on_fork(void *p, size_t size)
{
#ifdef MADV_WIPEONFORK
	return madvise(p, size, MADV_WIPEONFORK);
#else
	return minherit(p, size, INHERIT_ZERO);
#endif
}

static void make_pid_page(void)
{
	long size = sysconf(_SC_PAGESIZE);
	void *p = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		       0);
	if (p == MAP_FAILED)
		return;
	if (wipe_on_fork(p, (size_t)size) != 0) {
		munmap(p, (size_t)size);
		return;
	}
	pid_page = (int64_t *)p;
}
#else
static void make_pid_page(void)
{
}
#endif

int64_t locket__os_pid(void)
{
	int64_t pid;
	pthread_once(&pid_page_once, make_pid_page);
	if (pid_page == NULL)
		return (int64_t)getpid();
	pid = __atomic_load_n(pid_page, __ATOMIC_RELAXED);
	if (pid == 0) { /* this process's first ask, or a child's (the page was wiped) */
		pid = (int64_t)getpid();
		__atomic_store_n(pid_page, pid, __ATOMIC_RELAXED);
	}
	return pid;
}

int locket__mutex_init(locket__mutex *m)
{
	int err = pthread_mutex_init(MUTEX(m), NULL);
	return err ? locket__fail_os(err, "cannot create a mutex", NULL) : LOCKET_OK;
}

void locket__mutex_destroy(locket__mutex *m)
{
	pthread_mutex_destroy(MUTEX(m));
}

void locket__mutex_lock(locket__mutex *m)
{
	pthread_mutex_lock(MUTEX(m));
}

void locket__mutex_unlock(locket__mutex *m)
{
	pthread_mutex_unlock(MUTEX(m));
}

#ifdef __APPLE__
int locket__cond_init(locket__cond *c)
{
	int err = pthread_cond_init(COND(c), NULL);
	return err ? locket__fail_os(err, "cannot create a condition variable", NULL) : LOCKET_OK;
}
#else
int locket__cond_init(locket__cond *c)
{
	pthread_condattr_t attr;
	int err = pthread_condattr_init(&attr);
	if (err == 0) {
		/* Deadlines are on the monotonic clock, immune to clock changes. */
		err = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
		if (err == 0)
			err = pthread_cond_init(COND(c), &attr);
		pthread_condattr_destroy(&attr);
	}
	return err ? locket__fail_os(err, "cannot create a condition variable", NULL) : LOCKET_OK;
}
#endif

void locket__cond_destroy(locket__cond *c)
{
	pthread_cond_destroy(COND(c));
}

void locket__cond_broadcast(locket__cond *c)
{
	pthread_cond_broadcast(COND(c));
}

int locket__cond_wait(locket__cond *c, locket__mutex *m, int64_t deadline_ms)
{
	struct timespec ts;
	if (deadline_ms == LOCKET__FOREVER) {
		pthread_cond_wait(COND(c), MUTEX(m));
		return 0;
	}
#ifdef __APPLE__
	{
		int64_t left = deadline_ms - locket__now_ms();
		if (left <= 0)
			return LOCKET_ETIMEDOUT;
		ts.tv_sec = (time_t)(left / 1000);
		ts.tv_nsec = (long)(left % 1000) * 1000000L;
		return pthread_cond_timedwait_relative_np(COND(c), MUTEX(m), &ts) == ETIMEDOUT
			       ? LOCKET_ETIMEDOUT
			       : 0;
	}
#else
	ts.tv_sec = (time_t)(deadline_ms / 1000);
	ts.tv_nsec = (long)(deadline_ms % 1000) * 1000000L;
	return pthread_cond_timedwait(COND(c), MUTEX(m), &ts) == ETIMEDOUT ? LOCKET_ETIMEDOUT : 0;
#endif
}

void locket__cond_reinit(locket__cond *c)
{
	/* The copy may count waiters that do not exist in the child. */
	memset(COND(c), 0, sizeof(pthread_cond_t));
	(void)locket__cond_init(c);
}
