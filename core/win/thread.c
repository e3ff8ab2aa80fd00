/*
 * Threads and time on Windows: SRWLOCK + CONDITION_VARIABLE, the process
 * id, and a monotonic millisecond clock (QueryPerformanceCounter: the
 * 10-16 ms steps of GetTickCount64 are too coarse for short timeouts).
 */
#include "win.h"

_Static_assert(sizeof(SRWLOCK) <= sizeof(((locket__mutex *)0)->u.bytes), "SRWLOCK fits");
_Static_assert(sizeof(CONDITION_VARIABLE) <= sizeof(((locket__cond *)0)->u.bytes), "CV fits");

#define SRW(m) ((SRWLOCK *)(void *)(m)->u.bytes)
#define CV(c) ((CONDITION_VARIABLE *)(void *)(c)->u.bytes)

int64_t locket__now_ms(void)
{
	LARGE_INTEGER count, freq;
	QueryPerformanceCounter(&count);
	QueryPerformanceFrequency(&freq);
	/* Split so that count * 1000 cannot overflow. */
	return (count.QuadPart / freq.QuadPart) * 1000 +
	       (count.QuadPart % freq.QuadPart) * 1000 / freq.QuadPart;
}

int64_t locket__os_pid(void)
{
	return (int64_t)GetCurrentProcessId();
}

int locket__mutex_init(locket__mutex *m)
{
	InitializeSRWLock(SRW(m));
	return LOCKET_OK;
}

void locket__mutex_destroy(locket__mutex *m)
{
	(void)m; /* SRW locks own no resources */
}

void locket__mutex_lock(locket__mutex *m)
{
	AcquireSRWLockExclusive(SRW(m));
}

void locket__mutex_unlock(locket__mutex *m)
{
	ReleaseSRWLockExclusive(SRW(m));
}

int locket__cond_init(locket__cond *c)
{
	InitializeConditionVariable(CV(c));
	return LOCKET_OK;
}

void locket__cond_destroy(locket__cond *c)
{
	(void)c;
}

void locket__cond_broadcast(locket__cond *c)
{
	WakeAllConditionVariable(CV(c));
}

int locket__cond_wait(locket__cond *c, locket__mutex *m, int64_t deadline_ms)
{
	DWORD ms = INFINITE;
	if (deadline_ms != LOCKET__FOREVER) {
		int64_t left = deadline_ms - locket__now_ms();
		if (left <= 0)
			return LOCKET_ETIMEDOUT;
		ms = left > 0x7fffffff ? 0x7fffffff : (DWORD)left;
	}
	/* A wake-up before the deadline (early timer, spurious) reports 0: the caller re-checks. */
	if (!SleepConditionVariableSRW(CV(c), SRW(m), ms, 0) && GetLastError() == ERROR_TIMEOUT &&
	    locket__now_ms() >= deadline_ms)
		return LOCKET_ETIMEDOUT;
	return 0;
}
