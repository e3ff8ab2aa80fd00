/*
 * Process-wide state on POSIX: the lock of the core's list of open descriptors,
 * the fork handlers that keep forked children from holding their parent's
 * locks (see core/locket.c), and a sleep that a signal can end.
 */
#include "internal.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
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
	const int interruptible = how->interruptible;
	struct timespec ts;
	sigset_t all, caller;
	int n;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	if (!interruptible) {
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
		return LOCKET_OK;
	}
	/* As in the lock wait: signals stay blocked until ppoll() unblocks them
	 * atomically, so one that came just before is not slept through. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &caller);
	n = ppoll(NULL, 0, &ts, &caller);
	pthread_sigmask(SIG_SETMASK, &caller, NULL);
	return n < 0 && errno == EINTR ? LOCKET_EINTR : LOCKET_OK;
}
