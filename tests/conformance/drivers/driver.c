/*
 * Conformance driver for the C API: reads commands on stdin, one per line,
 * and answers each with one line "<result> <elapsed_ms> [value]" on stdout.
 * The protocol is described in docs/conformance.md.
 */
#include "locket.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#include <windows.h>
#include <fcntl.h>
#include <io.h>
#include <process.h>
#else
#include <fcntl.h>
#include <pthread.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#endif

#define MAX_HANDLES 16
#define MAX_TOKENS 12

struct slot {
	char name[32];
	locket_t *lock;
};

static struct slot slots[MAX_HANDLES];

static double now_ms(void)
{
#ifdef _WIN32
	LARGE_INTEGER f, c;
	QueryPerformanceFrequency(&f);
	QueryPerformanceCounter(&c);
	return (double)c.QuadPart * 1000.0 / (double)f.QuadPart;
#else
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
#endif
}

static long long my_pid(void)
{
#ifdef _WIN32
	return (long long)GetCurrentProcessId();
#else
	return (long long)getpid();
#endif
}

static void answer(const char *result, double elapsed, const char *value)
{
	if (value)
		printf("%s %.3f %s\n", result, elapsed, value);
	else
		printf("%s %.3f\n", result, elapsed);
	fflush(stdout);
}

static void answer_code(int rc, double elapsed)
{
	answer(locket_error_name(rc), elapsed, NULL);
}

/* Undo the %XX escapes in place; returns the decoded length. */
static size_t decode(char *s)
{
	char *out = s;
	const char *in = s;
	if (strcmp(s, "\"\"") == 0) {
		*s = '\0';
		return 0;
	}
	while (*in) {
		if (in[0] == '%' && in[1] && in[2]) {
			char hex[3] = { in[1], in[2], '\0' };
			*out++ = (char)strtol(hex, NULL, 16);
			in += 3;
		} else {
			*out++ = *in++;
		}
	}
	*out = '\0';
	return (size_t)(out - s);
}

static struct slot *find_slot(const char *name, int create)
{
	struct slot *free_slot = NULL;
	for (int i = 0; i < MAX_HANDLES; i++) {
		if (slots[i].name[0] && strcmp(slots[i].name, name) == 0)
			return &slots[i];
		if (!slots[i].name[0] && !free_slot)
			free_slot = &slots[i];
	}
	if (create && free_slot && strlen(name) < sizeof free_slot->name) {
		strcpy(free_slot->name, name);
		return free_slot;
	}
	return NULL;
}

static int has_word(char **tok, int n, const char *word)
{
	for (int i = 0; i < n; i++)
		if (strcmp(tok[i], word) == 0)
			return 1;
	return 0;
}

/* ---- release from another thread ---- */

#ifdef _WIN32
static unsigned __stdcall release_thread(void *arg)
#else
static void *release_thread(void *arg)
#endif
{
	struct slot *s = arg;
	static int rc;
	rc = locket_release(s->lock);
#ifdef _WIN32
	return (unsigned)-rc;
#else
	return &rc;
#endif
}

static int release_in_thread(struct slot *s)
{
#ifdef _WIN32
	DWORD code = 0;
	HANDLE t = (HANDLE)_beginthreadex(NULL, 0, release_thread, s, 0, NULL);
	if (!t)
		return LOCKET_EIO;
	WaitForSingleObject(t, INFINITE);
	GetExitCodeThread(t, &code);
	CloseHandle(t);
	return -(int)code;
#else
	pthread_t t;
	void *res;
	if (pthread_create(&t, NULL, release_thread, s) != 0)
		return LOCKET_EIO;
	pthread_join(t, &res);
	return *(int *)res;
#endif
}

#ifndef _WIN32
/* Runs on SIGINT (as from Ctrl-C) so that the runner can end an interruptible wait. */
static void on_signal(int sig)
{
	(void)sig;
}
#endif

#ifndef _WIN32
/* ---- stress: M threads, each with its own handle, enter and leave one lock ---- */

struct stress {
	const char *lock, *log, *counter, *stop;
	long iters;
	int read_pct, hold_ms, index;
	locket_t *handle; /* shared with another thread, or NULL: the thread opens its own */
	long acquisitions;
	int rc;
};

/* One record per write(2) on an O_APPEND descriptor, so records never interleave. */
static void log_line(int fd, char kind, int index, long seq, long long value)
{
	char buf[96];
	int n = snprintf(buf, sizeof buf, "%c %lld %d %ld %lld\n", kind, my_pid(), index, seq,
			 value);
	if (write(fd, buf, (size_t)n) != n)
		abort();
}

static long long read_counter(int fd)
{
	char buf[32] = { 0 };
	if (pread(fd, buf, 20, 0) < 0)
		abort();
	return atoll(buf);
}

static void *stress_thread(void *arg)
{
	struct stress *s = arg;
	locket_t *lock = s->handle;
	int logfd = open(s->log, O_WRONLY | O_APPEND | O_CLOEXEC);
	int cfd = open(s->counter, O_RDWR | O_CLOEXEC);
	unsigned int seed = (unsigned int)(my_pid() * 31 + s->index);
	if (!lock)
		s->rc = locket_new(&lock, s->lock, NULL);
	if (logfd < 0 || cfd < 0)
		s->rc = LOCKET_EIO;
	for (long seq = 0; s->rc == LOCKET_OK && seq < s->iters; seq++) {
		int shared = (int)(rand_r(&seed) % 100) < s->read_pct;
		long long v;
		if (seq % 16 == 0 && access(s->stop, F_OK) == 0)
			break;
		s->rc = locket_acquire(lock, -1, shared ? LOCKET_SHARED : 0);
		if (s->rc != LOCKET_OK)
			break;
		s->acquisitions++;
		v = read_counter(cfd);
		log_line(logfd, shared ? 'S' : 'E', s->index, seq, v);
		if (s->hold_ms > 0 && seq % 32 == 31) {
			/* A longer hold now and then, so that chaos kills find holders. */
			struct timespec ts = { 0, s->hold_ms * 1000000L };
			nanosleep(&ts, NULL);
		}
		if (shared) {
			log_line(logfd, 's', s->index, seq, read_counter(cfd));
		} else {
			char buf[32];
			snprintf(buf, sizeof buf, "%020lld\n", v + 1);
			if (pwrite(cfd, buf, 21, 0) != 21)
				abort();
			log_line(logfd, 'X', s->index, seq, v + 1);
		}
		s->rc = locket_release(lock);
	}
	if (lock != s->handle)
		locket_free(lock);
	if (logfd >= 0)
		close(logfd);
	if (cfd >= 0)
		close(cfd);
	return NULL;
}

/* stress LOCK LOG COUNTER STOPFILE THREADS ITERATIONS READ_PERCENT HOLD_MS */
static void run_stress(char **tok, int n)
{
	struct stress st[64];
	pthread_t t[64];
	int threads;
	long total = 0;
	int rc = LOCKET_OK;
	double t0 = now_ms();
	char buf[32];
	if (n < 9 || (threads = atoi(tok[5])) < 1 || threads > 64) {
		answer("protocol_error", 0,
		       "stress LOCK LOG COUNTER STOP THREADS ITERS READ_PCT HOLD_MS");
		return;
	}
	locket_t *pair = NULL;
	/* Threads 0 and 1 share one handle: at most one of them may be inside at a time. */
	if (threads >= 2 && (rc = locket_new(&pair, tok[1], NULL)) != LOCKET_OK) {
		answer(locket_error_name(rc), now_ms() - t0, "0");
		return;
	}
	for (int i = 0; i < threads; i++) {
		struct stress init = { .lock = tok[1],
				       .log = tok[2],
				       .counter = tok[3],
				       .stop = tok[4],
				       .iters = atol(tok[6]),
				       .read_pct = atoi(tok[7]),
				       .hold_ms = atoi(tok[8]),
				       .index = i,
				       .handle = i < 2 ? pair : NULL };
		st[i] = init;
		if (pthread_create(&t[i], NULL, stress_thread, &st[i]) != 0)
			abort();
	}
	for (int i = 0; i < threads; i++) {
		pthread_join(t[i], NULL);
		total += st[i].acquisitions;
		if (st[i].rc != LOCKET_OK)
			rc = st[i].rc;
	}
	locket_free(pair);
	snprintf(buf, sizeof buf, "%ld", total);
	answer(locket_error_name(rc), now_ms() - t0, buf);
}
#endif

/* Runs one command; returns 0 to go on, 1 to exit. */
static int run(char **tok, int n)
{
	const char *cmd = tok[0];
	struct slot *s = NULL;
	double t0;
	int rc;

	if (strcmp(cmd, "exit") == 0)
		return 1;
	if (strcmp(cmd, "pid") == 0) {
		char buf[32];
		snprintf(buf, sizeof buf, "%lld", my_pid());
		answer("ok", 0, buf);
		return 0;
	}
	if (strcmp(cmd, "hello") == 0) {
		answer("ok", 0, "c");
		return 0;
	}
	if (strcmp(cmd, "open_close") == 0 && n >= 2) {
		/* The file opened and closed apart from locket, as any code in the process might. */
		FILE *f;
		decode(tok[1]);
		f = fopen(tok[1], "rb");
		if (f)
			fclose(f);
		answer(f ? "ok" : "io_error", 0, NULL);
		return 0;
	}
#ifndef _WIN32
	if (strcmp(cmd, "spawn_child") == 0) {
		/* A long-lived child that inherits whatever the process lets it inherit. */
		pid_t pid = fork();
		char buf[32];
		if (pid == 0) {
			execlp("sleep", "sleep", "60", (char *)NULL);
			_exit(127);
		}
		snprintf(buf, sizeof buf, "%lld", (long long)pid);
		answer(pid > 0 ? "ok" : "io_error", 0, buf);
		return 0;
	}
#else
	if (strcmp(cmd, "spawn_child") == 0) {
		/* A long-lived child (this driver, sleeping) that inherits every
		 * inheritable handle of the process. */
		wchar_t self[MAX_PATH + 1], cmdline[MAX_PATH + 32];
		STARTUPINFOW si;
		PROCESS_INFORMATION pi;
		char buf[32];
		BOOL ok;
		memset(&si, 0, sizeof si);
		si.cb = sizeof si;
		GetModuleFileNameW(NULL, self, MAX_PATH + 1);
		_snwprintf(cmdline, MAX_PATH + 32, L"\"%ls\" --sleep", self);
		cmdline[MAX_PATH + 31] = L'\0';
		ok = CreateProcessW(NULL, cmdline, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi);
		if (ok) {
			CloseHandle(pi.hThread);
			CloseHandle(pi.hProcess);
		}
		snprintf(buf, sizeof buf, "%lu", ok ? (unsigned long)pi.dwProcessId : 0UL);
		answer(ok ? "ok" : "io_error", 0, buf);
		return 0;
	}
#endif
#ifndef _WIN32
	if (strcmp(cmd, "stress") == 0) {
		run_stress(tok, n);
		return 0;
	}
#endif
	if (strcmp(cmd, "reset") == 0) {
		for (int i = 0; i < MAX_HANDLES; i++) {
			locket_free(slots[i].lock);
			slots[i].lock = NULL;
			slots[i].name[0] = '\0';
		}
		answer("ok", 0, NULL);
		return 0;
	}
	if (n < 2) {
		answer("protocol_error", 0, "missing handle");
		return 0;
	}
	s = find_slot(tok[1], strcmp(cmd, "open") == 0);
	if (!s) {
		answer("protocol_error", 0, "unknown handle");
		return 0;
	}

	if (strcmp(cmd, "open") == 0) {
		locket_options o = LOCKET_OPTIONS_INIT;
		size_t len;
		if (n < 3) {
			answer("protocol_error", 0, "missing path");
			return 0;
		}
		len = decode(tok[2]);
		if (strlen(tok[2]) != len) {
			/* A C string cannot hold a NUL: scenarios skip C here. */
			answer("protocol_error", 0, "NUL in a C string");
			return 0;
		}
		if (has_word(tok + 3, n - 3, "no_create"))
			o.flags |= LOCKET_NO_CREATE;
		/* ofd, or ofd:START:LENGTH: an OFD lock on that byte range. */
		for (int i = 3; i < n; i++) {
			long long start = 0, length = 0;
			if (strncmp(tok[i], "ofd", 3) != 0)
				continue;
			if (tok[i][3] == ':' &&
			    sscanf(tok[i] + 4, "%lld:%lld", &start, &length) != 2) {
				answer("protocol_error", 0, "ofd:START:LENGTH");
				return 0;
			}
			o.kind = LOCKET_KIND_OFD;
			o.start = (int64_t)start;
			o.length = (int64_t)length;
		}
		if (s->lock) {
			locket_free(s->lock);
			s->lock = NULL;
		}
		t0 = now_ms();
		rc = locket_new(&s->lock, tok[2], &o);
		answer_code(rc, now_ms() - t0);
	} else if (strcmp(cmd, "acquire") == 0) {
		unsigned int flags = 0;
		long long timeout;
		char *end;
		if (n < 3) {
			answer("protocol_error", 0, "missing timeout");
			return 0;
		}
		if (strcmp(tok[2], "forever") == 0) {
			timeout = -1;
		} else {
			errno = 0;
			timeout = strtoll(tok[2], &end, 10);
			if (*end || errno) {
				answer("protocol_error", 0, "timeout not an integer");
				return 0;
			}
		}
		if (has_word(tok + 3, n - 3, "shared"))
			flags |= LOCKET_SHARED;
		if (has_word(tok + 3, n - 3, "interruptible"))
			flags |= LOCKET_INTERRUPTIBLE;
		t0 = now_ms();
		rc = locket_acquire(s->lock, timeout, flags);
		answer_code(rc, now_ms() - t0);
	} else if (strcmp(cmd, "release") == 0) {
		t0 = now_ms();
		rc = locket_release(s->lock);
		answer_code(rc, now_ms() - t0);
	} else if (strcmp(cmd, "release_thread") == 0) {
		t0 = now_ms();
		rc = release_in_thread(s);
		answer_code(rc, now_ms() - t0);
#ifndef _WIN32
	} else if (strcmp(cmd, "fork_release") == 0) {
		/* A forked child tries to release the parent's lock; it must not be able to. */
		int status = 0;
		pid_t pid = fork();
		if (pid == 0) {
			int code = locket_release(s->lock);
			locket_free(s->lock);
			_exit(-code);
		}
		t0 = now_ms();
		if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
			answer("io_error", 0, "fork");
		else
			answer_code(-WEXITSTATUS(status), now_ms() - t0);
#endif
	} else if (strcmp(cmd, "locked") == 0) {
		answer("ok", 0, locket_locked(s->lock) ? "1" : "0");
	} else if (strcmp(cmd, "holder") == 0) {
		int64_t pid = 0;
		char buf[32];
		t0 = now_ms();
		rc = locket_holder_pid(s->lock, &pid);
		snprintf(buf, sizeof buf, "%lld", (long long)pid);
		answer(locket_error_name(rc), now_ms() - t0, rc == LOCKET_OK ? buf : NULL);
	} else if (strcmp(cmd, "path") == 0) {
		const char *p = locket_path(s->lock);
		answer(p ? "ok" : "invalid_argument", 0, p);
	} else if (strcmp(cmd, "close") == 0) {
		locket_free(s->lock);
		s->lock = NULL;
		answer("ok", 0, NULL);
	} else {
		answer("unsupported", 0, cmd);
	}
	return 0;
}

int main(int argc, char **argv)
{
	char line[4096];

#ifdef _WIN32
	if (argc > 1 && strcmp(argv[1], "--sleep") == 0) {
		Sleep(60000); /* the child of spawn_child */
		return 0;
	}
	/* Lines end in "\n" on every OS: the runner reads them byte for byte. */
	_setmode(_fileno(stdin), _O_BINARY);
	_setmode(_fileno(stdout), _O_BINARY);
#else
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal; /* no SA_RESTART: the wait must see EINTR */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	(void)argc;
	(void)argv;
#endif
	for (;;) {
		char *tok[MAX_TOKENS];
		int n = 0;
		if (!fgets(line, sizeof line, stdin)) {
			if (ferror(stdin) && errno == EINTR) {
				clearerr(stdin); /* a late SIGINT */
				continue;
			}
			break;
		}
		for (char *p = strtok(line, " \t\r\n"); p && n < MAX_TOKENS;
		     p = strtok(NULL, " \t\r\n"))
			tok[n++] = p;
		if (n == 0)
			continue;
		if (run(tok, n))
			break;
	}
	for (int i = 0; i < MAX_HANDLES; i++)
		locket_free(slots[i].lock);
	return 0;
}
