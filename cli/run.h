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

/* The exit status for an OS error behind a library failure, where the OS
 * error alone decides it (flock(1)'s: out of memory or descriptors 71, a
 * read-only filesystem or no space 73), else 0. */
int locket_cli_os_status(int os_error);

/* Run argv (argv[0] looked up in PATH) holding the lock on lock_fd (-1 for
 * none: -u with FILE), and wait for it. lock_fd comes from
 * locket_acquire_detached(), inheritable. close_fd: the command does not
 * inherit lock_fd (-o); no_fork:
 * exec in locket's place (-F). Returns the command's exit status, or
 * EX_UNAVAILABLE / EX_OSERR if it cannot be run; if the command was killed by
 * a signal, locket kills itself with it (128+N where it cannot). */
int locket_cli_run(char **argv, intptr_t lock_fd, int close_fd, int no_fork);

#endif
