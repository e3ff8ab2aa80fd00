/* `locket FILE true` against `flock FILE true`: the wall time of one invocation. */
#include "bench.h"

#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

extern char **environ;

/* Wall time of one run in microseconds, or -1 when it did not exit 0. */
static double run_once(char *const argv[])
{
	pid_t pid;
	int status;
	int64_t t0 = now_ns();
	if (posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ) != 0)
		return -1;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	double us = (double)(now_ns() - t0) / 1000.0;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? us : -1;
}

int bench_cli(const bench_config *cfg)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/cli.lock", cfg->dir);
	struct cmd {
		const char *name;
		char *argv[4];
		int reference, context, failed;
		double *us;
	} cmds[] = {
		{ "flock_cli",
		  { (char *)cfg->flock_cli, path, (char *)"true", NULL },
		  1,
		  0,
		  0,
		  NULL },
		{ "locket_cli", { (char *)cfg->cli, path, (char *)"true", NULL }, 0, 0, 0, NULL },
		{ "true_alone", { (char *)"true", NULL, NULL, NULL }, 0, 1, 0, NULL },
	};
	enum {
		N_CMDS = sizeof cmds / sizeof cmds[0]
	};
	if (!cfg->cli) {
		cmds[1].failed = 1;
		res_note("cli: the locket CLI was not found; only flock(1) was measured");
	}
	size_t runs = cfg->quick ? 20 : 300;
	for (int c = 0; c < N_CMDS; c++)
		if (!(cmds[c].us = calloc(runs, sizeof(double))))
			return -1;
	/* Warm up (page cache, dynamic loader), then interleave the commands. */
	for (int c = 0; c < N_CMDS; c++)
		if (!cmds[c].failed && run_once(cmds[c].argv) < 0) {
			res_note("cli: %s %s %s failed; no figure", cmds[c].argv[0], path, "true");
			cmds[c].failed = 1;
		}
	for (size_t i = 0; i < runs; i++)
		for (int c = 0; c < N_CMDS; c++)
			if (!cmds[c].failed && (cmds[c].us[i] = run_once(cmds[c].argv)) < 0) {
				res_note("cli: %s failed at run %zu; no figure", cmds[c].name, i);
				cmds[c].failed = 1;
			}
	for (int c = 0; c < N_CMDS; c++) {
		if (!cmds[c].failed) {
			sort_doubles(cmds[c].us, runs);
			double p50 = percentile(cmds[c].us, runs, 0.5),
			       p90 = percentile(cmds[c].us, runs, 0.9);
			res_metric("cli_invocation", cmds[c].name, p50, "us", cmds[c].reference,
				   cmds[c].context);
			fprintf(stderr, "cli %-12s p50 %.0f us, p90 %.0f us\n", cmds[c].name, p50,
				p90);
		}
		free(cmds[c].us);
	}
	res_note("cli: median wall time of posix_spawn+waitpid of `CMD FILE true` over %zu runs, "
		 "commands interleaved; flock is %s, locket is %s",
		 runs, cfg->flock_cli, cfg->cli ? cfg->cli : "(missing)");
	return 0;
}
