/* The registry and the pass/fail/skip protocol of locket's C test programs (see test.h). */
#include "test.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TESTS 512

static struct {
	const char *name;
	test_fn fn;
} tests[MAX_TESTS];
static int n_tests;
static const char *current = "?";

void (*test_fail_detail)(FILE *out);

void test_register(const char *name, test_fn fn)
{
	if (n_tests < MAX_TESTS) {
		tests[n_tests].name = name;
		tests[n_tests].fn = fn;
		n_tests++;
	}
}

const char *test_current(void)
{
	return current;
}

void test_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "FAIL %s (%s:%d): ", current, file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (test_fail_detail != NULL)
		test_fail_detail(stderr);
	fputc('\n', stderr);
	fflush(stderr);
	exit(1);
}

void test_skip(const char *why)
{
	printf("SKIP %s: %s\n", current, why);
	fflush(stdout);
	exit(77);
}

int test_main(int argc, char **argv)
{
	int i;
	if (argc < 2 || strcmp(argv[1], "--list") == 0) {
		for (i = 0; i < n_tests; i++)
			printf("%s\n", tests[i].name);
		return 0;
	}
	for (i = 0; i < n_tests; i++) {
		if (strcmp(tests[i].name, argv[1]) == 0) {
			current = tests[i].name;
			tests[i].fn();
			printf("PASS %s\n", argv[1]);
			fflush(stdout);
			return 0;
		}
	}
	fprintf(stderr, "no test named %s\n", argv[1]);
	return 2;
}
