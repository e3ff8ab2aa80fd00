/*
 * Process-wide state on Windows: the lock of the core's list of open
 * descriptors, and a sleep. There is no fork(), so no fork handlers.
 */
#include "internal.h"
#include "win.h"

static SRWLOCK registry_mu = SRWLOCK_INIT;

void locket__registry_lock(void)
{
	AcquireSRWLockExclusive(&registry_mu);
}

void locket__registry_unlock(void)
{
	ReleaseSRWLockExclusive(&registry_mu);
}

void locket__os_fork_handlers(void)
{
}

void locket__os_wait_atfork_child(void)
{
}

void locket__cond_reinit(locket__cond *c)
{
	locket__cond_init(c);
}

int locket__os_sleep_ms(int64_t ms, locket__wait *how)
{
	/* Sleep in slices so that a callback (Python's Ctrl-C) is asked on time. */
	for (;;) {
		int64_t slice = locket__wait_cap_ms(how, ms);
		if (locket__wait_should_end(how, 0))
			return LOCKET_EINTR;
		Sleep(slice > 0x7fffffff ? 0x7fffffff : (DWORD)slice);
		ms -= slice;
		if (ms <= 0)
			return LOCKET_OK;
	}
}

int locket__os_lock_needs_write(int os_error)
{
	(void)os_error;
	return 0;
}
