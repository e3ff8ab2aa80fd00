/*
 * Windows hand-off benchmark (run under Wine by bench/windows/run.sh).
 *
 *   locket_win_bench.exe [--quick] [--wineserver LINUX_PID] --dir DIR --out FILE
 *
 * This process is the holder. One long-lived waiter process per kind (this
 * program again, "--waiter KIND PATH") waits for the lock; samples go
 * round-robin over the kinds. Per sample the holder takes the lock, tells
 * the waiter to wait (pipe), waits for its "waiting" line, holds 1-4 ms
 * (random, so that polling waiters are met at every phase), reads
 * QueryPerformanceCounter, and releases; the waiter reads the counter when
 * its acquire returns and sends both readings back. A sample where the
 * waiter had not entered its acquire before the release is dropped.
 *
 * Also: the same hand-off between threads of this process; the CPU of 16
 * idle waiters of each kind (their own and the Wine server's, whose Linux
 * pid run.sh passes with --wineserver); uncontended acquire+release pairs
 * against the raw calls.
 */
#include "locket.h"
#include "spawn_win.h"

#include <windows.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum holder_kind {
	HOLD_LOCKET,
	HOLD_PLAIN
};

static const struct kind {
	const char *name;
	enum holder_kind holder;
	int context; /* shown without a verdict */
} kinds[] = {
	{ "lockfileex_blocking", HOLD_LOCKET, 0 }, /* the reference */
	{ "locket_timeout_10s", HOLD_LOCKET, 0 },
	{ "locket_timeout_-1", HOLD_LOCKET, 0 },
	{ "locket_timeout_-1_callback", HOLD_LOCKET, 0 },
	{ "poll_50ms", HOLD_LOCKET, 0 },
	{ "locket_timeout_10s_foreign_holder", HOLD_PLAIN, 1 },
};
#define N_KINDS (sizeof kinds / sizeof kinds[0])

static double qpc_us(void)
{
	static LARGE_INTEGER f;
	LARGE_INTEGER c;
	if (f.QuadPart == 0)
		QueryPerformanceFrequency(&f);
	QueryPerformanceCounter(&c);
	return (double)c.QuadPart * 1e6 / (double)f.QuadPart;
}

static HANDLE plain_open(const char *path)
{
	wchar_t w[2048];
	HANDLE h;
	MultiByteToWideChar(CP_UTF8, 0, path, -1, w, 2048);
	h = CreateFileW(w, GENERIC_READ | GENERIC_WRITE,
			FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL, OPEN_ALWAYS,
			FILE_ATTRIBUTE_NORMAL, NULL);
	if (h == INVALID_HANDLE_VALUE) {
		fprintf(stderr, "cannot open %s: %lu\n", path, (unsigned long)GetLastError());
		exit(1);
	}
	return h;
}

static BOOL plain_lock(HANDLE h, DWORD flags)
{
	OVERLAPPED at = { 0 };
	return LockFileEx(h, flags, 0, 1, 0, &at);
}

static void plain_unlock(HANDLE h)
{
	OVERLAPPED at = { 0 };
	UnlockFileEx(h, 0, 1, 0, &at);
}

static void die_rc(const char *what, int rc)
{
	fprintf(stderr, "%s: %s (%s)\n", what, locket_error_name(rc), locket_last_error_message());
	exit(1);
}

/* ---- waiter process ---- */

static volatile LONG asked;

static int ask(void *arg)
{
	(void)arg;
	InterlockedIncrement(&asked);
	return 0;
}

static double self_cpu_ms(void)
{
	FILETIME c, e, k, u;
	ULARGE_INTEGER kk, uu;
	GetProcessTimes(GetCurrentProcess(), &c, &e, &k, &u);
	kk.LowPart = k.dwLowDateTime;
	kk.HighPart = k.dwHighDateTime;
	uu.LowPart = u.dwLowDateTime;
	uu.HighPart = u.dwHighDateTime;
	return (double)(kk.QuadPart + uu.QuadPart) / 10000.0;
}

static int waiter_main(const char *kind, const char *path)
{
	locket_t *lock = NULL;
	HANDLE plain = INVALID_HANDLE_VALUE;
	char line[64];
	int rc;

	if (strncmp(kind, "locket", 6) == 0) {
		if ((rc = locket_new(&lock, path, NULL)) != LOCKET_OK)
			die_rc("locket_new", rc);
	} else {
		plain = plain_open(path);
	}
	setvbuf(stdout, NULL, _IONBF, 0);
	while (fgets(line, sizeof line, stdin) != NULL) {
		double t_enter, t_got;
		printf("waiting\n");
		t_enter = qpc_us();
		if (strcmp(kind, "lockfileex_blocking") == 0) {
			if (!plain_lock(plain, LOCKFILE_EXCLUSIVE_LOCK))
				return 1;
			t_got = qpc_us();
			plain_unlock(plain);
		} else if (strcmp(kind, "poll_50ms") == 0) {
			/* filelock's and locket.py's timed wait: try, sleep 50 ms, retry. */
			while (!plain_lock(plain,
					   LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY))
				Sleep(50);
			t_got = qpc_us();
			plain_unlock(plain);
		} else {
			locket_wait_options o = LOCKET_WAIT_OPTIONS_INIT;
			o.timeout_ms = strncmp(kind, "locket_timeout_-1", 17) == 0 ? -1 : 10000;
			if (strstr(kind, "callback") != NULL)
				o.interrupted = ask; /* what Python's binding does for Ctrl-C */
			if ((rc = locket_acquire_with(lock, &o)) != LOCKET_OK)
				die_rc("locket_acquire", rc);
			t_got = qpc_us();
			locket_release(lock);
		}
		printf("%.3f %.3f\n", t_enter, t_got);
	}
	return 0;
}

/* ---- holder (the benchmark) ---- */

typedef spawned proc; /* tests/common/spawn_win.h, shared with the Windows tests */

static proc start_proc(const char *flag, const char *kind, const char *path)
{
	wchar_t self[2048], cmd[4096];
	proc p;
	GetModuleFileNameW(NULL, self, 2048);
	_snwprintf(cmd, 4096, L"\"%ls\" %hs %hs \"%hs\"", self, flag, kind, path);
	cmd[4095] = L'\0';
	if (spawn_with_pipes(cmd, &p) != 0) {
		fprintf(stderr, "cannot start waiter %s\n", kind);
		exit(1);
	}
	return p;
}

static void read_line(proc *p, char *buf, size_t size)
{
	if (!read_line_from(p->from, buf, size)) {
		fprintf(stderr, "a waiter died\n");
		exit(1);
	}
}

static proc start_waiter(const char *kind, const char *path)
{
	return start_proc("--waiter", kind, path);
}

/* ---- idle waiters: CPU while the lock stays held ---- */

static const char *const idle_kinds[] = {
	"lockfileex_blocking",               /* the reference: costs nothing */
	"locket_timeout_60s",                /* event wait, safety try once a second */
	"locket_timeout_-1_callback",        /* + the callback every 50 ms (Python's Ctrl-C) */
	"locket_timeout_60s_foreign_holder", /* behind a plain holder: short pauses */
};
#define N_IDLE (sizeof idle_kinds / sizeof idle_kinds[0])

typedef struct idle_wait {
	const char *kind;
	const char *path;
} idle_wait;

static DWORD WINAPI idle_thread(void *arg)
{
	idle_wait *iw = (idle_wait *)arg;
	if (strcmp(iw->kind, "lockfileex_blocking") == 0) {
		HANDLE h = plain_open(iw->path);
		plain_lock(h, LOCKFILE_EXCLUSIVE_LOCK);
		plain_unlock(h);
		CloseHandle(h);
	} else {
		locket_t *lock;
		locket_wait_options o = LOCKET_WAIT_OPTIONS_INIT;
		if (locket_new(&lock, iw->path, NULL) != LOCKET_OK)
			ExitProcess(3);
		o.timeout_ms = strstr(iw->kind, "-1") != NULL ? -1 : 60000;
		if (strstr(iw->kind, "callback") != NULL)
			o.interrupted = ask;
		if (locket_acquire_with(lock, &o) != LOCKET_OK)
			ExitProcess(4);
		locket_release(lock);
		locket_free(lock);
	}
	ExitProcess(0);
}

/* --idle KIND PATH: wait in a thread; answer "cpu" lines with this
 * process's CPU in ms (Wine reports none for other processes). */
static int idle_main(const char *kind, const char *path)
{
	static idle_wait iw;
	char line[64];
	iw.kind = kind;
	iw.path = path;
	setvbuf(stdout, NULL, _IONBF, 0);
	if (CreateThread(NULL, 0, idle_thread, &iw, 0, NULL) == NULL)
		return 3;
	printf("waiting\n");
	while (fgets(line, sizeof line, stdin) != NULL)
		printf("cpu %.1f\n", self_cpu_ms());
	Sleep(INFINITE);
	return 0;
}

/* CPU time of a Linux process (the Wine server), from /proc, in ms; -1 if
 * unreadable. */
static double linux_cpu_ms(int pid)
{
	char p[64];
	unsigned long long ut = 0, st = 0;
	FILE *f;
	int i, ch;
	if (pid <= 0)
		return -1;
	snprintf(p, sizeof p, "/proc/%d/stat", pid);
	f = fopen(p, "r");
	if (f == NULL)
		return -1;
	/* Fields 14 and 15 (utime, stime) after the ")" of the name. */
	while ((ch = fgetc(f)) != EOF && ch != ')')
		;
	for (i = 3; i <= 13; i++)
		if (fscanf(f, " %*s") != 0)
			break;
	if (fscanf(f, " %llu %llu", &ut, &st) != 2)
		ut = st = 0;
	fclose(f);
	return (double)(ut + st) * 10.0; /* USER_HZ 100 */
}

typedef struct idle_result {
	double waiters_ms, server_ms, seconds;
} idle_result;

static idle_result idle_run(const char *kind, const char *path, int n, int seconds, int server_pid)
{
	locket_t *holder = NULL;
	HANDLE plain = INVALID_HANDLE_VALUE;
	proc w[16];
	char line[64];
	double before = 0, after = 0, s0, s1;
	idle_result r;
	int i, rc;

	if (strstr(kind, "foreign") != NULL) {
		plain = plain_open(path);
		plain_lock(plain, LOCKFILE_EXCLUSIVE_LOCK);
	} else {
		if ((rc = locket_new(&holder, path, NULL)) != LOCKET_OK)
			die_rc("locket_new", rc);
		if ((rc = locket_acquire(holder, 0, 0)) != LOCKET_OK)
			die_rc("idle holder", rc);
	}
	for (i = 0; i < n; i++) {
		w[i] = start_proc("--idle", kind, path);
		read_line(&w[i], line, sizeof line);
	}
	Sleep(1000); /* start-up off the books */
	s0 = linux_cpu_ms(server_pid);
	for (i = 0; i < n; i++) {
		double ms = 0;
		DWORD put;
		WriteFile(w[i].to, "cpu\n", 4, &put, NULL);
		read_line(&w[i], line, sizeof line);
		sscanf(line, "cpu %lf", &ms);
		before += ms;
	}
	Sleep((DWORD)seconds * 1000);
	for (i = 0; i < n; i++) {
		double ms = 0;
		DWORD put;
		WriteFile(w[i].to, "cpu\n", 4, &put, NULL);
		read_line(&w[i], line, sizeof line);
		sscanf(line, "cpu %lf", &ms);
		after += ms;
	}
	s1 = linux_cpu_ms(server_pid);
	if (holder != NULL) {
		locket_release(holder);
		locket_free(holder);
	} else {
		plain_unlock(plain);
		CloseHandle(plain);
	}
	for (i = 0; i < n; i++) {
		CloseHandle(w[i].to);
		WaitForSingleObject(w[i].process, 30000);
		CloseHandle(w[i].process);
		CloseHandle(w[i].from);
	}
	r.waiters_ms = after - before;
	r.server_ms = s0 < 0 || s1 < 0 ? -1 : s1 - s0;
	r.seconds = seconds;
	return r;
}

/* ---- threads of one process: hand-off from this thread's handle ---- */

static const char *const thread_kinds[] = {
	"lockfileex_blocking",
	"locket_timeout_10s",
	"locket_timeout_-1",
	"locket_timeout_-1_callback",
};
#define N_THREAD (sizeof thread_kinds / sizeof thread_kinds[0])

typedef struct thread_wait {
	const char *kind;
	const char *path;
	HANDLE go, entered, done;
	double t_enter, t_got;
	int stop;
} thread_wait;

static DWORD WINAPI thread_waiter(void *arg)
{
	thread_wait *tw = (thread_wait *)arg;
	HANDLE plain = INVALID_HANDLE_VALUE;
	locket_t *lock = NULL;
	int rc;
	if (strcmp(tw->kind, "lockfileex_blocking") == 0)
		plain = plain_open(tw->path);
	else if ((rc = locket_new(&lock, tw->path, NULL)) != LOCKET_OK)
		die_rc("locket_new", rc);
	for (;;) {
		WaitForSingleObject(tw->go, INFINITE);
		if (tw->stop)
			break;
		SetEvent(tw->entered);
		tw->t_enter = qpc_us();
		if (plain != INVALID_HANDLE_VALUE) {
			plain_lock(plain, LOCKFILE_EXCLUSIVE_LOCK);
			tw->t_got = qpc_us();
			plain_unlock(plain);
		} else {
			locket_wait_options o = LOCKET_WAIT_OPTIONS_INIT;
			o.timeout_ms = strncmp(tw->kind, "locket_timeout_-1", 17) == 0 ? -1 : 10000;
			if (strstr(tw->kind, "callback") != NULL)
				o.interrupted = ask;
			if ((rc = locket_acquire_with(lock, &o)) != LOCKET_OK)
				die_rc("thread acquire", rc);
			tw->t_got = qpc_us();
			locket_release(lock);
		}
		SetEvent(tw->done);
	}
	if (lock != NULL)
		locket_free(lock);
	if (plain != INVALID_HANDLE_VALUE)
		CloseHandle(plain);
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double pct(const double *sorted, int n, double p)
{
	int i = (int)(p * (n - 1) + 0.5);
	return n == 0 ? 0 : sorted[i];
}

/* Median over rounds of acquire+release pairs, in microseconds per pair. */
static void uncontended(const char *path, int pairs, int rounds, double *out_locket,
			double *out_raw)
{
	double lk[32], raw[32];
	locket_t *lock;
	int r, i, rc;
	wchar_t w[2048];

	MultiByteToWideChar(CP_UTF8, 0, path, -1, w, 2048);
	if ((rc = locket_new(&lock, path, NULL)) != LOCKET_OK)
		die_rc("locket_new", rc);
	for (r = 0; r < rounds; r++) {
		double t0 = qpc_us();
		for (i = 0; i < pairs; i++) {
			locket_acquire(lock, 10000, 0);
			locket_release(lock);
		}
		lk[r] = (qpc_us() - t0) / pairs;
		t0 = qpc_us();
		for (i = 0; i < pairs; i++) {
			/* What one acquisition must do at least: open, lock, unlock, close. */
			HANDLE h =
				CreateFileW(w, GENERIC_READ | GENERIC_WRITE,
					    FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
					    NULL, OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
			plain_lock(h, LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY);
			plain_unlock(h);
			CloseHandle(h);
		}
		raw[r] = (qpc_us() - t0) / pairs;
	}
	locket_free(lock);
	qsort(lk, (size_t)rounds, sizeof lk[0], cmp_double);
	qsort(raw, (size_t)rounds, sizeof raw[0], cmp_double);
	*out_locket = lk[rounds / 2];
	*out_raw = raw[rounds / 2];
}

int main(int argc, char **argv)
{
	const char *dir = NULL, *out_path = NULL;
	char path[2048], line[128];
	int quick = 0, samples, i, k, rc, server_pid = 0;
	double *tgot[N_THREAD];
	int tn[N_THREAD] = { 0 };
	idle_result idle[N_IDLE];
	int idle_n, idle_s;
	proc waiters[N_KINDS];
	double *got[N_KINDS];
	int n[N_KINDS] = { 0 }, dropped[N_KINDS] = { 0 };
	locket_t *holder;
	HANDLE plain;
	double unc_locket, unc_raw;
	FILE *out;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--waiter") == 0 && i + 2 < argc)
			return waiter_main(argv[i + 1], argv[i + 2]);
		if (strcmp(argv[i], "--idle") == 0 && i + 2 < argc)
			return idle_main(argv[i + 1], argv[i + 2]);
		if (strcmp(argv[i], "--wineserver") == 0 && i + 1 < argc)
			server_pid = atoi(argv[++i]);
		if (strcmp(argv[i], "--quick") == 0)
			quick = 1;
		else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
			dir = argv[++i];
		else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
			out_path = argv[++i];
	}
	if (dir == NULL || out_path == NULL) {
		fprintf(stderr,
			"usage: locket_win_bench [--quick] [--wineserver PID] --dir DIR --out FILE\n");
		return 64;
	}
	samples = quick ? 20 : 200;
	snprintf(path, sizeof path, "%s/handoff.lock", dir);
	if ((rc = locket_new(&holder, path, NULL)) != LOCKET_OK)
		die_rc("locket_new", rc);
	plain = plain_open(path);
	for (k = 0; k < (int)N_KINDS; k++) {
		waiters[k] = start_waiter(kinds[k].name, path);
		got[k] = calloc((size_t)samples, sizeof(double));
	}
	srand(42);
	for (i = 0; i < samples; i++) {
		for (k = 0; k < (int)N_KINDS; k++) {
			double t_rel, t_enter, t_got;
			DWORD put;
			if (kinds[k].holder == HOLD_LOCKET) {
				if ((rc = locket_acquire(holder, 10000, 0)) != LOCKET_OK)
					die_rc("holder acquire", rc);
			} else {
				plain_lock(plain, LOCKFILE_EXCLUSIVE_LOCK);
			}
			WriteFile(waiters[k].to, "wait\n", 5, &put, NULL);
			read_line(&waiters[k], line, sizeof line);
			Sleep((DWORD)(1 + rand() % 4));
			t_rel = qpc_us();
			if (kinds[k].holder == HOLD_LOCKET)
				locket_release(holder);
			else
				plain_unlock(plain);
			read_line(&waiters[k], line, sizeof line);
			if (sscanf(line, "%lf %lf", &t_enter, &t_got) != 2) {
				fprintf(stderr, "bad answer '%s'\n", line);
				return 1;
			}
			if (t_enter > t_rel)
				dropped[k]++;
			else
				got[k][n[k]++] = t_got - t_rel;
		}
	}
	for (k = 0; k < (int)N_KINDS; k++) {
		CloseHandle(waiters[k].to);
		WaitForSingleObject(waiters[k].process, 10000);
	}
	CloseHandle(plain);
	locket_free(holder);

	/* Threads of one process: the holder is this thread's locket handle. */
	snprintf(path, sizeof path, "%s/threads.lock", dir);
	if ((rc = locket_new(&holder, path, NULL)) != LOCKET_OK)
		die_rc("locket_new", rc);
	{
		thread_wait tw[N_THREAD];
		HANDLE th[N_THREAD];
		for (k = 0; k < (int)N_THREAD; k++) {
			tw[k].kind = thread_kinds[k];
			tw[k].path = path;
			tw[k].go = CreateEventW(NULL, FALSE, FALSE, NULL);
			tw[k].entered = CreateEventW(NULL, FALSE, FALSE, NULL);
			tw[k].done = CreateEventW(NULL, FALSE, FALSE, NULL);
			tw[k].stop = 0;
			th[k] = CreateThread(NULL, 0, thread_waiter, &tw[k], 0, NULL);
			tgot[k] = calloc((size_t)samples, sizeof(double));
		}
		for (i = 0; i < samples; i++) {
			for (k = 0; k < (int)N_THREAD; k++) {
				double t_rel;
				if ((rc = locket_acquire(holder, 10000, 0)) != LOCKET_OK)
					die_rc("holder acquire", rc);
				SetEvent(tw[k].go);
				WaitForSingleObject(tw[k].entered, INFINITE);
				Sleep((DWORD)(1 + rand() % 4));
				t_rel = qpc_us();
				locket_release(holder);
				WaitForSingleObject(tw[k].done, INFINITE);
				if (tw[k].t_enter <= t_rel)
					tgot[k][tn[k]++] = tw[k].t_got - t_rel;
			}
		}
		for (k = 0; k < (int)N_THREAD; k++) {
			tw[k].stop = 1;
			SetEvent(tw[k].go);
			WaitForSingleObject(th[k], INFINITE);
			CloseHandle(th[k]);
		}
	}
	locket_free(holder);

	/* Idle waiters: 16 processes of one kind behind a holder for a while. */
	idle_n = 16;
	idle_s = quick ? 2 : 10;
	for (k = 0; k < (int)N_IDLE; k++) {
		snprintf(path, sizeof path, "%s/idle%d.lock", dir, k);
		idle[k] = idle_run(idle_kinds[k], path, idle_n, idle_s, server_pid);
	}

	snprintf(path, sizeof path, "%s/uncontended.lock", dir);
	uncontended(path, quick ? 200 : 2000, quick ? 3 : 9, &unc_locket, &unc_raw);

	out = fopen(out_path, "w");
	if (out == NULL) {
		fprintf(stderr, "cannot write %s\n", out_path);
		return 1;
	}
	fprintf(out, "{\"suite\": \"windows\",\n \"metrics\": [\n");
	for (k = 0; k < (int)N_KINDS; k++) {
		static const char *const names[] = { "handoff_p50", "handoff_p90", "handoff_p99" };
		static const double ps[] = { 0.5, 0.9, 0.99 };
		int m;
		qsort(got[k], (size_t)n[k], sizeof(double), cmp_double);
		for (m = 0; m < 3; m++)
			fprintf(out,
				"  {\"name\": \"%s\", \"impl\": \"%s\", \"value\": %.1f, \"unit\": \"us\", "
				"\"reference\": %s, \"lower_is_better\": true%s},\n",
				names[m], kinds[k].name, pct(got[k], n[k], ps[m]),
				k == 0 ? "true" : "false",
				kinds[k].context ? ", \"context\": true" : "");
	}
	for (k = 0; k < (int)N_THREAD; k++) {
		qsort(tgot[k], (size_t)tn[k], sizeof(double), cmp_double);
		fprintf(out,
			"  {\"name\": \"thread_handoff_p50\", \"impl\": \"%s\", \"value\": %.1f, "
			"\"unit\": \"us\", \"reference\": %s, \"lower_is_better\": true},\n"
			"  {\"name\": \"thread_handoff_p90\", \"impl\": \"%s\", \"value\": %.1f, "
			"\"unit\": \"us\", \"reference\": %s, \"lower_is_better\": true},\n",
			thread_kinds[k], pct(tgot[k], tn[k], 0.5), k == 0 ? "true" : "false",
			thread_kinds[k], pct(tgot[k], tn[k], 0.9), k == 0 ? "true" : "false");
	}
	for (k = 0; k < (int)N_IDLE; k++) {
		double total = idle[k].waiters_ms + (idle[k].server_ms > 0 ? idle[k].server_ms : 0);
		fprintf(out,
			"  {\"name\": \"idle16_cpu_pct_of_core\", \"impl\": \"%s\", \"value\": %.2f, "
			"\"unit\": \"%%\", \"reference\": %s, \"lower_is_better\": true%s, "
			"\"waiters_ms\": %.0f, \"wineserver_ms\": %.0f, \"seconds\": %.0f},\n",
			idle_kinds[k], total / (idle[k].seconds * 10.0), k == 0 ? "true" : "false",
			strstr(idle_kinds[k], "foreign") ? ", \"context\": true" : "",
			idle[k].waiters_ms, idle[k].server_ms, idle[k].seconds);
	}
	fprintf(out,
		"  {\"name\": \"uncontended\", \"impl\": \"raw_open_lock_unlock_close\", \"value\": %.2f, "
		"\"unit\": \"us\", \"reference\": true, \"lower_is_better\": true},\n"
		"  {\"name\": \"uncontended\", \"impl\": \"locket_timeout_10s\", \"value\": %.2f, "
		"\"unit\": \"us\", \"reference\": false, \"lower_is_better\": true}\n ],\n",
		unc_raw, unc_locket);
	fprintf(out, " \"handoff\": {\n");
	for (k = 0; k < (int)N_KINDS; k++) {
		fprintf(out, "  \"%s\": [", kinds[k].name);
		for (i = 0; i < n[k]; i++)
			fprintf(out, "%s%.1f", i ? ", " : "", got[k][i]);
		fprintf(out, "]%s\n", k + 1 < (int)N_KINDS ? "," : "");
	}
	fprintf(out, " },\n \"notes\": [\n");
	fprintf(out,
		"  \"Under Wine 8.0 (mingw-w64 build); hand-off = holder's release to the waiter's "
		"return, QueryPerformanceCounter in both processes; %d rounds, kinds interleaved, "
		"holds of 1-4 ms.\",\n",
		samples);
	fprintf(out,
		"  \"lockfileex_blocking: blocking LockFileEx on a kept non-overlapped handle (the "
		"floor). locket_timeout_10s: locket's event-driven wait (the release's wake-up "
		"event; the holder's marker and process). locket_timeout_-1: locket's blocking "
		"LockFileEx. locket_timeout_-1_callback: no deadline but an interrupt callback (as "
		"Python's binding passes for Ctrl-C), so the event-driven wait, asking it every "
		"50 ms. poll_50ms: filelock/locket.py's try + 50 ms sleep. Every locket row includes "
		"locket's check that the path still names the locked file (a reopen and a volume "
		"query, a round trip to Wine's mount manager).\",\n");
	fprintf(out,
		"  \"locket_timeout_10s_foreign_holder: the holder is a plain LockFileEx program "
		"(like locket.py or filelock) that sets no wake-up event and makes no marker: "
		"locket's wait then finds the release by its tries, 1 ms apart doubling to 16 ms.\",\n");
	fprintf(out,
		"  \"thread_handoff_*: the same hand-off between two threads of this process (the "
		"holder is this thread's locket handle, each kind's waiter a thread with its own "
		"handle), %d rounds.\",\n",
		samples);
	fprintf(out,
		"  \"idle16_cpu_pct_of_core: 16 waiter processes of one kind wait %d s behind a held "
		"lock (a locket holder; a plain LockFileEx holder for the foreign row): their CPU "
		"(each reads its own GetProcessTimes: Wine reports none for other processes) plus "
		"the Wine server's (/proc), in %% of one core, 10 ms ticks. The blocking row is the "
		"noise floor of the server in the same run.\",\n",
		idle_s);
	fprintf(out, "  \"dropped samples (waiter not yet in its acquire at the release):");
	for (k = 0; k < (int)N_KINDS; k++)
		fprintf(out, " %s=%d", kinds[k].name, dropped[k]);
	fprintf(out,
		"\",\n  \"uncontended: median of %d rounds of %d acquire+release pairs on one "
		"kept handle (locket opens and closes the file per acquisition, and its release "
		"signals the wake-up event); reference: CreateFileW + LockFileEx + UnlockFileEx + "
		"CloseHandle.\",\n",
		quick ? 3 : 9, quick ? 200 : 2000);
	fprintf(out,
		"  \"Real Windows is not measured: under Wine every call is a round trip to the "
		"Wine server.\"\n ]\n}\n");
	fclose(out);
	for (k = 0; k < (int)N_KINDS; k++) {
		printf("%-36s n=%3d p50=%8.1f us p90=%8.1f us p99=%8.1f us\n", kinds[k].name, n[k],
		       pct(got[k], n[k], 0.5), pct(got[k], n[k], 0.9), pct(got[k], n[k], 0.99));
	}
	for (k = 0; k < (int)N_THREAD; k++)
		printf("threads: %-27s n=%3d p50=%8.1f us p90=%8.1f us\n", thread_kinds[k], tn[k],
		       pct(tgot[k], tn[k], 0.5), pct(tgot[k], tn[k], 0.9));
	for (k = 0; k < (int)N_IDLE; k++)
		printf("idle x%d: %-34s waiters %5.0f ms + wineserver %5.0f ms in %.0f s = %.2f%% of a core\n",
		       idle_n, idle_kinds[k], idle[k].waiters_ms, idle[k].server_ms,
		       idle[k].seconds,
		       (idle[k].waiters_ms + (idle[k].server_ms > 0 ? idle[k].server_ms : 0)) /
			       (idle[k].seconds * 10.0));
	printf("uncontended: locket %.2f us, raw %.2f us\n", unc_locket, unc_raw);
	return 0;
}
