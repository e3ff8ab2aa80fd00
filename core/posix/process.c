/*
 * Process-wide state on POSIX: the lock of the core's list of open descriptors,
 * the fork handlers that keep forked children from holding their parent's
 * locks (see core/locket.c), and a sleep that a signal can end.
 */
#include "internal.h"

#include <errno.h>
#include <pthread.h>
#include <time.h>

static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;

void locket__registry_lock(void)
{
	pthread_mutex_lock(&registry_mu);
}

void locket__registry_unlock(void)
{
	pthread_mutex_unlock(&registry_mu);
}

static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

static void install_fork_handlers(void)
{
	/* On failure (ENOMEM) a child keeps copies of the descriptors: the pid
	 * check in the slot still keeps it from touching the parent's lock. */
	(void)pthread_atfork(locket__fork_prepare, locket__fork_parent, locket__fork_child);
}

void locket__os_fork_handlers(void)
{
	pthread_once(&fork_once, install_fork_handlers);
}

int locket__os_sleep_ms(int64_t ms, locket__wait *how)
{
	/* Signals stay as the caller has them (a blocked one would go to
	 * another thread); a handler that interrupts the sleep asks the wait. */
	for (;;) {
		int64_t slice = locket__wait_cap_ms(how, ms);
		struct timespec ts;
		int64_t start;
		if (locket__wait_should_end(how, 0))
			return LOCKET_EINTR;
		if (how->deadline != LOCKET__FOREVER && locket__now_ms() >= how->deadline)
			return LOCKET_OK; /* the caller sees the deadline */
		ts.tv_sec = (time_t)(slice / 1000);
		ts.tv_nsec = (long)(slice % 1000) * 1000000L;
		start = locket__now_ms();
		if (nanosleep(&ts, NULL) != 0 && errno == EINTR && locket__wait_should_end(how, 1))
			return LOCKET_EINTR;
		ms -= locket__now_ms() - start;
		if (ms <= 0)
			return LOCKET_OK;
	}
}
