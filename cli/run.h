/* The per-OS part of the locket CLI: run_unix.c or run_win.c. */
#ifndef LOCKET_CLI_RUN_H
#define LOCKET_CLI_RUN_H

#define EX_USAGE 64
#define EX_NOINPUT 66
#define EX_OSERR 71

extern const char *progname;

/* Run argv (argv[0] looked up in PATH) and wait for it. Returns its exit
 * status, 128+N if killed by signal N, 126/127 if it cannot be run. */
int locket_cli_run(char **argv);

#endif
