/*
 * LockFileEx on byte 0 of the lock file, the byte locket.py and filelock
 * lock on Windows, so processes using them and locket exclude each other;
 * or on the handle's byte range when it has one (locket_options.kind is
 * meaningless here: every kind is LockFileEx). The wake-up event and the
 * holder marker stay per file: a release of any range wakes one waiter of
 * the file, and a waiter for another range that takes it tries, fails and
 * waits on, so a range's waiters may hand off no faster than the safety
 * tries (HOLDER_RECHECK_MS); ranges are for interop, not for speed.
 *
 * Every handle is opened without FILE_FLAG_OVERLAPPED, and only two kinds of
 * LockFileEx call are ever made, both of which Wine 8.0 implements as
 * Windows documents (see docs/windows.md; overlapped lock waits are broken
 * there: their event never fires and GetOverlappedResult reports a grant
 * that did not happen):
 *
 * - a try (LOCKFILE_FAIL_IMMEDIATELY), the only way an event-driven wait
 *   takes the lock, so it can never report success without holding it;
 * - a blocking call, for waits without a deadline and without a callback.
 *
 * Every other wait sleeps between tries on kernel objects, never at a fixed
 * period behind a locket holder:
 *
 * - the file's wake-up event, "Local\locket-wake-<index>", a named
 *   auto-reset event that the waiter opens or creates before its next try,
 *   and that every locket release sets after UnlockFileEx: one waiter wakes
 *   at once;
 * - the holder marker, "Local\locket-held-<index>", a named semaphore that
 *   every locket holder creates after its grant and closes before its
 *   UnlockFileEx; its maximum count is the holder's process id (the
 *   cheapest named object that carries a number: under Wine a named section
 *   cost 287 us to make and 211 us to read, a semaphore 55 and 59). A
 *   waiter whose try failed while the marker exists knows that a locket
 *   holder's release (which sets the event) is still to come, so it waits
 *   on the event and on the holder's process (a killed holder sets no
 *   event, but its process handle is signalled), with only safety tries
 *   after HOLDER_RECHECK_MS, then less and less often. A new holder's grant
 *   sets the event once, and a waiter that finds another holder than the
 *   one it watched passes the wake-up on, so every waiter learns each new
 *   holder's process. Without a marker (locket.py, filelock, any plain
 *   LockFileEx program holds the lock) it tries at pauses that grow from
 *   1 ms to SHORT_PAUSE_MAX_MS, as nothing signals such a release.
 *
 * Both objects decide only when to try, never whether the lock is held: a
 * spurious, stale, lost or misdirected wake-up, a marker that lies (another
 * program made it, two files of one index on two volumes), costs at most
 * one extra try or one safety pause (1-8 s). Any program may make an
 * object of either name first: an event that is not auto-reset is not
 * used, and at most WAKEUPS_PER_WINDOW wake-ups per SHORT_PAUSE_MAX_MS end a
 * wait early, so that no event can make it spin.
 *
 * Every wait also holds its identity probe (win.h) from before the wait, so
 * that the check after the grant needs no volume query.
 *
 * A wait with a callback (locket_wait_options.interrupted) wakes at least
 * every LOCKET_INTERRUPT_CHECK_MS to ask it, without a try when nothing
 * else happened; so does an untimed one, which then cannot block in
 * LockFileEx.
 */
#include "win.h"

#include <stdio.h>
#include <stdlib.h>

/* Longest pause between two tries behind a holder that sets no event
 * (locket.py, filelock): bounds the hand-off after such a release. */
#define SHORT_PAUSE_MAX_MS 16

/* Pauses between two tries behind a locket holder, whose release and
 * death both wake the waiter: only a safety net against markers that lie
 * (a handle closed without locket_fd_unlock(), an object made by another
 * program, shared holders in several processes). The first is
 * HOLDER_RECHECK_MS, then each doubles up to HOLDER_RECHECK_MAX_MS while the
 * marker names the same process: under Wine each safety try cost about
 * 0.4 ms of CPU (waiter and server), so 16 idle waiters trying every second
 * spent 0.6% of a core. */
#define HOLDER_RECHECK_MS 1000
#define HOLDER_RECHECK_MAX_MS 8000

int locket__os_waiter_watch(locket__waiter **waiter, const char *path, int *watch_fd)
{
	/* Nothing a loop could poll through an int descriptor: the loop's
	 * tries find the release (docs/windows.md, "Attempts"). */
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
	if (w->holder != NULL)
		CloseHandle(w->holder);
	free(w);
}

int locket__win_range(const locket__span *span, ULONGLONG *offset, ULONGLONG *length)
{
	ULONGLONG start, len;
	if (span == NULL || (span->kind == LOCKET_KIND_FLOCK && span->length == 0)) {
		*offset = 0;
		*length = 1;
		return 1;
	}
	start = (ULONGLONG)span->start;
	len = (ULONGLONG)span->length;
	if (start >= LOCKET__WIN_RANGE_END || (len != 0 && len > LOCKET__WIN_RANGE_END - start)) {
		locket__fail(LOCKET_EINVAL,
			     "a byte range on Windows ends at most at 2^62 (locket's "
			     "identity probes lie beyond)");
		return 0;
	}
	*offset = start;
	*length = len != 0 ? len : LOCKET__WIN_RANGE_END - start;
	return 1;
}

BOOL locket__win_lock_span(HANDLE h, DWORD flags, const locket__span *span)
{
	OVERLAPPED at = { 0 }; /* the call is synchronous: h is not overlapped */
	ULONGLONG offset, length;
	if (!locket__win_range(span, &offset, &length)) {
		SetLastError(ERROR_INVALID_PARAMETER);
		return FALSE;
	}
	at.Offset = (DWORD)offset;
	at.OffsetHigh = (DWORD)(offset >> 32);
	return LockFileEx(h, flags, 0, (DWORD)length, (DWORD)(length >> 32), &at);
}

BOOL locket__win_unlock_span(HANDLE h, const locket__span *span)
{
	OVERLAPPED at = { 0 };
	ULONGLONG offset, length;
	if (!locket__win_range(span, &offset, &length)) {
		SetLastError(ERROR_INVALID_PARAMETER);
		return FALSE;
	}
	at.Offset = (DWORD)offset;
	at.OffsetHigh = (DWORD)(offset >> 32);
	return UnlockFileEx(h, 0, (DWORD)length, (DWORD)(length >> 32), &at);
}

/* 1 locked, 0 held elsewhere, or a recorded error. */
static int try_lock(HANDLE h, DWORD mode, const locket__span *span, const char *path)
{
	DWORD err;
	if (locket__win_lock_span(h, mode | LOCKFILE_FAIL_IMMEDIATELY, span))
		return 1;
	err = GetLastError();
	if (err == ERROR_LOCK_VIOLATION)
		return 0;
	return locket__fail_os((int)err, "cannot lock", path);
}

/* Wake-ups that end a wait for a try, per SHORT_PAUSE_MAX_MS: a stale one
 * (a release while nobody waited leaves the event set) and the release
 * itself. More are slept through, so that an event that someone sets over
 * and over cannot make the wait spin. */
#define WAKEUPS_PER_WINDOW 2

static DWORD ms_dword(int64_t ms)
{
	return ms <= 0 ? 0 : ms >= (int64_t)INFINITE ? INFINITE - 1 : (DWORD)ms;
}

/*
 * The event-driven wait (see the top). Tries only after a wake-up, a pause
 * that ended, or the deadline; between them asks the callback when it is
 * due. "timeout" comes only after a failed try at or past the deadline.
 */
static int event_wait(HANDLE h, DWORD mode, const locket__span *span, const char *path,
		      locket__wait *how, locket__waiter *w)
{
	ULONGLONG index = 0;
	HANDLE event = locket__win_wake_event(h, w, &index); /* before the next try: see the top */
	HANDLE proc = NULL;
	DWORD pause = 1; /* next short pause */
	DWORD recheck = HOLDER_RECHECK_MS, recheck_pid = 0;
	DWORD seen_pid = 0;     /* the holder this wait last watched */
	int woken = 0;          /* the last wait ended by the event */
	int64_t until = 0;      /* end of the current pause: try then */
	int64_t window_end = 0; /* spin guard */
	int wakeups = 0, consumed = 0, must_try = 1;
	int rc;

	for (;;) {
		HANDLE objs[2];
		DWORD n = 0, got;
		int64_t now;

		if (must_try) {
			rc = try_lock(h, mode, span, path);
			if (rc == 1) {
				/* A shared lock may admit more waiters: pass the wake-up on. */
				if (!(mode & LOCKFILE_EXCLUSIVE_LOCK) && event != NULL)
					SetEvent(event);
				return LOCKET_OK;
			}
			if (rc < 0)
				goto leave;
		}
		now = locket__now_ms();
		if (now >= how->deadline && !must_try) {
			must_try = 1; /* the last try came before the deadline */
			continue;
		}
		if (now >= how->deadline) {
			rc = locket__fail(LOCKET_ETIMEDOUT,
					  "timed out waiting for the lock on '%s'", path);
			goto leave;
		}
		if (locket__wait_should_end(how, 0)) {
			rc = locket__fail(LOCKET_EINTR,
					  "interrupted while waiting for the lock on '%s'", path);
			goto leave;
		}
		if (must_try) {
			/* After every failed try: who holds it decides the pause. */
			DWORD pid = 0;
			if (event != NULL && locket__win_locket_holder(w, index, &proc, &pid)) {
				/* Another holder than the one this wait watched: the
				 * wake-up came from its grant (locket__os_held sets
				 * the event), and the other waiters may still watch
				 * the old one's process. Pass it on to one of them,
				 * who does the same: each waiter learns the new
				 * holder once, and a killed holder wakes them all. */
				if (woken && seen_pid != 0 && pid != 0 && pid != seen_pid) {
					SetEvent(event);
					consumed = 0;
				}
				if (pid != 0)
					seen_pid = pid;
				if (pid != recheck_pid) {
					recheck_pid = pid;
					recheck = HOLDER_RECHECK_MS;
				}
				until = now + recheck;
				if (recheck < HOLDER_RECHECK_MAX_MS)
					recheck *= 2;
				pause = 1;
			} else {
				proc = NULL;
				recheck_pid = 0;
				recheck = HOLDER_RECHECK_MS;
				until = now + pause;
				if (pause < SHORT_PAUSE_MAX_MS)
					pause *= 2;
			}
		}
		if (now >= window_end) {
			window_end = now + SHORT_PAUSE_MAX_MS;
			wakeups = 0;
		}
		if (event != NULL && wakeups < WAKEUPS_PER_WINDOW)
			objs[n++] = event;
		if (proc != NULL)
			objs[n++] = proc;
		{
			int64_t cap = until - now;
			DWORD ms;
			if (event != NULL && wakeups >= WAKEUPS_PER_WINDOW &&
			    window_end - now < cap)
				cap = window_end - now; /* the spin guard lifts then */
			ms = ms_dword(locket__wait_cap_ms(how, cap));
			if (n == 0) {
				Sleep(ms);
				got = WAIT_TIMEOUT;
			} else {
				got = WaitForMultipleObjects(n, objs, FALSE, ms);
			}
		}
		if (got == WAIT_FAILED) {
			Sleep(ms_dword(locket__wait_cap_ms(how, until - now)));
			got = WAIT_TIMEOUT;
		}
		woken = got < WAIT_OBJECT_0 + n && objs[got - WAIT_OBJECT_0] == event;
		if (woken) {
			wakeups++;
			consumed = 1;
			must_try = 1;
		} else if (got < WAIT_OBJECT_0 + n) {
			proc = NULL; /* the holder died: its lock goes soon, without an event */
			must_try = 1;
		} else {
			now = locket__now_ms();
			/* Only the callback's check was due: ask it, do not try. */
			must_try = now >= until || now >= how->deadline;
		}
	}
leave:
	/* This wait took a wake-up and leaves without the lock: another waiter
	 * may need it (to notice a holder that sets no event). */
	if (consumed && event != NULL)
		SetEvent(event);
	return rc;
}

int locket__os_lock(locket__fd fd, const char *path, int shared, const locket__span *span,
		    locket__wait *how, locket__waiter **waiter)
{
	HANDLE h = (HANDLE)fd;
	DWORD mode = shared ? 0 : LOCKFILE_EXCLUSIVE_LOCK;
	locket__waiter *w = NULL;
	locket__win_probe probe;
	int rc, have_held = 0, have_probe;

	rc = try_lock(h, mode, span, path);
	if (rc == 1)
		return LOCKET_OK;
	if (rc < 0)
		return rc;
	if (how->deadline == 0)
		return locket__fail(LOCKET_EWOULDBLOCK,
				    "'%s' is locked by another handle or process", path);
	if (waiter == NULL)
		return locket__fail(LOCKET_EINVAL, "locket__os_lock: no waiter for a wait");
	if (*waiter == NULL)
		*waiter = (locket__waiter *)calloc(1, sizeof **waiter);
	w = *waiter;
	if (w == NULL)
		return locket__fail(LOCKET_ENOMEM, "out of memory waiting for '%s'", path);
	/* Off the hand-off's path: the identity probe, taken now and held
	 * through the wait (else the held file's identity, read now: under
	 * Wine its volume is a round trip to the mount manager). */
	w->verified = 0;
	have_probe = locket__win_probe_take(h, &probe);
	if (!have_probe)
		have_held = locket__win_read_identity(h, &w->held);
	if (how->deadline == LOCKET__FOREVER && how->interrupted == NULL)
		/* Nothing can end it early: the kernel's own queue, which also
		 * wakes for holders that set no event. */
		rc = locket__win_lock_span(h, mode, span)
			     ? LOCKET_OK
			     : locket__fail_os((int)GetLastError(), "cannot lock", path);
	else
		rc = event_wait(h, mode, span, path, how, w);
	/* The core's check that path still names the locked file, done here
	 * with what was prepared; when unsure the core checks in full. */
	if (rc == LOCKET_OK && (have_probe || have_held))
		w->verified = locket__win_path_names(path, h, have_held ? &w->held : NULL,
						     have_probe ? &probe : NULL);
	if (have_probe)
		locket__win_probe_drop(h, &probe);
	return rc;
}

int locket__os_make_inheritable(locket__fd fd)
{
	if (!SetHandleInformation((HANDLE)fd, HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT))
		return locket__fail_os((int)GetLastError(),
				       "cannot make the lock handle inheritable", NULL);
	return LOCKET_OK;
}

int locket__os_handle_keeps_waiter(void)
{
	return 1; /* the handle keeps its wake-up event between waits */
}
