/*
 * LockFileEx on byte 0 of the lock file, the byte locket.py and filelock
 * lock on Windows, so processes using them and locket exclude each other.
 *
 * Every handle is opened without FILE_FLAG_OVERLAPPED, and only two kinds of
 * LockFileEx call are ever made, both of which Wine 8.0 implements as
 * Windows documents (see docs/windows.md; overlapped lock waits are broken
 * there: their event never fires and GetOverlappedResult reports a grant
 * that did not happen):
 *
 * - a try (LOCKFILE_FAIL_IMMEDIATELY), the only way a timed wait takes the
 *   lock, so a timed wait can never report success without holding it;
 * - a blocking call, for waits without a deadline.
 *
 * A timed wait sleeps between tries on a named auto-reset event derived
 * from the file's identity ("wake-up hint"). Every locket release sets it
 * after unlocking, which wakes one waiter at once. The waiter opens the
 * event before its last try, so a release after that try always finds the
 * event. Holders that do not signal (other libraries, a killed process)
 * are caught by the sleep's own bound, which grows from 1 ms to
 * WAIT_MAX_PAUSE_MS. The event decides only when to try, never whether
 * the lock is held. Any program may make an object of that name first: an
 * event that is not auto-reset is not used, and at most WAKEUPS_PER_PAUSE
 * wake-ups per pause end the wait early, so that no event can make it spin.
 */
#include "win.h"

#include <stdio.h>
#include <stdlib.h>

/* Longest sleep between two tries of a timed wait: bounds the hand-off
 * after a release that does not set the wake-up event. */
#define WAIT_MAX_PAUSE_MS 16

struct locket__waiter {
	HANDLE event;                /* wake-up hint of the file below, or NULL */
	ULONGLONG index;             /* the file the event belongs to */
	locket__win_identity held;   /* the waiting handle's file, read before the wait */
	int verified;                /* the last grant was checked against the path */
};

static void event_name(ULONGLONG index, wchar_t *buf, size_t size)
{
	/* "Local\": the session's namespace, which needs no privilege. Two
	 * files of one index on two volumes share an event: a wake-up may
	 * then go to the wrong waiter, who only tries once more. */
	_snwprintf(buf, size, L"Local\\locket-wake-%016llx", index);
	buf[size - 1] = L'\0';
}

int locket__os_waiter_watch(locket__waiter **waiter, const char *path, int *watch_fd)
{
	/* Nothing a loop could poll here: the loop's tries find the release. */
	(void)waiter;
	(void)path;
	*watch_fd = -1;
	return 0;
}

int locket__os_wait_verified(const locket__waiter *w)
{
	return w != NULL && w->verified;
}

void locket__os_waiter_free(locket__waiter *w)
{
	if (w == NULL)
		return;
	if (w->event != NULL)
		CloseHandle(w->event);
	free(w);
}

/* NtQueryEvent (ntdll, found at run time): is the event auto-reset
 * (SynchronizationEvent)? 0 when it cannot tell. */
typedef LONG(NTAPI *query_event_fn)(HANDLE, int info_class, void *info, ULONG size, ULONG *got);

static int is_auto_reset(HANDLE event)
{
	struct {
		int type; /* EVENT_TYPE: 0 NotificationEvent (manual), 1 SynchronizationEvent */
		LONG state;
	} info; /* EVENT_BASIC_INFORMATION */
	query_event_fn query = (query_event_fn)(void (*)(void))GetProcAddress(
		GetModuleHandleW(L"ntdll.dll"), "NtQueryEvent");
	return query != NULL && query(event, 0, &info, sizeof info, NULL) >= 0 && info.type == 1;
}

/* The wake-up event of the file h refers to, kept in *waiter; NULL when it
 * cannot be had (the wait then only polls). */
static HANDLE wake_event(HANDLE h, locket__waiter **waiter)
{
	ULONGLONG index;
	locket__waiter *w = *waiter;
	wchar_t name[64];

	if (!locket__win_file_index(h, &index))
		return NULL;
	if (w == NULL)
		return NULL;
	if (w->event != NULL && w->index == index)
		return w->event;
	if (w->event != NULL)
		CloseHandle(w->event);
	event_name(index, name, sizeof name / sizeof name[0]);
	w->event = CreateEventW(NULL, FALSE, FALSE, name);
	/* CreateEventW on an existing name ignores the reset type: a manual-reset
	 * event left by another program would stay set and wake every pause. */
	if (w->event != NULL && GetLastError() == ERROR_ALREADY_EXISTS && !is_auto_reset(w->event)) {
		CloseHandle(w->event);
		w->event = NULL;
	}
	w->index = index;
	return w->event;
}

/* Wake one timed waiter of the file h refers to, if any waits. */
static void wake_one(HANDLE h)
{
	ULONGLONG index;
	wchar_t name[64];
	HANDLE event;

	if (!locket__win_file_index(h, &index))
		return;
	event_name(index, name, sizeof name / sizeof name[0]);
	event = OpenEventW(EVENT_MODIFY_STATE, FALSE, name);
	if (event != NULL) {
		SetEvent(event);
		CloseHandle(event);
	}
}

static BOOL lock_byte0(HANDLE h, DWORD flags)
{
	OVERLAPPED at = { 0 }; /* offset 0; the call is synchronous: h is not overlapped */
	return LockFileEx(h, flags, 0, 1, 0, &at);
}

/* 1 locked, 0 held elsewhere, or a recorded error. */
static int try_lock(HANDLE h, DWORD mode, const char *path)
{
	DWORD err;
	if (lock_byte0(h, mode | LOCKFILE_FAIL_IMMEDIATELY))
		return 1;
	err = GetLastError();
	if (err == ERROR_LOCK_VIOLATION)
		return 0;
	return locket__fail_os((int)err, "cannot lock", path);
}

/* Wake-ups that end the wait for a try, per pause: a stale one (a release
 * while nobody waited leaves the event set) and the release itself. More
 * are slept through, so that an event that someone sets over and over
 * cannot make the wait spin. */
#define WAKEUPS_PER_PAUSE 2

static int timed_wait(HANDLE h, DWORD mode, const char *path, int64_t deadline_ms,
		      locket__waiter **waiter)
{
	HANDLE event = wake_event(h, waiter); /* before the next try: see the top */
	DWORD pause = 1;
	int64_t pause_end = 0;
	int wakeups = 0;

	for (;;) {
		int64_t now, until;
		DWORD ms;
		int rc = try_lock(h, mode, path);
		if (rc == 1) {
			/* A shared lock may admit more waiters: pass the wake-up on. */
			if (!(mode & LOCKFILE_EXCLUSIVE_LOCK) && event != NULL)
				SetEvent(event);
			return LOCKET_OK;
		}
		if (rc < 0)
			return rc;
		now = locket__now_ms();
		if (now >= deadline_ms)
			return locket__fail(LOCKET_ETIMEDOUT, "timed out waiting for the lock on '%s'",
					    path);
		if (now >= pause_end) {
			pause_end = now + pause;
			wakeups = 0;
			if (pause < WAIT_MAX_PAUSE_MS)
				pause *= 2;
		}
		until = pause_end < deadline_ms ? pause_end : deadline_ms;
		ms = (DWORD)(until - now);
		if (event != NULL && wakeups < WAKEUPS_PER_PAUSE) {
			DWORD got = WaitForSingleObject(event, ms);
			if (got == WAIT_OBJECT_0)
				wakeups++;
			else if (got == WAIT_FAILED)
				Sleep(ms);
		} else {
			Sleep(ms);
		}
	}
}

int locket__os_lock(locket__fd fd, const char *path, int shared, locket__wait *how,
		    locket__waiter **waiter)
{
	const int64_t deadline_ms = how->deadline;
	const int interruptible = how->interruptible;
	HANDLE h = (HANDLE)fd;
	DWORD mode = shared ? 0 : LOCKFILE_EXCLUSIVE_LOCK;
	locket__waiter *w = NULL;
	int rc, have_held = 0;

	(void)interruptible; /* no signals on Windows: waits end by deadline only */
	rc = try_lock(h, mode, path);
	if (rc == 1)
		return LOCKET_OK;
	if (rc < 0)
		return rc;
	if (deadline_ms == 0)
		return locket__fail(LOCKET_EWOULDBLOCK, "'%s' is locked by another handle or process",
				    path);
	if (waiter != NULL) {
		if (*waiter == NULL)
			*waiter = (locket__waiter *)calloc(1, sizeof **waiter);
		w = *waiter;
	}
	if (w != NULL) {
		/* Read now, off the hand-off's path: under Wine the volume is a
		 * round trip to the mount manager. */
		w->verified = 0;
		have_held = locket__win_read_identity(h, &w->held);
	}
	if (deadline_ms == LOCKET__FOREVER)
		rc = lock_byte0(h, mode) ? LOCKET_OK
					 : locket__fail_os((int)GetLastError(), "cannot lock", path);
	else if (waiter == NULL)
		return locket__fail(LOCKET_EINVAL, "locket__os_lock: no waiter for a timed wait");
	else
		rc = timed_wait(h, mode, path, deadline_ms, waiter);
	/* The core's check that path still names the locked file, with the
	 * held side already read; when unsure the core checks in full. */
	if (rc == LOCKET_OK && have_held)
		w->verified = locket__win_path_names(path, h, &w->held);
	return rc;
}

void locket__os_held(locket__fd fd, locket__key key)
{
	(void)fd;
	(void)key;
}

int locket__os_make_inheritable(locket__fd fd)
{
	if (!SetHandleInformation((HANDLE)fd, HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT))
		return locket__fail_os((int)GetLastError(), "cannot make the lock handle inheritable", NULL);
	return LOCKET_OK;
}

int locket__os_unlock(locket__fd fd, locket__key key)
{
	(void)key;
	OVERLAPPED at = { 0 };
	if (!UnlockFileEx((HANDLE)fd, 0, 1, 0, &at))
		return locket__fail_os((int)GetLastError(), "cannot unlock lock file", NULL);
	wake_one((HANDLE)fd);
	return LOCKET_OK;
}
