/* The per-OS part of the locket CLI: run_unix.c or run_win.c. */
#ifndef LOCKET_CLI_RUN_H
#define LOCKET_CLI_RUN_H

#include <stdint.h>

/* Exit statuses (sysexits.h values, as flock(1) uses them). */
#define EX_USAGE 64
#define EX_DATAERR 65
#define EX_NOINPUT 66
#define EX_UNAVAILABLE 69
#define EX_OSERR 71
#define EX_CANTCREAT 73

extern const char *progname;

/* Open the lock file as flock(1) does: created if missing, a directory
 * read-only, inheritable by the command. On success sets *out and returns
 * 0; otherwise prints why and returns the exit status. */
int locket_cli_open(const char *path, intptr_t *out);

/* Run argv (argv[0] looked up in PATH) holding the lock on lock_fd, and wait
 * for it. close_fd: the command does not inherit lock_fd (-o); no_fork:
 * exec in locket's place (-F). Returns the command's exit status, or
 * EX_UNAVAILABLE / EX_OSERR if it cannot be run; if the command was killed by
 * a signal, locket kills itself with it (128+N where it cannot). */
int locket_cli_run(char **argv, intptr_t lock_fd, int close_fd, int no_fork);

#endif
