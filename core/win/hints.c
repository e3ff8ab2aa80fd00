/*
 * The hints a Windows wait sleeps on (see lock.c for why they look the way
 * they do): the files' named wake-up events, which releases set, and the
 * holder markers, named semaphores a locket holder keeps open while it holds
 * so that a waiter knows its release (or its death) will wake it. Neither
 * ever decides who holds the lock: LockFileEx does.
 */
#include "win.h"

#include <stdio.h>
#include <stdlib.h>

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
HANDLE locket__win_wake_event(HANDLE h, locket__waiter *w, ULONGLONG *index)
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
	if (w->event != NULL && GetLastError() == ERROR_ALREADY_EXISTS &&
	    !is_auto_reset(w->event)) {
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
	HANDLE fd;    /* the lock handle */
	HANDLE sem;   /* "Local\\locket-held-<index>" */
	HANDLE event; /* the file's wake-up event, set at the release; or NULL */
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

void locket__os_held(locket__fd fd, locket__key key, const locket__span *span)
{
	wchar_t name[64];
	marker *m, *stale;
	DWORD pid = GetCurrentProcessId();

	(void)key;  /* 0 on Windows: the index names the objects */
	(void)span; /* one marker per file, whatever range (lock.c) */
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
int locket__win_locket_holder(locket__waiter *w, ULONGLONG index, HANDLE *proc, DWORD *holder_pid)
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

int locket__os_unlock(locket__fd fd, locket__key key, const locket__span *span)
{
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
	if (!locket__win_unlock_span((HANDLE)fd, span)) {
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
