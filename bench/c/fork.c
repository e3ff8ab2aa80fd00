/* locket-bench-fork: what fork() costs with N idle locket handles alive.
 * usage: locket-bench-fork [DIR] [ROUNDS]
 * For N = 0 (locket never used), 0 (handlers registered), 1k, 10k, 100k idle
 * handles, and for the same memory in plain malloc'd blocks (the page-table
 * copy that any heap of that size costs), prints the median of ROUNDS forks:
 * the parent's fork() call, and fork() + the child's _exit(0) + waitpid(). */
#include "locket.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void measure(const char *what, int rounds)
{
	double *call = calloc((size_t)rounds, sizeof *call), *total = calloc((size_t)rounds, sizeof *total);
	for (int i = 0; i < rounds; i++) {
		double t0 = now_us(), t1;
		pid_t pid = fork();
		if (pid == 0)
			_exit(0);
		t1 = now_us();
		waitpid(pid, NULL, 0);
		call[i] = t1 - t0;
		total[i] = now_us() - t0;
	}
	qsort(call, (size_t)rounds, sizeof *call, cmp);
	qsort(total, (size_t)rounds, sizeof *total, cmp);
	printf("%-34s fork() %8.1f us   fork+exit+wait %8.1f us\n", what, call[rounds / 2],
	       total[rounds / 2]);
	fflush(stdout);
	free(call);
	free(total);
}

int main(int argc, char **argv)
{
	static const int counts[] = { 1000, 10000, 100000 };
	const char *dir = argc > 1 ? argv[1] : "/tmp";
	int rounds = argc > 2 ? atoi(argv[2]) : 200;
	char path[4096];
	locket_t **locks;
	snprintf(path, sizeof path, "%s/locket-bench-fork.lock", dir);

	measure("no locket", rounds);
	for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
		char what[64];
		void **blocks = calloc((size_t)counts[c], sizeof *blocks);
		for (int i = 0; i < counts[c]; i++) {
			blocks[i] = malloc(256);
			memset(blocks[i], 1, 256);
		}
		snprintf(what, sizeof what, "no locket, %d x 256 B of heap", counts[c]);
		measure(what, rounds);
		for (int i = 0; i < counts[c]; i++)
			free(blocks[i]);
		free(blocks);
	}
	locks = calloc(100000, sizeof *locks);
	if (locket_new(&locks[0], path, NULL) != LOCKET_OK) {
		fprintf(stderr, "locket_new: %s\n", locket_last_error_message());
		return 1;
	}
	locket_free(locks[0]);
	measure("0 handles (handlers registered)", rounds);
	{
		int have = 0;
		for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
			char what[64];
			for (; have < counts[c]; have++)
				if (locket_new(&locks[have], path, NULL) != LOCKET_OK) {
					fprintf(stderr, "locket_new: %s\n", locket_last_error_message());
					return 1;
				}
			snprintf(what, sizeof what, "%d idle handles", counts[c]);
			measure(what, rounds);
		}
		/* One of them held: a descriptor for the handlers to see. */
		if (locket_acquire(locks[0], 0, 0) == LOCKET_OK) {
			measure("100000 idle handles, 1 held", rounds);
			locket_release(locks[0]);
		}
		for (int i = 0; i < have; i++)
			locket_free(locks[i]);
	}
	free(locks);
	return 0;
}
