/* Uncontended acquire+release: locket against the raw syscalls it makes. */
#include "bench.h"

#include <stdio.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct op_state {
	const char *path;
	int kept_fd;
	locket_t *lock, *lock_ofd, *lock_across_hosts;
} op_state;

/* Each op returns 0 or -1. */
static int op_raw_open_close(op_state *s)
{
	int fd = raw_open(s->path);
	if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) != 0 || flock(fd, LOCK_UN) != 0)
		return -1;
	return close(fd);
}

/* What locket makes on Linux (strace): the reference plus a getpid in acquire and in release. */
static int op_raw_as_locket(op_state *s)
{
	int fd = raw_open(s->path);
	if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) != 0)
		return -1;
	if (getpid() <= 0 || getpid() <= 0 || flock(fd, LOCK_UN) != 0)
		return -1;
	return close(fd);
}

/* The six syscalls the contract needs (issue 18): open, lock, fstat and stat (is the locked file
 * still the one the path names?), unlock, close. The target for locket is <= 1.15x these. */
static int op_raw_six(op_state *s)
{
	struct stat a, b;
	int fd = raw_open(s->path);
	if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) != 0 || fstat(fd, &a) != 0 ||
	    stat(s->path, &b) != 0)
		return -1;
	if (a.st_ino != b.st_ino || a.st_dev != b.st_dev || flock(fd, LOCK_UN) != 0)
		return -1;
	return close(fd);
}

/* What an exclusive OFD lock needs: a read-write open, the lock, the unlock, the close. */
static int op_raw_ofd(op_state *s)
{
	int fd = open(s->path, O_RDWR | O_CLOEXEC);
	if (fd < 0 || ofd_lock(fd, F_OFD_SETLK, F_WRLCK) != 0 || ofd_lock(fd, F_OFD_SETLK, F_UNLCK))
		return -1;
	return close(fd);
}

static int op_locket_ofd(op_state *s)
{
	if (locket_acquire(s->lock_ofd, -1, 0) != LOCKET_OK)
		return -1;
	return locket_release(s->lock_ofd) == LOCKET_OK ? 0 : -1;
}

static int op_locket_ofd_shared(op_state *s)
{
	if (locket_acquire(s->lock_ofd, -1, LOCKET_SHARED) != LOCKET_OK)
		return -1;
	return locket_release(s->lock_ofd) == LOCKET_OK ? 0 : -1;
}

/* LOCKET_ACROSS_HOSTS: the scope judged on the locked descriptor (issue 21). */
static int op_locket_across_hosts(op_state *s)
{
	if (locket_acquire(s->lock_across_hosts, -1, 0) != LOCKET_OK)
		return -1;
	return locket_release(s->lock_across_hosts) == LOCKET_OK ? 0 : -1;
}

static int op_raw_kept_fd(op_state *s)
{
	if (flock(s->kept_fd, LOCK_EX | LOCK_NB) != 0)
		return -1;
	return flock(s->kept_fd, LOCK_UN);
}

static int locket_pair(op_state *s, int64_t timeout_ms)
{
	if (locket_acquire(s->lock, timeout_ms, 0) != LOCKET_OK)
		return -1;
	return locket_release(s->lock) == LOCKET_OK ? 0 : -1;
}

static int op_locket_forever(op_state *s)
{
	return locket_pair(s, -1);
}

static int op_locket_10s(op_state *s)
{
	return locket_pair(s, 10000);
}

static int op_locket_try(op_state *s)
{
	return locket_pair(s, 0);
}

static int op_locket_new_free(op_state *s)
{
	locket_t *lock;
	if (locket_new(&lock, s->path, NULL) != LOCKET_OK)
		return -1;
	int rc = locket_acquire(lock, -1, 0) == LOCKET_OK && locket_release(lock) == LOCKET_OK ? 0
											       : -1;
	locket_free(lock);
	return rc;
}

static const struct impl {
	const char *name;
	int (*op)(op_state *s);
	int reference, context;
} impls[] = {
	{ "raw_open_flock_close", op_raw_open_close, 1, 0 },
	{ "raw_flock_kept_fd", op_raw_kept_fd, 0, 1 },
	{ "raw_six_syscalls", op_raw_six, 0, 1 },
	{ "raw_plus_getpid_x2", op_raw_as_locket, 0, 1 },
	{ "locket_timeout_-1", op_locket_forever, 0, 0 },
	{ "locket_timeout_10s", op_locket_10s, 0, 0 },
	{ "locket_timeout_0", op_locket_try, 0, 0 },
	{ "locket_new_acquire_release_free", op_locket_new_free, 0, 1 },
	/* The OFD kind (LOCKET_KIND_OFD), beside the default: context rows. */
	{ "raw_open_rdwr_ofd_close", op_raw_ofd, 0, 1 },
	{ "locket_ofd_timeout_-1", op_locket_ofd, 0, 1 },
	{ "locket_ofd_shared", op_locket_ofd_shared, 0, 1 },
	/* LOCKET_ACROSS_HOSTS (a statx and a cached mount lookup per acquisition): context. */
	{ "locket_across_hosts_timeout_-1", op_locket_across_hosts, 0, 1 },
};
enum {
	N_IMPLS = sizeof impls / sizeof impls[0],
	MAX_ROUNDS = 64
};

int bench_uncontended(const bench_config *cfg)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/uncontended.lock", cfg->dir);
	waiter w; /* creates the file */
	if (waiter_init(&w, &kind_flock_blocking, path) != 0)
		return -1;
	op_state s = { path, raw_open(path), NULL, NULL, NULL };
	locket_options ofd = LOCKET_OPTIONS_INIT, across = LOCKET_OPTIONS_INIT;
	ofd.kind = LOCKET_KIND_OFD;
	across.flags = LOCKET_ACROSS_HOSTS;
	if (s.kept_fd < 0 || locket_new(&s.lock, path, NULL) != LOCKET_OK ||
	    locket_new(&s.lock_ofd, path, &ofd) != LOCKET_OK ||
	    locket_new(&s.lock_across_hosts, path, &across) != LOCKET_OK) {
		fprintf(stderr, "uncontended: cannot open %s: %s\n", path,
			locket_last_error_message());
		return -1;
	}
	int rounds = cfg->quick ? 3 : 40, iters = cfg->quick ? 2000 : 2500;
	static double per_op[N_IMPLS][MAX_ROUNDS];
	int failed[N_IMPLS] = { 0 };
	/* Round 0 warms up; the order rotates so that no implementation always runs first. */
	for (int r = 0; r <= rounds; r++) {
		for (int k = 0; k < N_IMPLS; k++) {
			int i = (k + r) % N_IMPLS;
			if (failed[i])
				continue;
			int64_t t0 = now_ns();
			for (int n = 0; n < iters; n++) {
				if (impls[i].op(&s) != 0) {
					fprintf(stderr, "uncontended: %s failed: %s\n",
						impls[i].name, locket_last_error_message());
					failed[i] = 1;
					break;
				}
			}
			if (r > 0)
				per_op[i][r - 1] = (double)(now_ns() - t0) / 1000.0 / iters;
		}
	}
	for (int i = 0; i < N_IMPLS; i++) {
		if (failed[i]) {
			res_note("uncontended: %s failed; no figure", impls[i].name);
			continue;
		}
		sort_doubles(per_op[i], (size_t)rounds);
		double med = percentile(per_op[i], (size_t)rounds, 0.5);
		res_metric("uncontended", impls[i].name, med, "us", impls[i].reference,
			   impls[i].context);
		/* Issue 18's target: locket against the six syscalls, in a metric of its own. */
		if (!strcmp(impls[i].name, "raw_six_syscalls") || !impls[i].context)
			res_metric("uncontended_vs_six", impls[i].name, med, "us",
				   !strcmp(impls[i].name, "raw_six_syscalls"), impls[i].reference);
		fprintf(stderr, "uncontended %-34s median %.3f us (min %.3f, max %.3f)\n",
			impls[i].name, med, per_op[i][0], per_op[i][rounds - 1]);
	}
	res_note(
		"uncontended: median over %d rounds of %d acquire+release pairs per implementation, "
		"implementations interleaved round by round; one handle kept for the locket rows; "
		"raw_six_syscalls = open, flock(LOCK_EX|LOCK_NB), fstat, stat, flock(LOCK_UN), close "
		"(what the contract needs: issue 18), its own metric uncontended_vs_six",
		rounds, iters);
	close(s.kept_fd);
	locket_free(s.lock);
	locket_free(s.lock_ofd);
	locket_free(s.lock_across_hosts);
	waiter_fini(&w);
	return 0;
}
