/* locket-bench-waiter: the C waiter of the issue-18 suite (bench/issue18/issue18.py drives it).
 *
 * usage: locket-bench-waiter KIND TIMEOUT_MS [--idle-thread] PATH...
 *   KIND: locket (locket_acquire with TIMEOUT_MS, -1 for none) or flock (a blocking flock(LOCK_EX)
 *   that a re-armed SIGALRM ends after TIMEOUT_MS, as flock(1) -w; one PATH only).
 *   One PATH: the main thread waits (a single-threaded process unless --idle-thread adds a second,
 *   idle thread). Several PATHs: one waiting thread per path, the main thread reads commands.
 *
 * Line protocol: the waiter prints "ready". Per "go" line on stdin every waiting thread i prints
 * "w i", acquires its path, then prints "d i T RC CPU" (T: CLOCK_MONOTONIC ns when the acquire
 * returned; RC: 0 acquired, 1 timed out, -1 error; CPU: CLOCK_PROCESS_CPUTIME_ID ns spent over the
 * acquire, meaningful with one path) and releases. "q" or end of input: exit. */
#include "../c/bench.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

typedef struct slot {
	pthread_t thread;
	waiter w;
	int index;
} slot;

static const waiter_kind *kind;
static int64_t timeout_ms;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static unsigned long generation; /* bumped by every "go" */
static int quitting;
static int idle_pipe[2];

/* One line per write(): shorter than PIPE_BUF, so lines of different threads never mix. */
static void say(const char *fmt, ...) BENCH_PRINTF(1, 2);
static void say(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n > 0 && (size_t)n < sizeof buf && write(STDOUT_FILENO, buf, (size_t)n) != n)
		_exit(3);
}

static void wait_once(slot *s)
{
	say("w %d\n", s->index);
	int64_t cpu0 = cpu_ns();
	int rc = kind->acquire(&s->w, timeout_ms);
	int64_t t = now_ns(), cpu = cpu_ns() - cpu0;
	say("d %d %lld %d %lld\n", s->index, (long long)t, rc, (long long)cpu);
	if (rc == WAIT_OK)
		kind->release(&s->w);
}

static void *thread_main(void *arg)
{
	slot *s = arg;
	unsigned long seen = 0;
	for (;;) {
		pthread_mutex_lock(&mu);
		while (generation == seen && !quitting)
			pthread_cond_wait(&cv, &mu);
		seen = generation;
		int quit = quitting;
		pthread_mutex_unlock(&mu);
		if (quit)
			return NULL;
		wait_once(s);
	}
}

static void *idle(void *arg)
{
	char c;
	sigset_t all;
	(void)arg;
	sigfillset(&all); /* the flock waiter's SIGALRM stays the waiting thread's */
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	while (read(idle_pipe[0], &c, 1) < 0 && errno == EINTR)
		;
	return NULL;
}

static int read_line(char *buf, size_t size)
{
	size_t n = 0;
	for (;;) {
		char c;
		ssize_t r = read(STDIN_FILENO, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		if (c == '\n')
			break;
		if (n + 1 < size)
			buf[n++] = c;
	}
	buf[n] = '\0';
	return 0;
}

int main(int argc, char **argv)
{
	int idle_thread = 0, first = 3;
	if (argc < 4) {
		fprintf(stderr, "usage: locket-bench-waiter locket|flock TIMEOUT_MS [--idle-thread] PATH...\n");
		return 2;
	}
	kind = !strcmp(argv[1], "flock") ? &kind_flock_blocking : !strcmp(argv[1], "locket") ? &kind_locket : NULL;
	timeout_ms = strtoll(argv[2], NULL, 10);
	if (!strcmp(argv[3], "--idle-thread")) {
		idle_thread = 1;
		first = 4;
	}
	int n = argc - first;
	if (!kind || n < 1 || (n > 1 && kind != &kind_locket)) {
		fprintf(stderr, "locket-bench-waiter: bad arguments\n");
		return 2;
	}
	/* A thousand waiting threads hold a thousand descriptors (and the engine's own). */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	slot *slots = calloc((size_t)n, sizeof *slots);
	if (!slots)
		return 1;
	for (int i = 0; i < n; i++) {
		slots[i].index = i;
		if (waiter_init(&slots[i].w, kind, argv[first + i]) != 0)
			return 1;
	}
	pthread_t idle_t;
	if (idle_thread && (pipe(idle_pipe) != 0 || pthread_create(&idle_t, NULL, idle, NULL) != 0)) {
		perror("idle thread");
		return 1;
	}
	if (n > 1) {
		pthread_attr_t attr;
		pthread_attr_init(&attr);
		pthread_attr_setstacksize(&attr, 128 * 1024);
		for (int i = 0; i < n; i++) {
			int e = pthread_create(&slots[i].thread, &attr, thread_main, &slots[i]);
			if (e) {
				fprintf(stderr, "pthread_create: %s\n", strerror(e));
				return 1;
			}
		}
	}
	say("ready\n");
	char line[64];
	while (read_line(line, sizeof line) == 0 && !strcmp(line, "go")) {
		if (n == 1) {
			wait_once(&slots[0]);
			continue;
		}
		pthread_mutex_lock(&mu);
		generation++;
		pthread_cond_broadcast(&cv);
		pthread_mutex_unlock(&mu);
	}
	/* Threads still waiting are ended by the exit. */
	fflush(stdout);
	_exit(0);
}
