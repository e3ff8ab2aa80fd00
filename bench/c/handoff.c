/* Hand-off latency: from the holder's release to the waiter's return, holder and waiter in
 * separate processes. One holder process (this one) and one long-lived process per waiter kind;
 * the samples go round-robin over the kinds so that all of them see the same machine load. */
#include "bench.h"

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

/* How the holder takes and gives up the lock. */
enum holder {
	HOLD_FLOCK,
	HOLD_OFD,
	HOLD_LOCKET,
	HOLD_LOCKET_OFD,
	HOLD_CLOSE_ONLY,
	HOLD_UNLOCK_ONLY
};

static const struct handoff_kind {
	const char *name;
	const waiter_kind *kind;
	int64_t timeout_ms;
	int reference;
	int context; /* shown without a verdict */
	int every;   /* sampled in one round out of this many: the slow context rows */
	enum holder holder;
	int idle_thread; /* the waiter's process has a second, idle thread */
} kinds[] = {
	{ "flock_blocking", &kind_flock_blocking, 10000, 1, 0, 1, HOLD_FLOCK, 0 },
	{ "locket_timeout_10s", &kind_locket, 10000, 0, 0, 1, HOLD_FLOCK, 0 },
	{ "locket_timeout_-1", &kind_locket, -1, 0, 0, 1, HOLD_FLOCK, 0 },
	{ "locket_interruptible", &kind_locket_interruptible, 10000, 0, 0, 1, HOLD_FLOCK, 0 },
	/* locket on both ends: the holder calls locket_release(). */
	{ "locket_10s_locket_holder", &kind_locket, 10000, 0, 1, 1, HOLD_LOCKET, 0 },
	/* A holder that closes without unlocking, as one that dies: the kernel reports the
	 * close before it drops the lock, so locket's first try after the event fails. */
	{ "flock_blocking_close_only", &kind_flock_blocking, 10000, 0, 1, 1, HOLD_CLOSE_ONLY, 0 },
	{ "locket_10s_close_only", &kind_locket, 10000, 0, 1, 1, HOLD_CLOSE_ONLY, 0 },
	/* OFD locks only conflict with OFD locks: an OFD holder. */
	{ "ofd_blocking", &kind_ofd_blocking, 10000, 0, 1, 1, HOLD_OFD, 0 },
	/* locket's OFD kind (LOCKET_KIND_OFD): behind a raw OFD holder (as behind lockf or
	 * fasteners: the watcher's inotify sees its close), untimed (F_OFD_SETLKW), and behind a
	 * locket OFD holder (its release wakes the waiter through the wake table). */
	{ "locket_ofd_10s", &kind_locket_ofd, 10000, 0, 1, 1, HOLD_OFD, 0 },
	{ "locket_ofd_timeout_-1", &kind_locket_ofd, -1, 0, 1, 1, HOLD_OFD, 0 },
	{ "locket_ofd_10s_locket_holder", &kind_locket_ofd, 10000, 0, 1, 1, HOLD_LOCKET_OFD, 0 },
	{ "poll_1ms", &kind_poll_1ms, 10000, 0, 1, 1, HOLD_FLOCK, 0 },
	{ "poll_50ms", &kind_poll_50ms, 10000, 0, 1, 4, HOLD_FLOCK, 0 },
	/* A holder that unlocks and keeps its descriptor (the shell's `flock -u 9`, a
	 * descriptor shared with a child): no close event, only a blocked flock() or a
	 * timer notices. */
	{ "flock_blocking_unlock_only", &kind_flock_blocking, 10000, 0, 1, 1, HOLD_UNLOCK_ONLY, 0 },
	{ "locket_10s_unlock_only", &kind_locket, 10000, 0, 0, 1, HOLD_UNLOCK_ONLY, 0 },
	/* Most Python processes have a second thread: it slows every wake-up. */
	{ "flock_blocking_idle_thread", &kind_flock_blocking, 10000, 0, 1, 1, HOLD_FLOCK, 1 },
	{ "locket_10s_idle_thread", &kind_locket, 10000, 0, 1, 1, HOLD_FLOCK, 1 },
};
enum {
	N_KINDS = sizeof kinds / sizeof kinds[0]
};

/* Waiter to holder: 'r' ready, 'w' about to wait, 'd' done (got the lock and released it),
 * 't' timed out, 'e' error. */
typedef struct msg {
	char tag;
	int64_t t_start, t_return;
} msg;

static int idle_pipe[2]; /* the idle thread blocks reading it until the process exits */

typedef struct proc {
	pid_t pid;
	int go, ack; /* holder's ends */
	int failed;
	double *us;
	size_t n, not_waiting;
} proc;

static int send_msg(int fd, char tag, int64_t t_start, int64_t t_return)
{
	msg m;
	memset(&m, 0, sizeof m);
	m.tag = tag;
	m.t_start = t_start;
	m.t_return = t_return;
	return write(fd, &m, sizeof m) == (ssize_t)sizeof m ? 0 : -1;
}

static void *idle(void *arg)
{
	char c;
	sigset_t all;
	(void)arg;
	sigfillset(&all); /* signals (flock_blocking's SIGALRM) stay the waiting thread's */
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	while (read(idle_pipe[0], &c, 1) < 0 && errno == EINTR)
		;
	return NULL;
}

static void waiter_main(const struct handoff_kind *k, const char *path, int go, int ack)
{
	waiter w;
	pthread_t t;
	if (k->idle_thread && (pipe(idle_pipe) != 0 || pthread_create(&t, NULL, idle, NULL) != 0)) {
		send_msg(ack, 'e', 0, 0);
		_exit(1);
	}
	if (waiter_init(&w, k->kind, path) != 0) {
		send_msg(ack, 'e', 0, 0);
		_exit(1);
	}
	send_msg(ack, 'r', 0, 0);
	char c;
	while (read(go, &c, 1) == 1 && c == 'g') {
		send_msg(ack, 'w', 0, 0);
		int64_t t_start = now_ns();
		int rc = k->kind->acquire(&w, k->timeout_ms);
		int64_t t_return = now_ns();
		if (rc == WAIT_OK)
			rc = k->kind->release(&w);
		send_msg(ack,
			 rc == WAIT_OK        ? 'd'
			 : rc == WAIT_TIMEOUT ? 't'
					      : 'e',
			 t_start, t_return);
	}
	waiter_fini(&w);
	_exit(0);
}

/* Read one message, waiting at most 30 s: a stuck waiter must not hang the benchmark. */
static int recv_msg(const proc *p, msg *m)
{
	struct pollfd pfd = { p->ack, POLLIN, 0 };
	int rc;
	while ((rc = poll(&pfd, 1, 30000)) < 0 && errno == EINTR)
		;
	if (rc <= 0)
		return -1;
	return read(p->ack, m, sizeof *m) == (ssize_t)sizeof *m ? 0 : -1;
}

static void fail_proc(proc *p, const char *name, const char *why)
{
	res_note("handoff: %s failed (%s); its figures are missing", name, why);
	p->failed = 1;
	kill(p->pid, SIGKILL);
}

static int start(proc *p, const struct handoff_kind *k, const char *path)
{
	int go[2], ack[2];
	if (pipe(go) != 0 || pipe(ack) != 0)
		return -1;
	p->pid = fork();
	if (p->pid < 0)
		return -1;
	if (p->pid == 0) {
		close(go[1]);
		close(ack[0]);
		waiter_main(k, path, go[0], ack[1]);
	}
	close(go[0]);
	close(ack[1]);
	p->go = go[1];
	p->ack = ack[0];
	msg m;
	if (recv_msg(p, &m) != 0 || m.tag != 'r')
		fail_proc(p, k->name, "did not start");
	return 0;
}

/* The holder's lock: fd for the raw kinds, these handles for HOLD_LOCKET(_OFD). */
static locket_t *holder_lock, *holder_lock_ofd;

static int hold(enum holder h, const char *path, int *fd)
{
	if (h == HOLD_LOCKET || h == HOLD_LOCKET_OFD)
		return locket_acquire(h == HOLD_LOCKET ? holder_lock : holder_lock_ofd, 0, 0) ==
				       LOCKET_OK
			       ? 0
			       : -1;
	*fd = raw_open(path);
	if (*fd < 0)
		return -1;
	if ((h == HOLD_OFD ? ofd_lock(*fd, F_OFD_SETLK, F_WRLCK) : flock(*fd, LOCK_EX | LOCK_NB)) ==
	    0)
		return 0;
	close(*fd);
	return -1;
}

static void unhold(enum holder h, int fd)
{
	if (h == HOLD_LOCKET || h == HOLD_LOCKET_OFD) {
		locket_release(h == HOLD_LOCKET ? holder_lock : holder_lock_ofd);
		return;
	}
	if (h == HOLD_OFD)
		ofd_lock(fd, F_OFD_SETLK, F_UNLCK);
	else if (h == HOLD_FLOCK || h == HOLD_UNLOCK_ONLY)
		flock(fd, LOCK_UN);
	if (h != HOLD_UNLOCK_ONLY)
		close(fd); /* HOLD_UNLOCK_ONLY: closed once the waiter has the lock */
}

/* One hand-off: hold, let the waiter start waiting, hold a little longer, release. */
static void sample(proc *p, const struct handoff_kind *k, const char *path, unsigned *seed)
{
	int fd = -1;
	if (hold(k->holder, path, &fd) != 0) {
		fail_proc(p, k->name, "the holder could not take the free lock");
		return;
	}
	msg m;
	memset(&m, 0, sizeof m);
	if (write(p->go, "g", 1) != 1 || recv_msg(p, &m) != 0 || m.tag != 'w') {
		fail_proc(p, k->name, "no answer");
		unhold(k->holder, fd);
		return;
	}
	/* The hold: 1-4 ms of "work" after the waiter said it starts waiting (the short holds
	 * of docs/shared locking.md); random so that polling waiters are met at every phase. */
	sleep_us(1000 + rand_r(seed) % 3000);
	int64_t t_release = now_ns();
	unhold(k->holder, fd);
	int got = recv_msg(p, &m) == 0 && m.tag == 'd';
	if (k->holder == HOLD_UNLOCK_ONLY)
		close(fd);
	if (!got) {
		fail_proc(p, k->name, m.tag == 't' ? "timed out" : "error or no answer");
		return;
	}
	if (m.t_start >= t_release)
		p->not_waiting++; /* descheduled past the whole hold: not a hand-off */
	else
		p->us[p->n++] = (double)(m.t_return - t_release) / 1000.0;
}

int bench_handoff(const bench_config *cfg)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/handoff.lock", cfg->dir);
	size_t samples = cfg->samples > 0 ? (size_t)cfg->samples : cfg->quick ? 30 : 600;
	proc procs[N_KINDS];
	memset(procs, 0, sizeof procs);
	waiter w; /* creates the file */
	if (waiter_init(&w, &kind_flock_blocking, path) != 0)
		return -1;
	locket_options ofd = LOCKET_OPTIONS_INIT;
	ofd.kind = LOCKET_KIND_OFD;
	if (locket_new(&holder_lock, path, NULL) != LOCKET_OK ||
	    locket_new(&holder_lock_ofd, path, &ofd) != LOCKET_OK) {
		fprintf(stderr, "handoff: locket_new: %s\n", locket_last_error_message());
		return -1;
	}
	for (int k = 0; k < N_KINDS; k++) {
		procs[k].us = calloc(samples, sizeof(double));
		if (!procs[k].us || start(&procs[k], &kinds[k], path) != 0) {
			fprintf(stderr, "handoff: cannot start the waiters: %s\n", strerror(errno));
			return -1;
		}
	}
	unsigned seed = 12345;
	for (size_t i = 0; i < samples; i++)
		for (int k = 0; k < N_KINDS; k++)
			if (!procs[k].failed && i % (size_t)kinds[k].every == 0)
				sample(&procs[k], &kinds[k], path, &seed);
	for (int k = 0; k < N_KINDS; k++) {
		proc *p = &procs[k];
		if (write(p->go, "q", 1) != 1)
			kill(p->pid, SIGKILL);
		close(p->go);
		close(p->ack);
		waitpid(p->pid, NULL, 0);
		if (p->not_waiting)
			res_note(
				"handoff: %s: %zu samples dropped because the waiter was not yet waiting at "
				"the release",
				kinds[k].name, p->not_waiting);
		if (p->failed || p->n == 0)
			continue;
		res_handoff(kinds[k].name, p->us, p->n);
		sort_doubles(p->us, p->n);
		double p50 = percentile(p->us, p->n, 0.5), p90 = percentile(p->us, p->n, 0.9),
		       p99 = percentile(p->us, p->n, 0.99);
		int context = kinds[k].context || kinds[k].kind->context;
		res_metric("handoff_p50", kinds[k].name, p50, "us", kinds[k].reference, context);
		res_metric("handoff_p90", kinds[k].name, p90, "us", kinds[k].reference, context);
		res_metric("handoff_p99", kinds[k].name, p99, "us", kinds[k].reference, context);
		fprintf(stderr, "handoff %-26s n=%zu p50 %.1f p90 %.1f p99 %.1f max %.1f us\n",
			kinds[k].name, p->n, p50, p90, p99, p->us[p->n - 1]);
		free(p->us);
	}
	res_note(
		"handoff: %zu rounds, one sample per waiter kind per round (poll_50ms: every 4th round); the holder (another process) "
		"opens, flocks, holds 1-4 ms after the waiter starts waiting, takes CLOCK_MONOTONIC, "
		"then flock(LOCK_UN) and close(); the waiter takes CLOCK_MONOTONIC when its acquire "
		"returns; flock_blocking times out with a re-armed SIGALRM like flock(1) -w",
		samples);
	locket_free(holder_lock);
	holder_lock = NULL;
	locket_free(holder_lock_ofd);
	holder_lock_ofd = NULL;
	waiter_fini(&w);
	return 0;
}
