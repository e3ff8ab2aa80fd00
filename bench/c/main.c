/* locket-bench: the C suite of the benchmarks; writes bench/out/c.json (see bench/README.md).
 * usage: locket-bench [--dir DIR] [--cli PATH] [--flock PATH] [--out FILE] [--samples N] [--quick] [SUITE...]
 * SUITE: uncontended, handoff, cpu, cli (default: all of them). */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct suite {
	const char *name;
	int (*run)(const bench_config *cfg);
} suites[] = {
	{ "uncontended", bench_uncontended },
	{ "handoff", bench_handoff },
	{ "cpu", bench_waiter_cpu },
	{ "cli", bench_cli },
};
enum {
	N_SUITES = sizeof suites / sizeof suites[0]
};

static int usage(void)
{
	fprintf(stderr, "usage: locket-bench [--dir DIR] [--cli PATH] [--flock PATH] [--out FILE] "
			"[--samples N] [--quick] [uncontended|handoff|cpu|cli]...\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *tmp = getenv("TMPDIR");
	bench_config cfg = { tmp && *tmp ? tmp : "/tmp", NULL, "flock", 0, 0 };
	const char *out = NULL;
	int selected[N_SUITES] = { 0 }, any = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--quick")) {
			cfg.quick = 1;
		} else if (i + 1 < argc && !strcmp(a, "--dir")) {
			cfg.dir = argv[++i];
		} else if (i + 1 < argc && !strcmp(a, "--cli")) {
			cfg.cli = argv[++i];
		} else if (i + 1 < argc && !strcmp(a, "--flock")) {
			cfg.flock_cli = argv[++i];
		} else if (i + 1 < argc && !strcmp(a, "--samples")) {
			cfg.samples = atoi(argv[++i]);
		} else if (i + 1 < argc && !strcmp(a, "--out")) {
			out = argv[++i];
		} else {
			int found = 0;
			for (int s = 0; s < N_SUITES; s++)
				if (!strcmp(a, suites[s].name))
					selected[s] = found = any = 1;
			if (!found)
				return usage();
		}
	}
	/* Lock files in a private directory, so that nothing else touches them. */
	char dir[4096];
	snprintf(dir, sizeof dir, "%s/locket-bench.XXXXXX", cfg.dir);
	if (!mkdtemp(dir)) {
		perror(dir);
		return 1;
	}
	cfg.dir = dir;
	if (cfg.cli && access(cfg.cli, X_OK) != 0) {
		fprintf(stderr, "locket CLI %s is not executable; measuring flock(1) alone\n",
			cfg.cli);
		cfg.cli = NULL;
	}
	int failures = 0;
	for (int s = 0; s < N_SUITES; s++) {
		if (any && !selected[s])
			continue;
		fprintf(stderr, "== %s\n", suites[s].name);
		if (suites[s].run(&cfg) != 0) {
			res_note("%s: the suite failed; see the log", suites[s].name);
			failures++;
		}
	}
	if (cfg.quick)
		res_note("quick run: too few samples for real figures");
	const char *names[] = { "uncontended.lock", "handoff.lock", "waitcpu.lock", "cli.lock" };
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		char p[4200];
		snprintf(p, sizeof p, "%s/%s", dir, names[i]);
		unlink(p);
	}
	rmdir(dir);
	if (res_write(out) != 0)
		return 1;
	return failures ? 1 : 0;
}
