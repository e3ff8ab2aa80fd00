/* Shared helpers of the C benchmark suite: clocks, statistics, waiters, JSON results. */
#ifndef LOCKET_BENCH_H
#define LOCKET_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "locket.h"

#if defined(__GNUC__)
#define BENCH_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define BENCH_PRINTF(f, a)
#endif

/* ---- clocks (nanoseconds) ---- */
int64_t now_ns(void);      /* CLOCK_MONOTONIC */
int64_t cpu_ns(void);      /* CLOCK_PROCESS_CPUTIME_ID */
void sleep_us(int64_t us); /* a hold: workload, never synchronisation */

/* ---- statistics ---- */
void sort_doubles(double *v, size_t n);
/* Nearest-rank percentile (q in 0..1) of a sorted array. */
double percentile(const double *sorted, size_t n, double q);
double median_of(double *v, size_t n); /* sorts v */

/* ---- results: collected in memory, written as the suite's JSON ---- */
/* reference: the row others are compared with; context: shown without a verdict. */
void res_metric(const char *name, const char *impl, double value, const char *unit, int reference,
		int context);
void res_handoff(const char *impl, const double *us, size_t n);
void res_note(const char *fmt, ...) BENCH_PRINTF(1, 2);
int res_write(const char *path);

/* ---- waiters: the ways of taking the lock that the suites compare ---- */
enum {
	WAIT_OK = 0,
	WAIT_TIMEOUT = 1,
	WAIT_ERROR = -1
};

typedef struct waiter {
	const struct waiter_kind *kind;
	const char *path;
	int fd;
	locket_t *lock;
} waiter;

typedef struct waiter_kind {
	const char *name;
	/* Shown without a target verdict (anchor designs kept for context). */
	int context;
	int (*acquire)(waiter *w, int64_t timeout_ms);
	int (*release)(waiter *w);
	unsigned int locket_flags; /* for the locket kinds */
	int64_t poll_ms;           /* for the polling kinds */
	unsigned int locket_kind;  /* locket_options.kind for the locket kinds */
} waiter_kind;

extern const waiter_kind kind_flock_blocking, kind_ofd_blocking, kind_poll_1ms, kind_poll_50ms,
	kind_poll_100ms, kind_locket, kind_locket_interruptible, kind_locket_ofd;

/* Open or create the lock file and the handle; returns 0 or -1 (message printed). */
int waiter_init(waiter *w, const waiter_kind *kind, const char *path);
void waiter_fini(waiter *w);
/* The raw syscalls locket makes: open (no O_CREAT: the file exists) and close. */
int raw_open(const char *path);
/* fcntl(fd, cmd) on an open file description lock of the whole file. */
int ofd_lock(int fd, int cmd, short type);

/* ---- suites; each returns 0, or -1 after printing why ---- */
typedef struct bench_config {
	const char *dir;       /* directory for lock files */
	const char *cli;       /* path of the locket CLI, or NULL */
	const char *flock_cli; /* path of flock(1) */
	int quick;             /* fewer samples: for trying the harness out */
	int samples;           /* hand-off samples per waiter kind; 0: the default */
} bench_config;

int bench_uncontended(const bench_config *cfg);
int bench_handoff(const bench_config *cfg);
int bench_waiter_cpu(const bench_config *cfg);
int bench_cli(const bench_config *cfg);

#endif
