/* locket-bench-scaling: N processes contending for one lock with a tight critical section.
 *
 * usage: locket-bench-scaling [--dir DIR] [--seconds S] [--label L] [--n N,N,...] [--kinds K,K,...]
 * Prints one JSON object per line (kind, n, acq_per_s, cpu_us_per_acq, handoff_p50_us,
 * handoff_p99_us, least_served_share, timeouts, overlaps, ...); bench/scaling/run.sh collects
 * them into bench/out/scaling.json.
 *
 * Each acquisition opens the file, locks, checks and bumps a shared counter (the critical
 * section, about a microsecond), records the release time, unlocks and closes, so flock and
 * locket rows make the same syscalls. Hand-off: from one worker's release to the next
 * worker's return from its acquire (sampled when the holder changes). */
#include "locket.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum {
	MAX_N = 256,
	MAX_SAMPLES = 4096
};

typedef struct worker_result {
	int64_t acquisitions, timeouts, errors;
	int64_t cpu_ns;
	int n_samples;
	float samples_us[MAX_SAMPLES];
} worker_result;

typedef struct shared {
	int inside; /* holders in the critical section: must stay <= 1 */
	int64_t overlaps;
	int64_t last_release_ns; /* when the last holder released */
	int last_holder;
	int64_t stop_ns;
	worker_result w[MAX_N];
} shared;

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t cpu_self_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

enum kind {
	K_FLOCK,
	K_LOCKET_10S,
	K_LOCKET_INTR
};
static const char *kind_names[] = { "flock_blocking", "locket_timeout_10s",
				    "locket_interruptible" };

static void critical(shared *sh, int me, int64_t t_acquired)
{
	worker_result *r = &sh->w[me];
	if (__atomic_add_fetch(&sh->inside, 1, __ATOMIC_SEQ_CST) != 1)
		__atomic_add_fetch(&sh->overlaps, 1, __ATOMIC_RELAXED);
	if (sh->last_holder != me && sh->last_holder >= 0 && r->n_samples < MAX_SAMPLES &&
	    (r->acquisitions & 3) == 0)
		r->samples_us[r->n_samples++] = (float)(t_acquired - sh->last_release_ns) / 1000.0f;
	sh->last_holder = me;
	r->acquisitions++;
	__atomic_sub_fetch(&sh->inside, 1, __ATOMIC_SEQ_CST);
	sh->last_release_ns = now_ns(); /* just before the release */
}

static void worker(shared *sh, int me, enum kind k, const char *path, int start_fd)
{
	worker_result *r = &sh->w[me];
	locket_t *lock = NULL;
	char c;
	if (k != K_FLOCK && locket_new(&lock, path, NULL) != LOCKET_OK)
		_exit(3);
	if (read(start_fd, &c, 1) < 0) /* EOF: everyone is ready */
		_exit(4);
	int64_t cpu0 = cpu_self_ns();
	while (now_ns() < sh->stop_ns) {
		if (k == K_FLOCK) {
			int fd = open(path, O_RDWR | O_CLOEXEC);
			if (fd < 0 || flock(fd, LOCK_EX) != 0) {
				r->errors++;
				if (fd >= 0)
					close(fd);
				continue;
			}
			critical(sh, me, now_ns());
			flock(fd, LOCK_UN);
			close(fd);
		} else {
			int rc = k == K_LOCKET_10S ? locket_acquire(lock, 10000, 0)
						   : locket_acquire(lock, -1, LOCKET_INTERRUPTIBLE);
			if (rc != LOCKET_OK) {
				if (rc == LOCKET_ETIMEDOUT)
					r->timeouts++;
				else
					r->errors++;
				continue;
			}
			critical(sh, me, now_ns());
			locket_release(lock);
		}
	}
	r->cpu_ns = cpu_self_ns() - cpu0;
	locket_free(lock);
	_exit(0);
}

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return x < y ? -1 : x > y;
}

static int run(enum kind k, int n, double seconds, const char *dir, const char *label)
{
	char path[4096];
	shared *sh =
		mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int start[2];
	pid_t pids[MAX_N];
	if (sh == MAP_FAILED || pipe(start) != 0)
		return -1;
	memset(sh, 0, sizeof *sh);
	sh->last_holder = -1;
	snprintf(path, sizeof path, "%s/scaling-%s-%d.lock", dir, kind_names[k], n);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	close(fd);
	sh->stop_ns = INT64_MAX;
	for (int i = 0; i < n; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			close(start[1]);
			worker(sh, i, k, path, start[0]);
		}
	}
	close(start[0]);
	usleep(100000); /* let every worker reach its start line (a workload pause, not a handshake) */
	int64_t t0 = now_ns();
	sh->stop_ns = t0 + (int64_t)(seconds * 1e9);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	close(start[1]); /* go */
	int failed = 0;
	for (int i = 0; i < n; i++) {
		int status;
		waitpid(pids[i], &status, 0);
		failed += !WIFEXITED(status) || WEXITSTATUS(status) != 0;
	}
	double wall = (double)(now_ns() - t0) / 1e9;
	int64_t acq = 0, cpu = 0, timeouts = 0, errors = 0, least = INT64_MAX;
	size_t ns = 0;
	for (int i = 0; i < n; i++) {
		acq += sh->w[i].acquisitions;
		cpu += sh->w[i].cpu_ns;
		timeouts += sh->w[i].timeouts;
		errors += sh->w[i].errors;
		if (sh->w[i].acquisitions < least)
			least = sh->w[i].acquisitions;
		ns += (size_t)sh->w[i].n_samples;
	}
	float *all = malloc((ns ? ns : 1) * sizeof *all);
	size_t j = 0;
	for (int i = 0; i < n; i++)
		for (int s = 0; s < sh->w[i].n_samples; s++)
			all[j++] = sh->w[i].samples_us[s];
	qsort(all, ns, sizeof *all, cmp_float);
	double p50 = ns ? all[ns / 2] : 0, p99 = ns ? all[(size_t)((double)ns * 0.99)] : 0;
	double mean = (double)acq / n;
	printf("{\"label\": \"%s\", \"kind\": \"%s\", \"n\": %d, \"seconds\": %.3f, \"acquisitions\": %lld, "
	       "\"acq_per_s\": %.0f, \"cpu_us_per_acq\": %.2f, \"handoff_p50_us\": %.1f, "
	       "\"handoff_p99_us\": %.1f, \"least_served\": %lld, \"least_served_share\": %.3f, "
	       "\"timeouts\": %lld, \"errors\": %lld, \"overlaps\": %lld, \"failed_workers\": %d}\n",
	       label, kind_names[k], n, wall, (long long)acq, (double)acq / wall,
	       acq ? (double)cpu / 1000.0 / (double)acq : 0.0, p50, p99, (long long)least,
	       mean > 0 ? (double)least / mean : 0.0, (long long)timeouts, (long long)errors,
	       (long long)sh->overlaps, failed);
	fflush(stdout);
	free(all);
	unlink(path);
	munmap(sh, sizeof *sh);
	return 0;
}

int main(int argc, char **argv)
{
	const char *dir = "/tmp", *label = "locket", *ns_arg = "1,8,32,128", *kinds_arg = NULL;
	double seconds = 2.0;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--dir"))
			dir = argv[i + 1];
		else if (!strcmp(argv[i], "--seconds"))
			seconds = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--label"))
			label = argv[i + 1];
		else if (!strcmp(argv[i], "--n"))
			ns_arg = argv[i + 1];
		else if (!strcmp(argv[i], "--kinds"))
			kinds_arg = argv[i + 1];
		else {
			fprintf(stderr,
				"usage: locket-bench-scaling [--dir D] [--seconds S] [--label L] "
				"[--n 1,8,32,128] [--kinds flock_blocking,...]\n");
			return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	int rc = 0;
	char nbuf[256];
	snprintf(nbuf, sizeof nbuf, "%s", ns_arg);
	for (char *save = NULL, *tok = strtok_r(nbuf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		int n = atoi(tok);
		if (n < 1 || n > MAX_N)
			continue;
		for (int k = 0; k < 3; k++) {
			if (kinds_arg && !strstr(kinds_arg, kind_names[k]))
				continue;
			if (run((enum kind)k, n, seconds, dir, label) != 0)
				rc = 1;
		}
	}
	return rc;
}
