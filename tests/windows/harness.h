/*
 * The Windows test harness: TEST(name) defines a test; CTest runs each one
 * as its own process under Wine (`locket_win_tests NAME [ARG]`). Processes a
 * test needs are this same program started again with CreateProcessW in a
 * child role (`locket_win_tests --child ROLE ARGS...`); they talk to the
 * test through pipes, one line per event, so every "wait until X" is a read
 * of a line, never a sleep.
 */
#ifndef LOCKET_WIN_HARNESS_H
#define LOCKET_WIN_HARNESS_H

#include "locket.h"

#include <windows.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "test.h"

/* The test's extra command-line argument, or NULL. */
const char *test_arg(void);
/* A fresh empty directory for this test (UTF-8, absolute); removed at exit. */
const char *test_dir(void);
/* test_dir()\name in a static rotating buffer. */
const char *test_path(const char *name);
/* Milliseconds on the monotonic clock. */
double test_now_ms(void);

/* UTF-8 <-> UTF-16 in malloc'd buffers (abort on failure). */
wchar_t *test_wide(const char *s);
char *test_utf8(const wchar_t *w);

/* A child process: this program in a role, with pipes to its stdin/stdout. */
typedef struct child {
	HANDLE process;
	DWORD pid;
	HANDLE to;   /* its stdin */
	HANDLE from; /* its stdout */
} child;

/* Start "--child role args..." (args is one UTF-8 string, quoted by the
 * caller where needed). */
child child_start(const char *role, const char *args);
/* Start another program of the build's bin directory (name like "locket.exe"),
 * also with pipes; NULL-process child (c.process == NULL) if it does not exist. */
child child_start_exe(const char *name, const char *args);
/* The full path of a program of the build's bin directory, in a static buffer. */
const char *bin_path(const char *name);
/* Read one line from the child (without the newline); fails the test on EOF. */
const char *child_read(child *c);
/* Read a line and check it equals want. */
void child_expect(child *c, const char *want);
void child_send(child *c, const char *line);
/* Wait for the child to exit; returns its exit code. */
int child_wait(child *c);
/* TerminateProcess, like kill -9. */
void child_kill(child *c);

/* A child role: argc/argv after "--child ROLE", UTF-8. Returns the exit code. */
typedef int (*role_fn)(int argc, char **argv);
void role_register(const char *name, role_fn fn);
#define ROLE(name)                                                          \
	static int role_##name(int argc, char **argv);                      \
	__attribute__((constructor)) static void register_role_##name(void) \
	{                                                                   \
		role_register(#name, role_##name);                          \
	}                                                                   \
	static int role_##name(int argc, char **argv)

/* In a child: one line to the parent (flushed); one line from it (NULL on EOF). */
void role_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *role_hear(void);

#endif /* LOCKET_WIN_HARNESS_H */
