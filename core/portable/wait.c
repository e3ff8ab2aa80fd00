/*
 * The portable engine's wait, after a failed try (lock.c says when it is
 * used). POSIX has no event for "another process released its flock()", so
 * each round tries, then sleeps in pselect() for a backoff that starts at
 * 1 ms and doubles up to a ceiling: BACKOFF_CAP_MS (4 ms) while the wait is
 * young, then 1% of the time already waited, up to LONG_CAP_MS (16 ms). A
 * release by another process is thus seen within 4 ms in a short wait (the
 * usual one) and within 1% of the wait in a long one, for 250 tries a second
 * at first and about 60 in a long wait (docs/benchmarks.md has the hand-off
 * and CPU figures).
 *
 * In-process wake-ups: a release by a thread of this process (any handle)
 * wakes at once the waits of this process that sleep on the same file. Each
 * wait owns a non-blocking pipe for its own wake-ups and lists itself under
 * the file's key (device and inode); a releaser writes a byte to every
 * listed wait of its file, and a woken wait tries at once. A wait that
 * cannot have a pipe (out of descriptors, or one above FD_SETSIZE) only
 * backs off. Why a pipe and not a condition variable: pselect() is the one
 * POSIX sleep that both watches a descriptor and lets a signal handler end
 * it, with the caller's signal mask restored atomically for the sleep (a
 * condition variable's wait resumes after a handler, unseen).
 *
 * Signals, as in the Linux engine (core/linux/lock.c): the waiting thread
 * never blocks signals while it sleeps, and a handler that runs on it ends
 * the sleep with EINTR (select is never restarted, whatever SA_RESTART
 * says); locket__wait_should_end() decides whether the wait ends. A
 * flag-only interruptible wait keeps signals blocked between its sleeps,
 * so that a handler cannot run unseen during a try: pselect() unblocks them
 * for exactly the sleep.
 */
#include "internal.h"
#include "portable.h"
#include "posix/posix.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define FIRST_MS 1       /* the first backoff, and the one after a wake-up */
#define BACKOFF_CAP_MS 4 /* the longest sleep between two tries, in a young wait */
#define LONG_CAP_MS 16   /* ...in an old one: 1% of the time waited, up to this */
#define BUCKETS 64

/* One waiting thread, listed while it waits; lives on its stack. */
typedef struct sleeper {
	struct sleeper *next;
	locket__key key;
	int rfd, wfd; /* its pipe: releasers write, the sleeper polls and drains */
} sleeper;

/* Every wait of this process, by file key. table_mu is held only for list
 * operations and non-blocking writes, never across a sleep; the fork
 * handlers take it so that a forked child finds the lists whole. */
static pthread_mutex_t table_mu = PTHREAD_MUTEX_INITIALIZER;
static sleeper *table[BUCKETS];
static int listed; /* how many are listed: a release with no waiter reads only this */
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

/* Forget (and close) every listed wait: in a forked child they are the
 * parent's other threads', which the child does not have. Called with
 * table_mu held by this thread (our prepare handler) or before any wait
 * listed anything; a second call finds the table empty. */
static void forget_parents_waits(void)
{
	size_t i;
	for (i = 0; i < BUCKETS; i++) {
		sleeper *s;
		for (s = table[i]; s != NULL; s = s->next) {
			close(s->rfd);
			close(s->wfd);
		}
		table[i] = NULL;
	}
	__atomic_store_n(&listed, 0, __ATOMIC_SEQ_CST);
}

static void fork_prepare(void)
{
	pthread_mutex_lock(&table_mu);
}

static void fork_parent(void)
{
	pthread_mutex_unlock(&table_mu);
}

static void fork_child(void)
{
	/* Also here, not only from the core's child handler: a process that
	 * only uses locket_fd_lock() has no handle, so the core registered no
	 * fork handlers. */
	forget_parents_waits();
	pthread_mutex_unlock(&table_mu);
}

static void install_fork_handlers(void)
{
	/* Without them (ENOMEM) a child could find a list half changed by a
	 * thread it no longer has. */
	(void)pthread_atfork(fork_prepare, fork_parent, fork_child);
}

void locket__portable_wait_atfork_child(void)
{
	/* The core's child handler runs before ours (registered earlier). */
	forget_parents_waits();
}

static int make_pipe(int fds[2])
{
#if defined(__linux__) || defined(__FreeBSD__) || defined(__NetBSD__) || defined(__OpenBSD__) || \
	defined(__DragonFly__)
	return pipe2(fds, O_CLOEXEC | O_NONBLOCK);
#else
	/* macOS has no pipe2: a fork+exec by another thread in between may
	 * copy the pipe into that program, which never uses it. */
	int i;
	if (pipe(fds) != 0)
		return -1;
	for (i = 0; i < 2; i++) {
		if (fcntl(fds[i], F_SETFD, FD_CLOEXEC) != 0 ||
		    fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK) != 0) {
			close(fds[0]);
			close(fds[1]);
			return -1;
		}
	}
	return 0;
#endif
}

/* List s for key; 0 if listed, -1 if this wait only backs off. */
static int sleeper_add(sleeper *s, locket__key key)
{
	int fds[2];
	pthread_once(&fork_once, install_fork_handlers);
	if (make_pipe(fds) != 0)
		return -1;
	if (fds[0] >= FD_SETSIZE || fds[1] >= FD_SETSIZE) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	s->key = key;
	s->rfd = fds[0];
	s->wfd = fds[1];
	pthread_mutex_lock(&table_mu);
	s->next = table[key % BUCKETS];
	table[key % BUCKETS] = s;
	/* Before the next try: a release after that try sees it. */
	__atomic_add_fetch(&listed, 1, __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(&table_mu);
	return 0;
}

static void sleeper_remove(sleeper *s)
{
	sleeper **p;
	pthread_mutex_lock(&table_mu);
	for (p = &table[s->key % BUCKETS]; *p != NULL; p = &(*p)->next) {
		if (*p == s) {
			*p = s->next;
			__atomic_sub_fetch(&listed, 1, __ATOMIC_SEQ_CST);
			break;
		}
	}
	pthread_mutex_unlock(&table_mu);
	close(s->rfd);
	close(s->wfd);
}

void locket__portable_wake(int fd, locket__key key)
{
	sleeper *s;
	if (__atomic_load_n(&listed, __ATOMIC_SEQ_CST) == 0)
		return; /* the common case: nobody in this process waits */
	if (key == 0) {
		struct stat st;
		if (fstat(fd, &st) != 0)
			return;
		key = locket__file_key(st.st_dev, st.st_ino);
	}
	/* Every waiter of the file in this process: the kernel lock decides
	 * who gets it, the others sleep again (a herd only as large as this
	 * process's waiters of one file). */
	pthread_mutex_lock(&table_mu);
	for (s = table[key % BUCKETS]; s != NULL; s = s->next) {
		if (s->key == key) {
			ssize_t n = write(s->wfd, "", 1); /* EAGAIN: already woken */
			(void)n;
		}
	}
	pthread_mutex_unlock(&table_mu);
}

enum {
	SLEPT,
	WOKEN,
	SIGNALLED
};

/* Sleep up to ms in pselect (mask: the caller's signals, or NULL to keep
 * the current mask). Returns SLEPT, WOKEN (by a release in this process),
 * SIGNALLED (a handler ran), or a recorded error. */
static int sleep_once(const sleeper *s, int has_pipe, int64_t ms, const sigset_t *mask,
		      const char *path)
{
	fd_set set;
	struct timespec ts;
	int n;
	FD_ZERO(&set);
	if (has_pipe)
		FD_SET(s->rfd, &set);
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	n = pselect(has_pipe ? s->rfd + 1 : 0, has_pipe ? &set : NULL, NULL, NULL, &ts, mask);
	if (n < 0) {
		if (errno == EINTR)
			return SIGNALLED;
		return -locket__fail_os(errno, "cannot wait for lock file", path);
	}
	if (n == 0)
		return SLEPT;
	{
		char buf[64];
		while (read(s->rfd, buf, sizeof buf) > 0)
			;
	}
	return WOKEN;
}

/* One wait's own state, undone when it ends (also by a thread cancelled in
 * pselect(), a cancellation point: a listed wait must never outlive its
 * stack). */
typedef struct wait_state {
	sleeper self;
	int has_pipe;
	int masked;           /* a flag-only interruptible wait: signals blocked but while asleep */
	sigset_t caller_mask; /* ...and the caller's mask, restored for the sleeps */
} wait_state;

static void wait_end(void *arg)
{
	wait_state *ws = (wait_state *)arg;
	if (ws->has_pipe)
		sleeper_remove(&ws->self);
	if (ws->masked)
		pthread_sigmask(SIG_SETMASK, &ws->caller_mask, NULL);
}

/* The rounds of a wait: try, then sleep for the backoff or until woken. */
static int wait_rounds(int fd, const char *path, int op, const locket__span *span,
		       locket__wait *how, wait_state *ws)
{
	int64_t backoff = FIRST_MS, cap;
	const int64_t started = locket__now_ms();
	int rc;
	for (;;) {
		int64_t ms;
		int slept;
		/* Listed before this try: a release after it wakes us. */
		rc = locket__posix_try(fd, op, span, path);
		if (rc != LOCKET_EWOULDBLOCK)
			break;
		if (locket__now_ms() >= how->deadline) {
			rc = locket__fail(LOCKET_ETIMEDOUT, "timed out waiting for %s lock on '%s'",
					  op == LOCK_SH ? "a shared" : "an exclusive", path);
			break;
		}
		if (locket__wait_should_end(how, 0)) {
			rc = locket__fail(LOCKET_EINTR, "interrupted while waiting for '%s'", path);
			break;
		}
		ms = locket__wait_cap_ms(how, backoff);
		slept = sleep_once(&ws->self, ws->has_pipe, ms,
				   ws->masked ? &ws->caller_mask : NULL, path);
		if (slept < 0) {
			rc = -slept;
			break;
		}
		if (slept == WOKEN) {
			backoff = FIRST_MS;
		} else if (slept == SIGNALLED) {
			if (locket__wait_should_end(how, 1)) {
				rc = locket__fail(LOCKET_EINTR,
						  "interrupted while waiting for '%s'", path);
				break;
			}
		} else if (ms == backoff) {
			/* A whole backoff slept (not one cut short for the deadline
			 * or the callback's check): the next one is longer. */
			cap = (locket__now_ms() - started) / 100;
			cap = cap < BACKOFF_CAP_MS ? BACKOFF_CAP_MS
			      : cap > LONG_CAP_MS  ? LONG_CAP_MS
						   : cap;
			backoff = backoff * 2 > cap ? cap : backoff * 2;
		}
	}
	return rc;
}

/* A release wakes every waiter of the file in this process, whatever its kind
 * or range (OFD locks): the tries decide. */
int locket__engine_wait(int fd, const char *path, int op, const locket__span *span,
			locket__wait *how)
{
	wait_state ws;
	struct stat st;
	int rc;

	memset(&ws, 0, sizeof ws);
	/* A flag-only interruptible wait (no callback to ask) keeps signals
	 * blocked outside its sleeps; pselect() restores the caller's mask for
	 * each sleep, atomically. */
	ws.masked = how->interruptible && how->interrupted == NULL;
	if (ws.masked) {
		sigset_t all;
		sigfillset(&all);
		pthread_sigmask(SIG_BLOCK, &all, &ws.caller_mask);
	}
	if (fstat(fd, &st) == 0)
		ws.has_pipe = sleeper_add(&ws.self, locket__file_key(st.st_dev, st.st_ino)) == 0;
	pthread_cleanup_push(wait_end, &ws);
	rc = wait_rounds(fd, path, op, span, how, &ws);
	pthread_cleanup_pop(1);
	return rc;
}
