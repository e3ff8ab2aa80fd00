/* CPU time a waiter burns while another process holds the lock and its 2 s timeout runs out. */
#include "bench.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

static const struct cpu_kind {
	const char *name;
	const waiter_kind *kind;
	int reference;
} kinds[] = {
	{ "flock_blocking_sigalrm", &kind_flock_blocking, 1 },
	{ "locket_timeout_2s", &kind_locket, 0 },
	{ "locket_interruptible", &kind_locket_interruptible, 0 },
	{ "poll_1ms", &kind_poll_1ms, 0 },
	{ "poll_50ms", &kind_poll_50ms, 0 },
	/* The same wake-ups as locket's 100 ms fallback retry: its floor. */
	{ "poll_100ms", &kind_poll_100ms, 0 },
};
enum {
	N_KINDS = sizeof kinds / sizeof kinds[0],
	MAX_REPS = 8,
	WAIT_MS = 2000
};

typedef struct result {
	int rc;
	int64_t cpu_ns, wall_ns;
} result;

/* One waiter process; returns 0 and fills *out, or -1. */
static int measure(const struct cpu_kind *k, const char *path, result *out)
{
	int fds[2];
	if (pipe(fds) != 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		close(fds[0]);
		waiter w;
		result r = { WAIT_ERROR, 0, 0 };
		if (waiter_init(&w, k->kind, path) == 0) {
			int64_t cpu0 = cpu_ns(), wall0 = now_ns();
			r.rc = k->kind->acquire(&w, WAIT_MS);
			r.cpu_ns = cpu_ns() - cpu0;
			r.wall_ns = now_ns() - wall0;
			if (r.rc == WAIT_OK)
				k->kind->release(&w);
			waiter_fini(&w);
		}
		_exit(write(fds[1], &r, sizeof r) == (ssize_t)sizeof r ? 0 : 1);
	}
	close(fds[1]);
	struct pollfd pfd = { fds[0], POLLIN, 0 };
	int rc;
	while ((rc = poll(&pfd, 1, 4 * WAIT_MS + 5000)) < 0 && errno == EINTR)
		;
	if (rc <= 0 || read(fds[0], out, sizeof *out) != (ssize_t)sizeof *out) {
		kill(pid, SIGKILL);
		rc = -1;
	} else {
		rc = 0;
	}
	close(fds[0]);
	waitpid(pid, NULL, 0);
	return rc;
}

int bench_waiter_cpu(const bench_config *cfg)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/waitcpu.lock", cfg->dir);
	waiter holder;
	if (waiter_init(&holder, &kind_flock_blocking, path) != 0 ||
	    kind_flock_blocking.acquire(&holder, 0) != WAIT_OK) {
		fprintf(stderr, "waiter_cpu: cannot hold %s\n", path);
		return -1;
	}
	int reps = cfg->quick ? 1 : 5;
	double cpu_ms[N_KINDS][MAX_REPS], over_ms[N_KINDS][MAX_REPS];
	int failed[N_KINDS] = { 0 };
	/* One waiter at a time: a polling waiter's tries would wake the others. */
	for (int r = 0; r < reps; r++) {
		for (int k = 0; k < N_KINDS; k++) {
			result res;
			if (failed[k])
				continue;
			if (measure(&kinds[k], path, &res) != 0 || res.rc != WAIT_TIMEOUT) {
				res_note("waiter_cpu: %s did not time out as expected",
					 kinds[k].name);
				failed[k] = 1;
				continue;
			}
			cpu_ms[k][r] = (double)res.cpu_ns / 1e6;
			over_ms[k][r] = (double)res.wall_ns / 1e6 - WAIT_MS;
		}
	}
	for (int k = 0; k < N_KINDS; k++) {
		if (failed[k])
			continue;
		double cpu = median_of(cpu_ms[k], (size_t)reps),
		       over = median_of(over_ms[k], (size_t)reps);
		res_metric("waiter_cpu_2s", kinds[k].name, cpu, "ms", kinds[k].reference,
			   kinds[k].kind->context);
		res_metric("timeout_overshoot", kinds[k].name, over, "ms", kinds[k].reference, 1);
		fprintf(stderr,
			"waiter_cpu %-24s cpu %.3f ms (max %.3f), returned %.2f ms after the deadline\n",
			kinds[k].name, cpu, cpu_ms[k][reps - 1], over);
	}
	res_note(
		"waiter_cpu: CLOCK_PROCESS_CPUTIME_ID of a waiter process around one acquire with a "
		"%d ms timeout while another process holds; median of %d runs; timeout_overshoot is "
		"how long after the deadline it returned",
		WAIT_MS, reps);
	kind_flock_blocking.release(&holder);
	waiter_fini(&holder);
	return 0;
}
