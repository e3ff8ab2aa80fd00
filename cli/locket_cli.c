/*
 * locket(1): run a command while holding a file lock, or lock a descriptor
 * of the shell, like util-linux flock(1), whose options, exit statuses and
 * lock (flock(2) on Linux) it keeps, so scripts using either exclude each
 * other. docs/cli.md says where it differs and why; help.h holds the text of
 * --help and of the man page.
 *
 * Lock lifetime is flock(1)'s: the command inherits the locked descriptor,
 * so the lock lasts as long as any process of the command holds it, even if
 * locket is killed (-o opts out). The descriptor comes from the library
 * (locket_acquire_detached()), so the CLI opens, checks the file's identity
 * and keeps its deadline by the core's rules, with no opener or clock of its
 * own; a descriptor of the shell (locket 9) is locked with
 * locket_fd_lock_with().
 */
#include "locket.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "help.h"
#include "run.h"

/* The name it was invoked as, for every message and --help (installed or
 * linked as flock, it says "flock:", as util-linux's does). */
const char *progname = "locket";

/* argv[0]'s last component, without a Windows ".exe". */
static const char *invoked_name(const char *argv0)
{
	static char name[64];
	const char *base = argv0;
	size_t len;
	if (argv0 == NULL || argv0[0] == '\0')
		return "locket";
	for (const char *p = argv0; *p != '\0'; p++)
		if (*p == '/' || *p == '\\')
			base = p + 1;
	len = strlen(base);
	if (len > 4 && (strcmp(base + len - 4, ".exe") == 0 || strcmp(base + len - 4, ".EXE") == 0))
		len -= 4;
	if (len == 0 || len >= sizeof name)
		return "locket";
	memcpy(name, base, len);
	name[len] = '\0';
	return name;
}

/* Long options without a short form. */
enum {
	OPT_SCOPE = 256,
	OPT_ACROSS_HOSTS,
	OPT_FCNTL,
	OPT_START,
	OPT_LENGTH
};

static void usage(void)
{
	size_t i;
	printf("Usage:\n");
	for (i = 0; i < HELP_COUNT(HELP_SYNOPSIS); i++)
		printf(" %s %s\n", progname, HELP_SYNOPSIS[i]);
	printf("\n%s\n\nOptions:\n", HELP_SUMMARY);
	for (i = 0; i < HELP_COUNT(HELP_OPTIONS); i++) {
		char left[64];
		const struct help_option *o = &HELP_OPTIONS[i];
		snprintf(left, sizeof left, "%s%s%s", o->flags, o->arg ? " " : "",
			 o->arg ? o->arg : "");
		if (strlen(left) > 24)
			printf(" %s\n %-24s  %s\n", left, "", o->help);
		else
			printf(" %-24s  %s\n", left, o->help);
	}
	printf("\nExit status:\n");
	for (i = 0; i < HELP_COUNT(HELP_EXIT_STATUS); i++)
		printf(" %-4s %s\n", HELP_EXIT_STATUS[i].code, HELP_EXIT_STATUS[i].meaning);
	printf("\nFor more details see locket(1).\n");
}

/* A usage error: one line, then where to read more (as flock(1)). */
static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help' for more information.\n", progname);
	return EX_USAGE;
}

/* glibc's getopt words its errors as flock(1) does; elsewhere (musl, mingw)
 * locket says them (opterr = 0, and a leading ':' so that a missing argument
 * is told apart from an unknown option). */
#ifdef __GLIBC__
#define OPTSTRING "+sexunw:E:oFc:vhV"
#else
#define OPTSTRING "+:sexunw:E:oFc:vhV"
#endif

/* A bad option in flock(1)'s (glibc's getopt's) words, where the C library's
 * getopt says it otherwise or not at all (opterr = 0). word: the argument
 * that getopt stopped at. */
static void option_error(int opt, const char *word)
{
	int is_long = strncmp(word, "--", 2) == 0;
	size_t len = strcspn(word, "=");
	if (opt == ':' && is_long)
		fprintf(stderr, "%s: option '%.*s' requires an argument\n", progname, (int)len,
			word);
	else if (opt == ':')
		fprintf(stderr, "%s: option requires an argument -- '%c'\n", progname, optopt);
	else if (is_long)
		fprintf(stderr, "%s: unrecognized option '%.*s'\n", progname, (int)len, word);
	else
		fprintf(stderr, "%s: invalid option -- '%c'\n", progname, optopt);
}

/* Seconds (a decimal number) to milliseconds by the library's one rule
 * (locket_timeout_ms): rounded up, so -w 0.0001 still waits; beyond what
 * int64 milliseconds hold, forever. Negative and NaN are errors. */
static int parse_timeout(const char *text, int64_t *out_ms)
{
	char *end;
	double s;
	errno = 0;
	s = strtod(text, &end);
	if (errno == ERANGE && s == HUGE_VAL)
		errno = 0; /* beyond double: as +inf, forever */
	if (errno != 0 || end == text || *end != '\0')
		return -1;
	return locket_timeout_ms(s, out_ms) == LOCKET_OK ? 0 : -1;
}

/* A byte offset or count for --start / --length: a decimal integer >= 0. */
static int parse_offset(const char *text, int64_t *out)
{
	char *end;
	long long v;
	errno = 0;
	v = strtoll(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || v < 0)
		return -1;
	*out = (int64_t)v;
	return 0;
}

static int parse_int(const char *text, long min, long max, long *out)
{
	char *end;
	long v;
	errno = 0;
	v = strtol(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* The holder's pid for --verbose, or 0 when it cannot be told: through the
 * handle (FILE forms), or through the descriptor's /proc name. */
static long long holder_pid(locket_t *lock, const char *fd_path, const locket_wait_options *span)
{
	locket_options opts = LOCKET_OPTIONS_INIT;
	locket_t *probe = NULL;
	int64_t pid = 0;
	if (lock == NULL) {
		opts.flags = LOCKET_NO_CREATE | LOCKET_ALLOW_DIRECTORY;
		opts.kind = span->kind;
		opts.start = span->start;
		opts.length = span->length;
		if (locket_new(&probe, fd_path, &opts) != LOCKET_OK)
			return 0;
		lock = probe;
	}
	if (locket_holder_pid(lock, &pid) != LOCKET_OK)
		pid = 0;
	locket_free(probe);
	return (long long)pid;
}

/* Lock: the FILE forms through the handle (the descriptor leaves it, locked
 * and inheritable, into *fd), the descriptor form on *fd itself. The wait
 * is not interruptible: a signal during it has its default effect (it ends
 * locket, which then holds nothing), as with flock(1). */
/* --verbose's "waiting for ..." line: said by the wait itself, once, when
 * the core first asks whether to go on (right after its first try failed),
 * so that the one acquisition keeps the core's one deadline. It never ends
 * the wait: a signal ends locket by its default action, as flock(1). */
struct announce {
	locket_t *lock;
	const char *name, *fd_path;
	const locket_wait_options *span; /* the descriptor form's kind and range */
	int said;
};

static int announce_wait(void *arg)
{
	struct announce *a = (struct announce *)arg;
	if (!a->said) {
		long long pid = holder_pid(a->lock, a->fd_path, a->span);
		a->said = 1;
		if (pid > 0)
			printf("%s: waiting for %s, held by pid %lld\n", progname, a->name, pid);
		else
			printf("%s: waiting for %s\n", progname, a->name);
		fflush(stdout);
	}
	return 0;
}

static int take_lock(locket_t *lock, intptr_t *fd, int64_t timeout_ms, unsigned int flags,
		     const locket_wait_options *span, struct announce *announce)
{
	locket_wait_options o = LOCKET_WAIT_OPTIONS_INIT;
	if (lock == NULL) { /* a handle has its kind and range from locket_new() */
		o.kind = span->kind;
		o.start = span->start;
		o.length = span->length;
	}
	o.flags = flags;
	o.timeout_ms = timeout_ms;
	if (announce != NULL) {
		o.interrupted = announce_wait;
		o.interrupted_arg = announce;
	}
	if (lock != NULL)
		return locket_acquire_detached(lock, &o, fd);
	return locket_fd_lock_with(*fd, &o);
}

/* The exit status for a failure of the library (as flock(1)'s for the same
 * causes): the lock file cannot be opened or created (66, 73), the system
 * is short of something or cannot lock (71), or the lock cannot be taken
 * (65). opening: the failure came from locket_new(). */
static int failure_status(int rc, int opening)
{
	int status = locket_cli_os_status(locket_last_os_error());
	if (status != 0)
		return status;
	switch (rc) {
	case LOCKET_ENOTSUP:
	case LOCKET_ENOMEM:
		return EX_OSERR;
	case LOCKET_EISDIR: /* at the lock: --fcntl -x on a directory, as flock(1) */
		return opening ? EX_NOINPUT : EX_DATAERR;
	case LOCKET_ENOENT:
	case LOCKET_EACCES:
	case LOCKET_EINVAL:
		return EX_NOINPUT;
	default:
		return opening ? EX_NOINPUT : EX_DATAERR;
	}
}

/* --scope PATH: what a lock on PATH can exclude, as one line
 * "KIND<tab>FSTYPE<tab>REASON" (KIND: local, network, this-host, unknown);
 * with --fcntl, what an OFD lock can exclude (on NFS, local_lock= decides). */
static int print_scope(const char *path, unsigned int lock_kind)
{
	locket_scope_info info = LOCKET_SCOPE_INFO_INIT;
	int rc = locket_scope(path, lock_kind, &info);
	if (rc != LOCKET_OK) {
		fprintf(stderr, "%s: %s\n", progname, locket_last_error_message());
		return failure_status(rc, 1);
	}
	printf("%s\t%s\t%s\n", locket_scope_name(info.kind), info.fs_type, info.reason);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "exclusive", no_argument, NULL, 'x' },
		{ "shared", no_argument, NULL, 's' },
		{ "unlock", no_argument, NULL, 'u' },
		{ "nonblock", no_argument, NULL, 'n' },
		{ "nonblocking", no_argument, NULL, 'n' },
		{ "nb", no_argument, NULL, 'n' },
		{ "timeout", required_argument, NULL, 'w' },
		{ "wait", required_argument, NULL, 'w' },
		{ "conflict-exit-code", required_argument, NULL, 'E' },
		{ "close", no_argument, NULL, 'o' },
		{ "no-fork", no_argument, NULL, 'F' },
		{ "command", required_argument, NULL, 'c' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "fcntl", no_argument, NULL, OPT_FCNTL },
		{ "start", required_argument, NULL, OPT_START },
		{ "length", required_argument, NULL, OPT_LENGTH },
		{ "scope", required_argument, NULL, OPT_SCOPE },
		{ "across-hosts", no_argument, NULL, OPT_ACROSS_HOSTS },
		{ NULL, 0, NULL, 0 },
	};
	/* --fcntl: an OFD lock (util-linux 2.41's flock(1)); --start, --length:
	 * its byte range (0, 0: the whole file). */
	locket_wait_options span = LOCKET_WAIT_OPTIONS_INIT;
	int ranged = 0;
	unsigned int flags = 0;
	int64_t timeout_ms = -1;
	int unlock = 0, nonblock = 0, close_fd = 0, no_fork = 0, verbose = 0, opt, rc, exit_code;
	int across_hosts = 0;
	const char *scope_path = NULL;
	long conflict_code = 1;
	const char *shell_command = NULL, *name;
	char *shell_argv[4], fd_path[64];
	char **command = NULL;
	locket_t *lock = NULL;
	intptr_t fd;
	double started;

	argv = locket_cli_utf8_argv(&argc, argv);
	if (argv == NULL)
		return EX_OSERR;
	progname = invoked_name(argv[0]);
	if (argc < 2)
		return usage_error("not enough arguments");
	argv[0] = (char *)progname; /* getopt's messages begin with it */
#ifndef __GLIBC__
	opterr = 0; /* musl's and mingw's getopt word them otherwise: say it as flock(1) does */
#endif
	while ((opt = getopt_long(argc, argv, OPTSTRING, longopts, NULL)) != -1) {
		switch (opt) {
		case 'x':
		case 'e': /* flock(1)'s undocumented alias */
			flags &= ~LOCKET_SHARED;
			unlock = 0;
			break;
		case 's':
			flags |= LOCKET_SHARED;
			unlock = 0;
			break;
		case 'u':
			unlock = 1;
			break;
		case 'n':
			nonblock = 1; /* wins over -w in either order, as in flock(1) */
			break;
		case 'w':
			if (parse_timeout(optarg, &timeout_ms) != 0)
				return usage_error(
					"invalid timeout value: '%s' (expected seconds >= 0)",
					optarg);
			break;
		case 'E':
			if (parse_int(optarg, 0, 255, &conflict_code) != 0)
				return usage_error("invalid exit code: '%s' (expected 0 to 255)",
						   optarg);
			break;
		case 'o':
			close_fd = 1;
			break;
		case 'F':
			no_fork = 1;
			break;
		case 'c':
			shell_command = optarg;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'h':
			usage();
			return 0;
		case 'V':
			printf("%s %s\n", progname, locket_version());
			return 0;
		case OPT_FCNTL:
			span.kind = LOCKET_KIND_OFD;
			break;
		case OPT_START:
		case OPT_LENGTH:
			if (parse_offset(optarg, opt == OPT_START ? &span.start : &span.length) !=
			    0)
				return usage_error("invalid %s value: '%s' (expected bytes >= 0)",
						   opt == OPT_START ? "start" : "length", optarg);
			ranged = 1;
			break;
		case OPT_SCOPE:
			scope_path = optarg;
			break;
		case OPT_ACROSS_HOSTS:
			across_hosts = 1;
			break;
		default:             /* getopt said what (glibc), or we do */
			if (!opterr) /* getopt may leave optind past argc after a missing argument */
				option_error(opt, optind > 0 && optind <= argc &&
								  argv[optind - 1] != NULL
							  ? argv[optind - 1]
							  : "");
			fprintf(stderr, "Try '%s --help' for more information.\n", progname);
			return EX_USAGE;
		}
	}
	if (scope_path != NULL) {
		if (optind != argc)
			return usage_error("--scope PATH takes no other arguments");
		return print_scope(scope_path, span.kind);
	}
	if (nonblock)
		timeout_ms = 0;
	if (no_fork && close_fd)
		return usage_error("the --no-fork and --close options are incompatible");
	if (ranged && span.kind != LOCKET_KIND_OFD)
		return usage_error(
			"--start and --length need --fcntl (flock(2) locks whole files)");
	if (span.length > INT64_MAX - span.start)
		return usage_error("--start plus --length is beyond the largest file offset");

	/* Which form: FILE COMMAND..., FILE -c CMD, -c CMD FILE, or a descriptor. */
	if (shell_command != NULL) {
		if (argc != optind + 1)
			return usage_error("-c CMD takes one FILE and no other arguments");
	} else if (argc > optind + 1 && (strcmp(argv[optind + 1], "-c") == 0 ||
					 strcmp(argv[optind + 1], "--command") == 0)) {
		if (argc != optind + 3)
			return usage_error("%s requires exactly one command argument",
					   argv[optind + 1]);
		shell_command = argv[optind + 2];
	} else if (argc > optind + 1) {
		command = argv + optind + 1;
	} else if (optind >= argc) {
		return usage_error("requires file descriptor, file or directory");
	}
	if (shell_command != NULL) {
		locket_cli_shell(shell_command, shell_argv);
		command = shell_argv;
	}

	name = argv[optind];
	if (command == NULL) {
		long number;
		if (parse_int(name, 0, INT_MAX, &number) != 0)
			return usage_error("bad file descriptor: '%s' (a FILE needs a COMMAND)",
					   name);
		if (across_hosts)
			return usage_error("--across-hosts needs a FILE, not a descriptor");
		fd = (intptr_t)number;
		locket_cli_fd_label(number, fd_path, sizeof fd_path);
	} else {
		/* The library's opener: created if missing (0666 minus the umask),
		 * never truncated, read-only as flock(1) opens, a directory accepted. */
		locket_options opts = LOCKET_OPTIONS_INIT;
		opts.flags = LOCKET_ALLOW_DIRECTORY | (across_hosts ? LOCKET_ACROSS_HOSTS : 0u);
		opts.kind = span.kind;
		opts.start = span.start;
		opts.length = span.length;
		rc = locket_new(&lock, name, &opts);
		if (rc != LOCKET_OK) {
			fprintf(stderr, "%s: %s\n", progname, locket_last_error_message());
			return failure_status(rc, 1);
		}
		fd = -1;
		snprintf(fd_path, sizeof fd_path, "%s", name);
	}

	started = locket_cli_now_seconds();
	if (unlock) {
		/* With FILE COMMAND there is nothing to unlock (a fresh descriptor
		 * holds no lock, as in flock(1)): the command runs without one. */
		rc = lock != NULL ? LOCKET_OK : locket_fd_unlock_with(fd, &span);
	} else {
		struct announce announce = { lock, name, fd_path, &span, 0 };
		rc = take_lock(lock, &fd, timeout_ms, flags, &span, verbose ? &announce : NULL);
	}
	if (rc == LOCKET_EWOULDBLOCK || rc == LOCKET_ETIMEDOUT) {
		if (verbose)
			fprintf(stderr, "%s: %s (after %.6f seconds)\n", progname,
				rc == LOCKET_EWOULDBLOCK ? "failed to get lock"
							 : "timeout while waiting to get lock",
				locket_cli_now_seconds() - started);
		locket_free(lock);
		return (int)conflict_code;
	}
	if (rc != LOCKET_OK) {
		if (lock != NULL)
			fprintf(stderr, "%s: %s\n", progname, locket_last_error_message());
		else
			fprintf(stderr, "%s: %s: %s\n", progname, name, locket_cli_error_text());
		exit_code = failure_status(rc, 0);
		locket_free(lock);
		return exit_code;
	}
	/* The descriptor left the handle: the handle holds nothing, and the fork
	 * that runs the command has no locket descriptor to close. */
	locket_free(lock);
	if (verbose) {
		printf("%s: getting lock took %.6f seconds\n", progname,
		       locket_cli_now_seconds() - started);
		if (command != NULL)
			printf("%s: executing %s\n", progname, command[0]);
		fflush(stdout);
	}
	if (command == NULL)
		return 0; /* the lock stays with the caller's descriptor */
	return locket_cli_run(command, fd, close_fd, no_fork);
}
