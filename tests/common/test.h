/*
 * What every C test program of locket shares (tests/c on POSIX, tests/windows under Wine):
 * TEST(name) defines a test, CHECK and CHECK_RC fail it, and one registry runs a test by name.
 * CTest runs each test in its own process (`PROGRAM NAME`), so a crash or hang fails one test
 * only. Each OS's harness adds its directories, clock and child processes (harness.h).
 */
#ifndef LOCKET_TEST_H
#define LOCKET_TEST_H

#include "locket.h"

#include <stdio.h>

typedef void (*test_fn)(void);

#define TEST(name)                                                     \
	static void test_##name(void);                                 \
	__attribute__((constructor)) static void register_##name(void) \
	{                                                              \
		test_register(#name, test_##name);                     \
	}                                                              \
	static void test_##name(void)

void test_register(const char *name, test_fn fn);
void test_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 3, 4)));
/* Exit with CTest's skip code (77), printing why. */
void test_skip(const char *why) __attribute__((noreturn));

#define CHECK(cond)                                                               \
	do {                                                                      \
		if (!(cond))                                                      \
			test_fail(__FILE__, __LINE__, "CHECK(%s) failed", #cond); \
	} while (0)

/* Check a locket return code; prints both names and the last error message. */
#define CHECK_RC(expr, want)                                                                     \
	do {                                                                                     \
		int rc_ = (expr), want_ = (want);                                                \
		if (rc_ != want_)                                                                \
			test_fail(__FILE__, __LINE__, "%s returned %s, expected %s (%s)", #expr, \
				  locket_error_name(rc_), locket_error_name(want_),              \
				  locket_last_error_message());                                  \
	} while (0)

/* The name of the running test ("?" before one starts). */
const char *test_current(void);
/* Called by test_fail() after the message, to add the OS's detail (may be NULL). */
extern void (*test_fail_detail)(FILE *out);
/* The harness's main: "--list" prints the tests; NAME runs one ("PASS NAME" on success).
 * Returns the process's exit status (2 for usage errors and unknown names). */
int test_main(int argc, char **argv);

#endif
