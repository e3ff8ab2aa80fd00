/*
 * How locket waits on Windows (docs/windows.md, "Waiting"): event-driven
 * behind locket holders (wake-up event, holder marker, the holder's
 * process), short pauses only behind holders that signal nothing, and a
 * callback asked at least every LOCKET_INTERRUPT_CHECK_MS.
 */
#include "harness.h"

#include <string.h>

static locket_t *new_lock(const char *path)
{
	locket_t *lock = NULL;
	CHECK_RC(locket_new(&lock, path, NULL), LOCKET_OK);
	return lock;
}

static const char *with_path(const char *path, const char *rest)
{
	static char buf[4][4096];
	static int next;
	char *b = buf[next++ % 4];
	snprintf(b, sizeof buf[0], "\"%s\" %s", path, rest);
	return b;
}

/* CPU time (user + kernel) of a process, in ms. Wine counts in 10 ms ticks. */
static double cpu_ms(HANDLE process)
{
	FILETIME c, e, k, u;
	ULARGE_INTEGER kk, uu;
	CHECK(GetProcessTimes(process, &c, &e, &k, &u));
	kk.LowPart = k.dwLowDateTime;
	kk.HighPart = k.dwHighDateTime;
	uu.LowPart = u.dwLowDateTime;
	uu.HighPart = u.dwHighDateTime;
	return (double)(kk.QuadPart + uu.QuadPart) / 10000.0;
}

static int never(void *arg)
{
	(void)arg;
	return 0;
}

typedef struct role_wait {
	locket_t *lock;
	locket_wait_options o;
	HANDLE entered;
} role_wait;

static DWORD WINAPI role_wait_thread(void *arg)
{
	role_wait *r = (role_wait *)arg;
	int rc;
	SetEvent(r->entered);
	rc = locket_acquire_with(r->lock, &r->o);
	role_say("got %s", locket_error_name(rc));
	if (rc == LOCKET_OK)
		locket_release(r->lock);
	locket_free(r->lock);
	ExitProcess(0);
}

/* waitfor PATH TIMEOUT_MS cb|nocb: acquire in a thread (with a callback
 * that never ends the wait, or none) and say "waiting"; the main thread
 * answers each "cpu" line with this process's CPU time in ms ("cpu MS":
 * Wine reports no CPU times for other processes); at the grant, say
 * "got NAME", release and exit. */
ROLE(waitfor)
{
	role_wait r;
	if (argc < 3)
		return 2;
	memset(&r, 0, sizeof r);
	if (locket_new(&r.lock, argv[0], NULL) != LOCKET_OK)
		return 3;
	locket_wait_options_init(&r.o);
	r.o.timeout_ms = atoi(argv[1]);
	if (strcmp(argv[2], "cb") == 0)
		r.o.interrupted = never;
	r.entered = CreateEventW(NULL, FALSE, FALSE, NULL);
	if (CreateThread(NULL, 0, role_wait_thread, &r, 0, NULL) == NULL)
		return 3;
	WaitForSingleObject(r.entered, INFINITE);
	role_say("waiting");
	while (role_hear() != NULL)
		role_say("cpu %.0f", cpu_ms(GetCurrentProcess()));
	Sleep(INFINITE); /* the waiting thread ends the process */
	return 0;
}

static double child_cpu(child *c)
{
	double ms = -1;
	child_send(c, "cpu");
	CHECK(sscanf(child_read(c), "cpu %lf", &ms) == 1);
	return ms;
}

/* CPU that n waiters of kind (timeout, callback) spend in 3 s behind a
 * locket holder of this process; every waiter then gets the lock. */
static double idle_waiters_cpu(int n, const char *timeout, const char *cb)
{
	const char *path = test_path("lock");
	locket_t *holder = new_lock(path);
	child c[16];
	double before = 0, after = 0;
	char rest[64];
	int i;

	CHECK(n <= 16);
	CHECK_RC(locket_acquire(holder, 0, 0), LOCKET_OK);
	snprintf(rest, sizeof rest, "%s %s", timeout, cb);
	for (i = 0; i < n; i++) {
		c[i] = child_start("waitfor", with_path(path, rest));
		child_expect(&c[i], "waiting");
	}
	Sleep(200); /* a measurement window, not a synchronisation: start-up off the books */
	for (i = 0; i < n; i++)
		before += child_cpu(&c[i]);
	Sleep(3000);
	for (i = 0; i < n; i++)
		after += child_cpu(&c[i]);
	CHECK_RC(locket_release(holder), LOCKET_OK);
	for (i = 0; i < n; i++) {
		child_expect(&c[i], "got ok");
		CHECK(child_wait(&c[i]) == 0);
	}
	locket_free(holder);
	printf("%d idle waiters (timeout %s, %s): %.0f ms of CPU in 3 s\n", n, timeout, cb,
	       after - before);
	return after - before;
}

/* Before: a timed wait tried every 16 ms, about 8 ms of CPU per waiter per
 * second under Wine (190 ms here for 8 waiters in 3 s). Now they sleep on the
 * wake-up event and the holder's process, with one safety try a second. */
TEST(idle_timed_waiters_behind_locket_holder_use_no_cpu)
{
	CHECK(idle_waiters_cpu(8, "60000", "nocb") < 40);
}

/* An untimed wait with a callback must wake every 50 ms to ask it (it cannot
 * block in LockFileEx), and only asks: no try, no marker check. */
TEST(idle_waiters_with_callback_only_ask_it)
{
	CHECK(idle_waiters_cpu(8, "-1", "cb") < 120);
}

/* ---- callbacks ---- */

typedef struct cb_wait {
	locket_t *lock;
	int64_t timeout_ms;
	volatile LONG stop;    /* set by the test: the callback then ends the wait */
	volatile LONG calls;
	double first_call, last_call, max_gap, prev;
	int rc;
	double returned_at;
} cb_wait;

static int cb_check(void *arg)
{
	cb_wait *w = (cb_wait *)arg;
	double now = test_now_ms();
	if (w->calls == 0)
		w->first_call = now;
	else if (now - w->prev > w->max_gap)
		w->max_gap = now - w->prev;
	w->prev = now;
	w->last_call = now;
	InterlockedIncrement(&w->calls);
	return InterlockedCompareExchange(&w->stop, 0, 0) != 0;
}

static DWORD WINAPI cb_thread(void *arg)
{
	cb_wait *w = (cb_wait *)arg;
	locket_wait_options o = LOCKET_WAIT_OPTIONS_INIT;
	o.timeout_ms = w->timeout_ms;
	o.interrupted = cb_check;
	o.interrupted_arg = w;
	w->rc = locket_acquire_with(w->lock, &o);
	w->returned_at = test_now_ms();
	return 0;
}

/* A waiter (thread) behind a holder in another process; the callback ends
 * it after 600 ms: it must return "interrupted" at once, and have been
 * asked at least every LOCKET_INTERRUPT_CHECK_MS (plus scheduling). */
static void callback_ends_wait(int64_t timeout_ms, const char *holder_kind)
{
	const char *path = test_path("lock");
	cb_wait w;
	HANDLE t;
	double asked;
	child c;

	memset(&w, 0, sizeof w);
	c = child_start(holder_kind, with_path(path, "excl"));
	child_expect(&c, "locked");
	w.lock = new_lock(path);
	w.timeout_ms = timeout_ms;
	t = CreateThread(NULL, 0, cb_thread, &w, 0, NULL);
	CHECK(t != NULL);
	Sleep(600); /* the wait's length, not a synchronisation */
	asked = test_now_ms();
	InterlockedExchange(&w.stop, 1);
	/* Without the callback's effect the wait would last until the holder's
	 * release (10 s later) or the deadline. */
	if (WaitForSingleObject(t, 10000) != WAIT_OBJECT_0) {
		child_send(&c, "release");
		WaitForSingleObject(t, INFINITE);
	}
	CloseHandle(t);
	printf("callback calls %ld, max gap %.1f ms; ended %.1f ms after being asked (%s)\n",
	       (long)w.calls, w.max_gap, w.returned_at - asked, locket_error_name(w.rc));
	CHECK_RC(w.rc, LOCKET_EINTR);
	CHECK(locket_locked(w.lock) == 0);
	CHECK(w.returned_at - asked < 1000);
	CHECK(w.calls >= 6); /* 600 ms at one call per <= 50 ms: about 12 */
	CHECK(w.max_gap < 250);
	child_send(&c, "release");
	child_expect(&c, "released");
	CHECK(child_wait(&c) == 0);
	/* The interrupted wait left nothing behind: the handle still works. */
	CHECK_RC(locket_acquire(w.lock, 1000, 0), LOCKET_OK);
	CHECK_RC(locket_release(w.lock), LOCKET_OK);
	locket_free(w.lock);
}

TEST(callback_ends_untimed_wait)
{
	callback_ends_wait(-1, "hold");
}

TEST(callback_ends_timed_wait)
{
	callback_ends_wait(60000, "hold");
}

TEST(callback_ends_wait_behind_plain_holder)
{
	callback_ends_wait(-1, "plainhold");
}

/* ---- hand-off ---- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

typedef struct thread_waiter {
	locket_t *lock;
	HANDLE go, entered;
	int64_t timeout_ms;
	volatile double got_at;
	int rc;
} thread_waiter;

static DWORD WINAPI handoff_thread(void *arg)
{
	thread_waiter *w = (thread_waiter *)arg;
	WaitForSingleObject(w->go, INFINITE);
	SetEvent(w->entered);
	w->rc = locket_acquire(w->lock, w->timeout_ms, 0);
	w->got_at = test_now_ms();
	if (w->rc == LOCKET_OK)
		locket_release(w->lock);
	return 0;
}

/* Hand-off samples per measurement, and the median they must beat: pauses
 * of 16 ms would give a median of about 8 ms (the release lands anywhere in
 * a pause), below 4 ms in fewer than 1 run in 150 of 21 samples. A loaded
 * machine (other tests run in parallel) slows every hand-off: up to three
 * measurements, one must pass. */
#define HANDOFF_SAMPLES 21
#define HANDOFF_P50_MS 4.0
#define HANDOFF_RUNS 3

/* Hand-off from a locket holder (this thread) to a waiter thread of the
 * same process that has waited 60-100 ms (past the old 16 ms pauses), per
 * sample; returns the median. */
static double thread_handoff_p50(int64_t timeout_ms)
{
	const char *path = test_path("lock");
	locket_t *holder = new_lock(path);
	thread_waiter w;
	double took[HANDOFF_SAMPLES];
	int i, n = HANDOFF_SAMPLES;

	memset(&w, 0, sizeof w);
	w.lock = new_lock(path);
	w.timeout_ms = timeout_ms;
	for (i = 0; i < n; i++) {
		HANDLE t;
		double rel;
		w.go = CreateEventW(NULL, FALSE, FALSE, NULL);
		w.entered = CreateEventW(NULL, FALSE, FALSE, NULL);
		CHECK_RC(locket_acquire(holder, 0, 0), LOCKET_OK);
		t = CreateThread(NULL, 0, handoff_thread, &w, 0, NULL);
		CHECK(t != NULL);
		SetEvent(w.go);
		WaitForSingleObject(w.entered, INFINITE);
		Sleep((DWORD)(60 + 2 * i)); /* the hold, not a synchronisation */
		rel = test_now_ms();
		CHECK_RC(locket_release(holder), LOCKET_OK);
		WaitForSingleObject(t, INFINITE);
		CloseHandle(t);
		CloseHandle(w.go);
		CloseHandle(w.entered);
		CHECK_RC(w.rc, LOCKET_OK);
		took[i] = w.got_at - rel;
	}
	qsort(took, (size_t)n, sizeof took[0], cmp_double);
	printf("thread hand-off (timeout %lld): p50 %.2f ms, max %.2f ms\n", (long long)timeout_ms,
	       took[n / 2], took[n - 1]);
	locket_free(w.lock);
	locket_free(holder);
	return took[n / 2];
}

TEST(thread_handoff_timed_is_event_driven)
{
	int run;
	for (run = 0; run < HANDOFF_RUNS; run++)
		if (thread_handoff_p50(10000) < HANDOFF_P50_MS)
			return;
	CHECK(!"hand-off median under 4 ms in one of three runs");
}

/* relhold PATH: hold; on any line, read the clock, release, say "released T". */
ROLE(relhold)
{
	locket_t *lock;
	double t;
	if (argc < 1 || locket_new(&lock, argv[0], NULL) != LOCKET_OK)
		return 3;
	for (;;) {
		if (locket_acquire(lock, -1, 0) != LOCKET_OK)
			return 3;
		role_say("locked");
		if (role_hear() == NULL)
			break;
		Sleep(80); /* the hold, while the test waits */
		t = test_now_ms();
		locket_release(lock);
		role_say("released %.3f", t);
		if (role_hear() == NULL) /* "again" */
			break;
	}
	locket_free(lock);
	return 0;
}

/* The same across processes, for a timed wait and for an untimed one with
 * a callback (which cannot use the blocking LockFileEx any more). */
static double process_handoff_p50(int64_t timeout_ms, int with_callback)
{
	const char *path = test_path("lock");
	locket_t *lock = new_lock(path);
	child c = child_start("relhold", with_path(path, ""));
	locket_wait_options o = LOCKET_WAIT_OPTIONS_INIT;
	double took[HANDOFF_SAMPLES];
	int i, n = HANDOFF_SAMPLES;

	o.timeout_ms = timeout_ms;
	if (with_callback)
		o.interrupted = never;
	for (i = 0; i < n; i++) {
		const char *line;
		double rel, got;
		child_expect(&c, "locked");
		CHECK_RC(locket_acquire(lock, 0, 0), LOCKET_EWOULDBLOCK);
		/* The child releases 80 ms after this line, while the acquire below waits. */
		child_send(&c, "release");
		CHECK_RC(locket_acquire_with(lock, &o), LOCKET_OK);
		got = test_now_ms();
		line = child_read(&c);
		CHECK(sscanf(line, "released %lf", &rel) == 1);
		took[i] = got - rel;
		CHECK_RC(locket_release(lock), LOCKET_OK);
		child_send(&c, "again");
	}
	child_expect(&c, "locked");
	CloseHandle(c.to); /* EOF: the child ends */
	c.to = NULL;
	child_kill(&c);
	qsort(took, (size_t)n, sizeof took[0], cmp_double);
	printf("process hand-off (timeout %lld%s): p50 %.2f ms, max %.2f ms\n",
	       (long long)timeout_ms, with_callback ? ", callback" : "", took[n / 2], took[n - 1]);
	locket_free(lock);
	return took[n / 2];
}

static void process_handoff(int64_t timeout_ms, int with_callback)
{
	int run;
	for (run = 0; run < HANDOFF_RUNS; run++)
		if (process_handoff_p50(timeout_ms, with_callback) < HANDOFF_P50_MS)
			return;
	CHECK(!"hand-off median under 4 ms in one of three runs");
}

TEST(process_handoff_timed_is_event_driven)
{
	process_handoff(10000, 0);
}

TEST(process_handoff_with_callback_is_event_driven)
{
	process_handoff(-1, 1);
}

/* A killed locket holder sets no event: the waiter sleeps on its process
 * too, so it gets the lock at once, not at the next safety try (1 s). */
TEST(killed_locket_holder_wakes_waiter_at_once)
{
	const char *path = test_path("lock");
	locket_t *lock = new_lock(path);
	child c = child_start("hold", with_path(path, "excl"));
	thread_waiter w;
	HANDLE t;
	double killed;

	child_expect(&c, "locked");
	memset(&w, 0, sizeof w);
	w.lock = lock;
	w.timeout_ms = 30000;
	w.go = CreateEventW(NULL, FALSE, TRUE, NULL);
	w.entered = CreateEventW(NULL, FALSE, FALSE, NULL);
	t = CreateThread(NULL, 0, handoff_thread, &w, 0, NULL);
	CHECK(t != NULL);
	WaitForSingleObject(w.entered, INFINITE);
	Sleep(300); /* the wait's length, not a synchronisation */
	killed = test_now_ms();
	child_kill(&c);
	WaitForSingleObject(t, INFINITE);
	CloseHandle(t);
	printf("lock of the killed holder got after %.1f ms\n", w.got_at - killed);
	CHECK_RC(w.rc, LOCKET_OK);
	CHECK(w.got_at - killed < 500);
	locket_free(lock);
}

/* ---- markers that lie ---- */

typedef LONG(NTAPI *query_file_fn)(HANDLE, void *io_status, void *info, ULONG size, int info_class);

static ULONGLONG file_index(const char *path)
{
	struct {
		LONG_PTR status;
		ULONG_PTR information;
	} io;
	LARGE_INTEGER index;
	wchar_t *w = test_wide(path);
	HANDLE h = CreateFileW(w, 0, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
			       OPEN_ALWAYS, 0, NULL);
	query_file_fn query = (query_file_fn)(void (*)(void))GetProcAddress(
		GetModuleHandleW(L"ntdll.dll"), "NtQueryInformationFile");
	free(w);
	CHECK(h != INVALID_HANDLE_VALUE && query != NULL);
	CHECK(query(h, &io, &index, sizeof index, 6 /* FileInternalInformation */) >= 0);
	CloseHandle(h);
	return (ULONGLONG)index.QuadPart;
}

/* Another program made the holder marker (naming a live process that is
 * no locket holder: this one) while a plain LockFileEx program holds the lock: the
 * waiter trusts the marker, but only until its safety try (1 s). */
TEST(lying_marker_costs_at_most_the_safety_try)
{
	const char *path = test_path("lock");
	locket_t *lock = new_lock(path);
	child c = child_start("plainhold", with_path(path, "excl"));
	wchar_t name[64];
	thread_waiter w;
	HANDLE t, sem;
	double released;

	child_expect(&c, "locked");
	_snwprintf(name, 64, L"Local\\locket-held-%016llx", file_index(path));
	name[63] = L'\0';
	/* This process: alive, and no locket holder of the file. */
	sem = CreateSemaphoreW(NULL, 0, (LONG)GetCurrentProcessId(), name);
	CHECK(sem != NULL);
	memset(&w, 0, sizeof w);
	w.lock = lock;
	w.timeout_ms = 30000;
	w.go = CreateEventW(NULL, FALSE, TRUE, NULL);
	w.entered = CreateEventW(NULL, FALSE, FALSE, NULL);
	t = CreateThread(NULL, 0, handoff_thread, &w, 0, NULL);
	WaitForSingleObject(w.entered, INFINITE);
	Sleep(200); /* the wait's length, not a synchronisation */
	child_send(&c, "release");
	child_expect(&c, "released");
	released = test_now_ms();
	WaitForSingleObject(t, INFINITE);
	CloseHandle(t);
	printf("behind a lying marker: got %.1f ms after the release\n", w.got_at - released);
	CHECK_RC(w.rc, LOCKET_OK);
	CHECK(w.got_at - released < 1500);
	CHECK(child_wait(&c) == 0);
	CloseHandle(sem);
	locket_free(lock);
}

/* Behind a holder that sets no event, the release is found by a try within
 * a short pause (16 ms at most), at any point of the wait. */
TEST(plain_release_found_within_short_pause)
{
	const char *path = test_path("lock");
	locket_t *lock = new_lock(path);
	double worst = 0;
	int i;
	for (i = 0; i < 5; i++) {
		thread_waiter w;
		HANDLE t;
		double released;
		child c = child_start("plainhold", with_path(path, "excl"));
		child_expect(&c, "locked");
		memset(&w, 0, sizeof w);
		w.lock = lock;
		w.timeout_ms = 30000;
		w.go = CreateEventW(NULL, FALSE, TRUE, NULL);
		w.entered = CreateEventW(NULL, FALSE, FALSE, NULL);
		t = CreateThread(NULL, 0, handoff_thread, &w, 0, NULL);
		WaitForSingleObject(w.entered, INFINITE);
		Sleep((DWORD)(50 + 40 * i)); /* the wait's length, not a synchronisation */
		child_send(&c, "release");
		child_expect(&c, "released");
		released = test_now_ms();
		WaitForSingleObject(t, INFINITE);
		CloseHandle(t);
		CloseHandle(w.go);
		CloseHandle(w.entered);
		CHECK_RC(w.rc, LOCKET_OK);
		if (w.got_at - released > worst)
			worst = w.got_at - released;
		CHECK(child_wait(&c) == 0);
	}
	printf("plain holder: worst hand-off %.1f ms after its 'released' line\n", worst);
	CHECK(worst < 100);
	locket_free(lock);
}

/* waithold PATH: say "waiting", acquire (timeout 30 s), say "locked", hold
 * until killed (or EOF). */
ROLE(waithold)
{
	locket_t *lock;
	int rc;
	if (argc < 1 || locket_new(&lock, argv[0], NULL) != LOCKET_OK)
		return 3;
	role_say("waiting");
	rc = locket_acquire(lock, 30000, 0);
	role_say("%s", rc == LOCKET_OK ? "locked" : locket_error_name(rc));
	role_hear();
	return 0;
}

/* H0 (a locket holder that stays alive after its release) hands over to W1,
 * another waiter's process, while this process's thread W2 waits too and
 * watched H0's process. W1 is killed while holding: W2 must learn of W1
 * (W1's grant sets the event; W2 re-reads the marker) and wake at W1's
 * death, not at its next safety try (1 s and more). */
TEST(killed_next_holder_wakes_other_waiters)
{
	const char *path = test_path("lock");
	int attempt;
	for (attempt = 0; attempt < 5; attempt++) {
		locket_t *lock = new_lock(path);
		child h0 = child_start("relhold", with_path(path, ""));
		child w1;
		thread_waiter w;
		HANDLE t;
		double killed;

		child_expect(&h0, "locked");
		w1 = child_start("waithold", with_path(path, ""));
		child_expect(&w1, "waiting");
		Sleep(150); /* W1 into its wait first (FIFO wake-up), not a synchronisation */
		memset(&w, 0, sizeof w);
		w.lock = lock;
		w.timeout_ms = 30000;
		w.go = CreateEventW(NULL, FALSE, TRUE, NULL);
		w.entered = CreateEventW(NULL, FALSE, FALSE, NULL);
		t = CreateThread(NULL, 0, handoff_thread, &w, 0, NULL);
		CHECK(t != NULL);
		WaitForSingleObject(w.entered, INFINITE);
		Sleep(150); /* W2 into its wait, watching H0 */
		child_send(&h0, "release");
		child_expect(&w1, "locked");
		if (WaitForSingleObject(t, 0) == WAIT_OBJECT_0) {
			/* W2 was served first: not the case under test; again. */
			printf("attempt %d: W2 got the lock before W1\n", attempt);
			child_kill(&w1);
			child_kill(&h0);
			CloseHandle(t);
			locket_free(lock);
			continue;
		}
		Sleep(200); /* W1 holds a while, W2 waits behind it */
		killed = test_now_ms();
		child_kill(&w1);
		WaitForSingleObject(t, INFINITE);
		CloseHandle(t);
		printf("W2 got the lock %.1f ms after W1 was killed\n", w.got_at - killed);
		CHECK_RC(w.rc, LOCKET_OK);
		CHECK(w.got_at - killed < 500);
		child_kill(&h0);
		locket_free(lock);
		return;
	}
	test_skip("W2 was always served before W1");
}

/* ---- the identity probe ---- */

/* 1 if a plain handle of path can lock the whole probe area [2^62,
 * 2^62 + 2^48): no probe is left locked on the file. */
static int probe_area_free(const char *path)
{
	OVERLAPPED at = { 0 };
	wchar_t *w = test_wide(path);
	HANDLE h = CreateFileW(w, GENERIC_READ | GENERIC_WRITE,
			       FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL, OPEN_EXISTING,
			       0, NULL);
	BOOL ok;
	free(w);
	CHECK(h != INVALID_HANDLE_VALUE);
	at.OffsetHigh = 1u << 30; /* 2^62 */
	ok = LockFileEx(h, LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY, 0, 0, 1u << 16, &at);
	if (ok)
		UnlockFileEx(h, 0, 0, 1u << 16, &at);
	CloseHandle(h);
	return ok != 0;
}

static int stop_now(void *arg)
{
	(void)arg;
	return 1;
}

/* The probe lives only during an acquisition: after a grant (uncontended or
 * after a wait), a timeout and an interrupted wait, nothing of it is left
 * locked, while the lock is held and after. */
TEST(identity_probe_is_never_left_locked)
{
	const char *path = test_path("lock");
	locket_t *a = new_lock(path), *b = new_lock(path);
	locket_wait_options o = LOCKET_WAIT_OPTIONS_INIT;
	child c;

	CHECK_RC(locket_acquire(a, 0, 0), LOCKET_OK); /* uncontended: os_same_file's probe */
	CHECK(probe_area_free(path));
	CHECK_RC(locket_acquire(b, 100, 0), LOCKET_ETIMEDOUT); /* a wait's probe, then timeout */
	CHECK(probe_area_free(path));
	o.timeout_ms = -1;
	o.interrupted = stop_now;
	CHECK_RC(locket_acquire_with(b, &o), LOCKET_EINTR); /* interrupted */
	CHECK(probe_area_free(path));
	CHECK_RC(locket_release(a), LOCKET_OK);
	/* Granted after a wait (another process held it), timed and blocking. */
	c = child_start("holdfor", with_path(path, "200 release"));
	child_expect(&c, "locked");
	CHECK_RC(locket_acquire(b, 10000, 0), LOCKET_OK);
	CHECK(probe_area_free(path));
	CHECK_RC(locket_release(b), LOCKET_OK);
	CHECK(child_wait(&c) == 0);
	c = child_start("holdfor", with_path(path, "200 release"));
	child_expect(&c, "locked");
	CHECK_RC(locket_acquire(b, -1, 0), LOCKET_OK);
	CHECK(probe_area_free(path));
	CHECK_RC(locket_release(b), LOCKET_OK);
	CHECK(child_wait(&c) == 0);
	CHECK(probe_area_free(path));
	locket_free(a);
	locket_free(b);
}
