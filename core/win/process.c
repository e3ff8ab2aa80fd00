/*
 * Process-wide state on Windows: the lock of the core's registry of
 * handles, and a sleep. There is no fork(), so no fork handlers.
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

int locket__os_sleep_ms(int64_t ms, int interruptible)
{
	(void)interruptible;
	Sleep(ms > 0x7fffffff ? 0x7fffffff : (DWORD)ms);
	return LOCKET_OK;
}

int locket__os_lock_needs_write(int os_error)
{
	(void)os_error;
	return 0;
}
