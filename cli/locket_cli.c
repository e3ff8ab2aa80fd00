/*
 * locket(1): run a command while holding a file lock, like util-linux
 * flock(1), whose options it keeps, and whose lock (flock(2) on Linux) it
 * takes, so scripts using either exclude each other.
 *
 * The lock stays held exactly while the command runs:
 * - locket waits for the command and releases after it exits;
 * - SIGTERM, SIGHUP, SIGUSR1 and SIGUSR2 sent to locket are passed on to the
 *   command, and locket keeps the lock until the command has exited;
 *   SIGINT and SIGQUIT are ignored while the command runs (the terminal
 *   sends them to the command as well, as system(3) does);
 * - if locket itself is killed (SIGKILL), the kernel releases the lock and
 *   the command is killed too (PR_SET_PDEATHSIG on Linux): a command never
 *   runs on without the lock.
 * The lock descriptor is close-on-exec, so the command and anything it
 * starts never hold the lock themselves.
 */
#include "locket.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "run.h"

#ifdef _WIN32
#include <windows.h>
#include <shellapi.h>
#endif

const char *progname = "locket";

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: %s [options] FILE COMMAND [ARGS...]\n"
		"       %s [options] FILE -c 'SHELL COMMAND'\n"
		"\n"
		"Run COMMAND while holding a lock on FILE (created if missing).\n"
		"\n"
		"Options:\n"
		"  -x, --exclusive          take an exclusive (writer) lock (default)\n"
		"  -s, --shared             take a shared (reader) lock\n"
		"  -n, --nonblock           fail at once if the lock is held elsewhere\n"
		"  -w, --timeout SECONDS    give up after SECONDS (fractions allowed)\n"
		"  -E, --conflict-exit-code N  exit code when the lock is not obtained (default 1)\n"
		"  -c, --command CMD        run CMD with /bin/sh -c\n"
		"  -v, --verbose            report how long it waited and for which pid\n"
		"  -h, --help               show this help\n"
		"  -V, --version            show the version\n"
		"\n"
		"Exit status: COMMAND's status, 128+N if it was killed by signal N, the\n"
		"conflict exit code on a timeout or failed try, 64 on a usage error,\n"
		"66 if FILE cannot be opened, 126/127 if COMMAND cannot be run.\n",
		progname, progname);
}

static double now_seconds(void)
{
#ifdef _WIN32
	LARGE_INTEGER c, f;
	QueryPerformanceCounter(&c);
	QueryPerformanceFrequency(&f);
	return (double)c.QuadPart / (double)f.QuadPart;
#else
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
#endif
}

/* Seconds to milliseconds, rounding up so that -w 0.0001 still waits. */
static int parse_timeout(const char *text, int64_t *out_ms)
{
	char *end;
	double s;
	errno = 0;
	s = strtod(text, &end);
	if (errno != 0 || end == text || *end != '\0' || !(s >= 0)) /* also NaN */
		return -1;
	if (s >= 9.2e15) /* beyond int64 milliseconds: forever */
		*out_ms = -1;
	else
		*out_ms = (int64_t)ceil(s * 1000.0);
	return 0;
}

static int parse_exit_code(const char *text, int *out)
{
	char *end;
	long v;
	errno = 0;
	v = strtol(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || v < 0 || v > 255)
		return -1;
	*out = (int)v;
	return 0;
}


int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "exclusive", no_argument, NULL, 'x' },
		{ "shared", no_argument, NULL, 's' },
		{ "nonblock", no_argument, NULL, 'n' },
		{ "nb", no_argument, NULL, 'n' },
		{ "timeout", required_argument, NULL, 'w' },
		{ "wait", required_argument, NULL, 'w' },
		{ "conflict-exit-code", required_argument, NULL, 'E' },
		{ "command", required_argument, NULL, 'c' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned int flags = 0;
	int64_t timeout_ms = -1;
	int conflict_code = 1, verbose = 0, opt, rc, status;
	const char *shell_command = NULL, *path;
	char *shell_argv[4];
	char **command;
	locket_t *lock;
	double started;

#ifdef _WIN32
	{
		/* The arguments in UTF-8, as locket expects paths: the C runtime's
		 * argv is in the ANSI code page. */
		wchar_t **wargv = CommandLineToArgvW(GetCommandLineW(), &argc);
		argv = (char **)calloc((size_t)argc + 1, sizeof *argv);
		for (int i = 0; wargv != NULL && argv != NULL && i < argc; i++) {
			int n = WideCharToMultiByte(CP_UTF8, 0, wargv[i], -1, NULL, 0, NULL, NULL);
			argv[i] = (char *)malloc((size_t)n);
			if (argv[i] == NULL)
				return EX_OSERR;
			WideCharToMultiByte(CP_UTF8, 0, wargv[i], -1, argv[i], n, NULL, NULL);
		}
		if (wargv == NULL || argv == NULL)
			return EX_OSERR;
	}
#endif
	while ((opt = getopt_long(argc, argv, "+xsnw:E:c:vhV", longopts, NULL)) != -1) {
		switch (opt) {
		case 'x':
			flags &= ~LOCKET_SHARED;
			break;
		case 's':
			flags |= LOCKET_SHARED;
			break;
		case 'n':
			timeout_ms = 0;
			break;
		case 'w':
			if (parse_timeout(optarg, &timeout_ms) != 0) {
				fprintf(stderr, "%s: invalid timeout '%s': expected seconds >= 0\n", progname, optarg);
				return EX_USAGE;
			}
			break;
		case 'E':
			if (parse_exit_code(optarg, &conflict_code) != 0) {
				fprintf(stderr, "%s: invalid exit code '%s': expected 0-255\n", progname, optarg);
				return EX_USAGE;
			}
			break;
		case 'c':
			shell_command = optarg;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("locket %s\n", locket_version());
			return 0;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	/* flock(1) style: FILE -c 'COMMAND'. */
	if (shell_command == NULL && optind + 3 == argc &&
	    (strcmp(argv[optind + 1], "-c") == 0 || strcmp(argv[optind + 1], "--command") == 0)) {
		shell_command = argv[optind + 2];
		argc -= 2;
	}
	if (optind >= argc || (shell_command == NULL && optind + 1 >= argc) ||
	    (shell_command != NULL && optind + 1 != argc)) {
		usage(stderr);
		return EX_USAGE;
	}
	path = argv[optind];
	if (shell_command != NULL) {
#ifdef _WIN32
		shell_argv[0] = (char *)"cmd.exe";
		shell_argv[1] = (char *)"/c";
#else
		shell_argv[0] = (char *)"/bin/sh";
		shell_argv[1] = (char *)"-c";
#endif
		shell_argv[2] = (char *)shell_command;
		shell_argv[3] = NULL;
		command = shell_argv;
	} else {
		command = argv + optind + 1;
	}

	rc = locket_new(&lock, path, NULL);
	if (rc != LOCKET_OK) {
		fprintf(stderr, "%s: %s\n", progname, locket_last_error_message());
		return EX_NOINPUT;
	}

	started = now_seconds();
	rc = locket_acquire(lock, 0, flags);
	if (rc == LOCKET_EWOULDBLOCK && timeout_ms != 0) {
		if (verbose) {
			int64_t pid = 0;
			if (locket_holder_pid(lock, &pid) == LOCKET_OK && pid > 0)
				fprintf(stderr, "%s: waiting for %s, held by pid %lld\n", progname, path,
					(long long)pid);
			else
				fprintf(stderr, "%s: waiting for %s\n", progname, path);
		}
		if (timeout_ms > 0) {
			int64_t spent = (int64_t)((now_seconds() - started) * 1000.0);
			timeout_ms = timeout_ms > spent ? timeout_ms - spent : 1;
		}
		rc = locket_acquire(lock, timeout_ms, flags);
	}
	if (rc == LOCKET_EWOULDBLOCK || rc == LOCKET_ETIMEDOUT) {
		if (verbose)
			fprintf(stderr, "%s: %s (after %.3f s)\n", progname,
				rc == LOCKET_EWOULDBLOCK ? "failed to get lock" : "timeout while waiting to get lock",
				now_seconds() - started);
		locket_free(lock);
		return conflict_code;
	}
	if (rc != LOCKET_OK) {
		fprintf(stderr, "%s: %s\n", progname, locket_last_error_message());
		locket_free(lock);
		return EX_OSERR;
	}
	if (verbose)
		fprintf(stderr, "%s: got lock on %s after %.3f s\n", progname, path, now_seconds() - started);

	status = locket_cli_run(command);
	locket_free(lock); /* releases */
	return status;
}
