/*
 * A tiny test harness: TEST(name) defines a test; CTest runs each one in its
 * own process (`locket_tests NAME`), so a crash or hang fails one test only.
 * Processes that a test needs are forked from the test itself and talk to
 * it through pipes: every "wait until X" is a read of a line, never a sleep.
 */
#ifndef LOCKET_TEST_HARNESS_H
#define LOCKET_TEST_HARNESS_H

#include "locket.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>

#include "test.h"

/* A fresh empty directory for this test; removed at exit. */
const char *test_dir(void);
/* test_dir()/name, in a static rotating buffer. */
const char *test_path(const char *name);
/* Milliseconds on the monotonic clock. */
double test_now_ms(void);

/* 1 when the library under test was built with the portable engine
 * (LOCKET_ENGINE=portable), 0 for the Linux engine. */
int engine_is_portable(void);
/* Skip (CTest's code 77) a test of the Linux engine's internals when the
 * library runs the portable engine, printing why. */
void skip_unless_linux_engine(const char *why);

/* A child process that runs fn(arg, in, out): in is a line reader from the
 * test, out a line writer to it. */
typedef struct child {
	pid_t pid;
	FILE *to;   /* write lines to the child */
	FILE *from; /* read lines from the child */
} child;
typedef void (*child_fn)(const char *arg, FILE *in, FILE *out);
child child_start(child_fn fn, const char *arg);
/* Read one line from the child into a static buffer (without the newline);
 * fails the test on EOF. */
const char *child_read(child *c);
void child_say(child *c, const char *line);
/* Wait for the child; returns its exit status, or 128+signal. */
int child_wait(child *c);
void child_kill9(child *c);

/* A child that opens path, takes the lock (exclusive, or shared if arg
 * starts with "shared:") and says "held", then releases when told "release"
 * (answering "released") or exits without releasing when told "exit", or
 * holds until killed. */
child start_holder(const char *path, int shared);

/* Fail unless another process (a fresh child) sees the lock as held
 * (expect_held = 1: a try) or free (0: free within 2 s; the kernel drops a
 * killed process's lock a few milliseconds after it was reaped). */
void check_held_elsewhere(const char *path, int expect_held);

/* The calling thread's kernel id, for wait_until_waiting(). */
pid_t test_gettid(void);

/* Return once thread tid of this process sleeps in a wait system call
 * (flock, fcntl F_OFD_SETLKW, a poll, a futex): a thread told to acquire is then inside the
 * acquire's wait, not about to start it. Fails the test if the thread ends
 * first, or after 20 s. */
void wait_until_waiting(pid_t tid);
/* The same for the main thread of another process (a child). */
void wait_until_process_waits(pid_t pid);

/* Run a command line with /bin/sh -c; returns the exit status. */
int test_system(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Run fn in a child whose uid/gid are nobody's (65534); returns 1 if it ran
 * (the exit status in *status), 0 if privileges cannot be dropped here. */
int run_as_nobody(void (*fn)(void *), void *arg, int *status);

/* An OFD handle on [start, start+length) of path (LOCKET_KIND_OFD). */
locket_t *ofd_handle(const char *path, int64_t start, int64_t length);
/* fcntl(fd, cmd) with a POSIX record lock of type on [start, start+len). */
int posix_lock(int fd, int cmd, short type, off_t start, off_t len);
/* In a fresh process: would a POSIX (process-owned) lock of type on
 * [start, start+len) conflict? 1 yes, 0 no. */
int posix_conflicts(const char *path, short type, off_t start, off_t len);

/* A thread that opens path, acquires with timeout_ms, flags and the
 * interrupt callback fn(arg), notes rc and when it returned, releases and
 * frees. Zero-initialise, set what the wait needs, then start_waiter():
 * it returns once the thread sleeps in its wait. */
struct thread_waiter {
	const char *path;
	int64_t timeout_ms;
	unsigned int flags;
	locket_interrupt_fn fn;
	void *arg;
	atomic_int tid;
	int rc;
	double returned_ms;
};
pthread_t start_waiter(struct thread_waiter *w);

#endif
