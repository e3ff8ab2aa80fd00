/* The per-OS part of the locket CLI: run_unix.c or run_win.c. */
#ifndef LOCKET_CLI_RUN_H
#define LOCKET_CLI_RUN_H

#include <stddef.h>
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

/* The per-OS odds and ends of the command line (run_unix.c, run_win.c). */

/* Seconds on a monotonic clock, for --verbose's reports (never a deadline:
 * the library keeps the one deadline). */
double locket_cli_now_seconds(void);
/* The arguments in UTF-8, as locket takes paths (Windows converts the wide
 * command line; POSIX returns argv). NULL when out of memory. */
char **locket_cli_utf8_argv(int *argc, char **argv);
/* argv for -c COMMAND: the user's shell (or cmd.exe /c), then COMMAND. */
void locket_cli_shell(const char *command, char *argv[4]);
/* A label for a descriptor given by number, for messages and lookups. */
void locket_cli_fd_label(long number, char *buf, size_t size);
/* The reason of the last failure, for "locket: FILE: reason": the OS's text
 * of the OS error where there is one (as flock(1)'s), else locket's message. */
const char *locket_cli_error_text(void);

#endif
