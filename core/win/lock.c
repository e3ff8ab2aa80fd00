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

struct locket__waiter {
	HANDLE event;                /* wake-up hint of the file below, or NULL */
	ULONGLONG index;             /* the file the event belongs to */
	HANDLE holder;               /* process of the last locket holder seen, or NULL */
	DWORD holder_pid;            /* its id (0: none opened) */
	locket__win_identity held;   /* the waiting handle's file, read before the wait */
	int verified;                /* the last grant was checked against the path */
};

static void object_name(const wchar_t *what, ULONGLONG index, wchar_t *buf, size_t size)
{
	/* "Local\": the session's namespace, which needs no privilege. Two
	 * files of one index on two volumes share the objects: a wake-up may
	 * then go to the wrong waiter, who only tries once more, and a marker
	 * may make a waiter wait up to HOLDER_RECHECK_MS behind a foreign
	 * holder of the other file. */
	_snwprintf(buf, size, L"Local\\locket-%ls-%016llx", what, index);
	buf[size - 1] = L'\0';
}

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

/* The wake-up event of the file h refers to (its index in *index), kept in
 * w; NULL when it cannot be had (the wait then only polls). */
static HANDLE wake_event(HANDLE h, locket__waiter *w, ULONGLONG *index)
{
	wchar_t name[64];

	if (!locket__win_file_index(h, index))
		return NULL;
	if (w->event != NULL && w->index == *index)
		return w->event;
	if (w->event != NULL)
		CloseHandle(w->event);
	object_name(L"wake", *index, name, sizeof name / sizeof name[0]);
	w->event = CreateEventW(NULL, FALSE, FALSE, name);
	/* CreateEventW on an existing name ignores the reset type: a manual-reset
	 * event left by another program would stay set and wake every pause. */
	if (w->event != NULL && GetLastError() == ERROR_ALREADY_EXISTS && !is_auto_reset(w->event)) {
		CloseHandle(w->event);
		w->event = NULL;
	}
	w->index = *index;
	return w->event;
}

/* Wake one waiter of the file of this index, if any waits. */
static void wake_one(ULONGLONG index)
{
	wchar_t name[64];
	HANDLE event;

	object_name(L"wake", index, name, sizeof name / sizeof name[0]);
	event = OpenEventW(EVENT_MODIFY_STATE, FALSE, name);
	if (event != NULL) {
		SetEvent(event);
		CloseHandle(event);
	}
}

/*
 * Holder markers: the semaphores this process keeps open while its locket
 * handles (or locket_fd_lock() descriptors) hold their locks, by lock
 * handle. Process-wide, under one SRW lock; an entry is made at the grant
 * (locket__os_held) and closed at the release (locket__os_unlock), so the
 * list is as long as the number of locks the process holds.
 */
typedef struct marker {
	struct marker *next;
	HANDLE fd;      /* the lock handle */
	HANDLE sem;     /* "Local\\locket-held-<index>" */
	HANDLE event;   /* the file's wake-up event, set at the release; or NULL */
	ULONGLONG index;
} marker;

static SRWLOCK markers_mu = SRWLOCK_INIT;
static marker *markers;

/* Take fd's marker off the list (NULL if it has none). */
static marker *marker_take(HANDLE fd)
{
	marker **p, *m = NULL;
	AcquireSRWLockExclusive(&markers_mu);
	for (p = &markers; *p != NULL; p = &(*p)->next) {
		if ((*p)->fd == fd) {
			m = *p;
			*p = m->next;
			break;
		}
	}
	ReleaseSRWLockExclusive(&markers_mu);
	return m;
}

static void marker_free(marker *m)
{
	if (m->sem != NULL)
		CloseHandle(m->sem);
	if (m->event != NULL)
		CloseHandle(m->event);
	free(m);
}

void locket__os_held(locket__fd fd, locket__key key)
{
	wchar_t name[64];
	marker *m, *stale;
	DWORD pid = GetCurrentProcessId();

	(void)key; /* 0 on Windows: the index names the objects */
	/* A handle value left on the list by a handle closed without an unlock
	 * (locket_fd_lock() callers may do that) is reused: drop its marker. */
	stale = marker_take((HANDLE)fd);
	if (stale != NULL)
		marker_free(stale);
	m = (marker *)calloc(1, sizeof *m);
	if (m == NULL)
		return; /* no marker: waiters poll, as behind a foreign holder */
	m->fd = (HANDLE)fd;
	if (!locket__win_file_index(m->fd, &m->index) || pid == 0 || pid > 0x7fffffff) {
		free(m);
		return;
	}
	object_name(L"held", m->index, name, sizeof name / sizeof name[0]);
	m->sem = CreateSemaphoreW(NULL, 0, (LONG)pid, name);
	if (m->sem == NULL) {
		free(m);
		return;
	}
	/* Made now, so that the release only sets it (no lookup by name); a
	 * waiter opens the same object. */
	object_name(L"wake", m->index, name, sizeof name / sizeof name[0]);
	m->event = CreateEventW(NULL, FALSE, FALSE, name);
	AcquireSRWLockExclusive(&markers_mu);
	m->next = markers;
	markers = m;
	ReleaseSRWLockExclusive(&markers_mu);
	/* A new holder: waiters that watch the previous holder's process learn
	 * this one (see event_wait). Nobody else has the event open when
	 * nobody waits: it then goes away with this holder's release. */
	if (m->event != NULL)
		SetEvent(m->event);
}

/* NtQuerySemaphore (ntdll, found at run time). */
typedef LONG(NTAPI *query_semaphore_fn)(HANDLE, int info_class, void *info, ULONG size, ULONG *got);
#define SEMAPHORE_QUERY_STATE_ACCESS 0x0001

/* 1 if a locket holder's marker for this index exists (its release, or its
 * death, will wake this waiter); *proc then is the holder's process to wait
 * on, or NULL (this process, or one that cannot be opened), and *holder_pid
 * its id (0 while the marker is being made). 0 when no marker exists or its
 * process has died (its lock goes with it, soon). */
static int locket_holder(locket__waiter *w, ULONGLONG index, HANDLE *proc, DWORD *holder_pid)
{
	struct {
		LONG current, maximum;
	} info; /* SEMAPHORE_BASIC_INFORMATION */
	query_semaphore_fn query = (query_semaphore_fn)(void (*)(void))GetProcAddress(
		GetModuleHandleW(L"ntdll.dll"), "NtQuerySemaphore");
	wchar_t name[64];
	HANDLE sem;
	DWORD pid = 0;

	*proc = NULL;
	*holder_pid = 0;
	object_name(L"held", index, name, sizeof name / sizeof name[0]);
	sem = OpenSemaphoreW(SEMAPHORE_QUERY_STATE_ACCESS, FALSE, name);
	if (sem == NULL)
		return 0;
	if (query != NULL && query(sem, 0, &info, sizeof info, NULL) >= 0 && info.maximum > 0)
		pid = (DWORD)info.maximum;
	CloseHandle(sem);
	*holder_pid = pid;
	if (pid == 0 || pid == GetCurrentProcessId())
		return 1; /* being made, or held by this process: its release wakes */
	if (pid != w->holder_pid) {
		if (w->holder != NULL)
			CloseHandle(w->holder);
		w->holder = OpenProcess(SYNCHRONIZE, FALSE, pid);
		w->holder_pid = pid;
	}
	if (w->holder == NULL)
		return 1; /* cannot watch it: the safety try covers its death */
	if (WaitForSingleObject(w->holder, 0) == WAIT_OBJECT_0)
		return 0; /* died: its handles close, the lock goes without an event */
	*proc = w->holder;
	return 1;
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
static int event_wait(HANDLE h, DWORD mode, const char *path, locket__wait *how, locket__waiter *w)
{
	ULONGLONG index = 0;
	HANDLE event = wake_event(h, w, &index); /* before the next try: see the top */
	HANDLE proc = NULL;
	DWORD pause = 1;              /* next short pause */
	DWORD recheck = HOLDER_RECHECK_MS, recheck_pid = 0;
	DWORD seen_pid = 0;           /* the holder this wait last watched */
	int woken = 0;                /* the last wait ended by the event */
	int64_t until = 0;            /* end of the current pause: try then */
	int64_t window_end = 0;       /* spin guard */
	int wakeups = 0, consumed = 0, must_try = 1;
	int rc;

	for (;;) {
		HANDLE objs[2];
		DWORD n = 0, got;
		int64_t now;

		if (must_try) {
			rc = try_lock(h, mode, path);
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
			rc = locket__fail(LOCKET_ETIMEDOUT, "timed out waiting for the lock on '%s'", path);
			goto leave;
		}
		if (locket__wait_should_end(how, 0)) {
			rc = locket__fail(LOCKET_EINTR, "interrupted while waiting for the lock on '%s'",
					  path);
			goto leave;
		}
		if (must_try) {
			/* After every failed try: who holds it decides the pause. */
			DWORD pid = 0;
			if (event != NULL && locket_holder(w, index, &proc, &pid)) {
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
			if (event != NULL && wakeups >= WAKEUPS_PER_WINDOW && window_end - now < cap)
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

int locket__os_lock(locket__fd fd, const char *path, int shared, locket__wait *how,
		    locket__waiter **waiter)
{
	HANDLE h = (HANDLE)fd;
	DWORD mode = shared ? 0 : LOCKFILE_EXCLUSIVE_LOCK;
	locket__waiter *w = NULL;
	locket__win_probe probe;
	int rc, have_held = 0, have_probe;

	rc = try_lock(h, mode, path);
	if (rc == 1)
		return LOCKET_OK;
	if (rc < 0)
		return rc;
	if (how->deadline == 0)
		return locket__fail(LOCKET_EWOULDBLOCK, "'%s' is locked by another handle or process",
				    path);
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
		rc = lock_byte0(h, mode) ? LOCKET_OK
					 : locket__fail_os((int)GetLastError(), "cannot lock", path);
	else
		rc = event_wait(h, mode, path, how, w);
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
		return locket__fail_os((int)GetLastError(), "cannot make the lock handle inheritable", NULL);
	return LOCKET_OK;
}

int locket__os_unlock(locket__fd fd, locket__key key)
{
	OVERLAPPED at = { 0 };
	ULONGLONG index = 0;
	marker *m;

	(void)key;
	/* The marker goes first: while it exists, waiters count on this
	 * release's wake-up, which comes after the unlock below. */
	m = marker_take((HANDLE)fd);
	if (m != NULL) {
		CloseHandle(m->sem);
		m->sem = NULL;
	}
	if (!UnlockFileEx((HANDLE)fd, 0, 1, 0, &at)) {
		DWORD err = GetLastError();
		if (m != NULL)
			marker_free(m);
		return locket__fail_os((int)err, "cannot unlock lock file", NULL);
	}
	if (m != NULL && m->event != NULL)
		SetEvent(m->event);
	else if (m != NULL || locket__win_file_index((HANDLE)fd, &index))
		wake_one(m != NULL ? m->index : index);
	if (m != NULL)
		marker_free(m);
	return LOCKET_OK;
}

int locket__os_handle_keeps_waiter(void)
{
	return 1; /* the handle keeps its wake-up event between waits */
}
