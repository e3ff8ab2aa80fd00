/*
 * The command on POSIX: fork, exec, wait, pass signals on.
 *
 * The lock descriptor (from locket_acquire_detached(), which opened, locked
 * and checked it by the library's rules) is inheritable: the command and
 * whatever it starts hold the lock too, so it outlives locket if locket is killed, as with
 * flock(1) (-o: the command does not get it, and dies with locket instead).
 *
 * The signals to pass on are blocked and taken with sigwaitinfo() instead of
 * handled asynchronously: the main loop then sees each one as an ordinary
 * event, in order with the command's exit (SIGCHLD), with no handler racing
 * waitpid(), and with its origin (si_code) at hand.
 *
 * Per OS (docs/cli.md, "Platforms"): the parent-death signal behind -o is
 * prctl(PR_SET_PDEATHSIG) on Linux and procctl(PROC_PDEATHSIG_CTL) on
 * FreeBSD; macOS has none, so there a command started with -o outlives a
 * locket killed by SIGKILL (it runs on without the lock). macOS also lacks
 * sigwaitinfo(): sigwait() takes the signal without its origin, so every
 * signal is passed on, and a terminal's ^C reaches the command twice (from
 * the terminal, which signals the whole process group, and from locket).
 */
#include "locket.h"
#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/prctl.h>
#elif defined(__FreeBSD__)
#include <sys/procctl.h>
#endif

static const int passed_on[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2 };

int locket_cli_os_status(int os_error)
{
	switch (os_error) {
	case ENOMEM:
	case EMFILE:
	case ENFILE:
		return EX_OSERR;
	case EROFS:
	case ENOSPC:
	case EDQUOT:
		return EX_CANTCREAT;
	default:
		return 0;
	}
}

static int exec_command(char **argv)
{
	execvp(argv[0], argv);
	fprintf(stderr, "%s: failed to execute %s: %s\n", progname, argv[0], strerror(errno));
	return errno == ENOMEM ? EX_OSERR : EX_UNAVAILABLE;
}

/* The command died of sig: so does locket, for the shell's sake (bash stops
 * a script when a command dies of SIGINT, not when it exits 130). */
static int die_like(int sig)
{
	struct rlimit no_core = { 0, 0 };
	sigset_t just;
	setrlimit(RLIMIT_CORE, &no_core); /* the command's core is the one wanted */
	signal(sig, SIG_DFL);
	sigemptyset(&just);
	sigaddset(&just, sig);
	fflush(NULL);
	raise(sig);
	sigprocmask(SIG_UNBLOCK, &just, NULL);
	return 128 + sig; /* a signal that does not kill (SIGCHLD...) */
}

/* Asks for sig when the parent dies: 0 when asked, -1 where the system cannot. */
static int set_parent_death_signal(int sig)
{
#if defined(__linux__)
	return prctl(PR_SET_PDEATHSIG, sig);
#elif defined(__FreeBSD__)
	return procctl(P_PID, 0, PROC_PDEATHSIG_CTL, &sig);
#else
	(void)sig;
	return -1;
#endif
}

/* The next waited-for signal, and whether to pass it on: not the terminal's
 * (si_code SI_KERNEL), which went to the command's process group already. */
static int next_signal(const sigset_t *waited, int *pass_on)
{
#ifdef __APPLE__
	int sig = 0;
	if (sigwait(waited, &sig) != 0)
		return -1;
	*pass_on = 1; /* no origin to tell (see the top of this file) */
	return sig;
#else
	siginfo_t info;
	int sig = sigwaitinfo(waited, &info);
	*pass_on = sig > 0 && info.si_code != SI_KERNEL;
	return sig;
#endif
}

int locket_cli_run(char **argv, intptr_t lock_fd, int close_fd, int no_fork)
{
	sigset_t waited, old_mask;
	pid_t parent = getpid(), pid;
	size_t i;

	if (lock_fd >= 0) {
		/* The library opens with O_NONBLOCK (a lease or a FIFO must not
		 * block its open); the command gets a plain descriptor, as from
		 * flock(1). It is the same open file description: the lock stays. */
		int fl = fcntl((int)lock_fd, F_GETFL);
		if (fl >= 0 && (fl & O_NONBLOCK))
			(void)fcntl((int)lock_fd, F_SETFL, fl & ~O_NONBLOCK);
	}
	if (no_fork)
		return exec_command(argv); /* only on failure */

	signal(SIGCHLD, SIG_DFL); /* an inherited SIG_IGN would make waitpid() fail */
	sigemptyset(&waited);
	sigaddset(&waited, SIGCHLD);
	for (i = 0; i < sizeof passed_on / sizeof passed_on[0]; i++) {
		struct sigaction sa;
		/* Ignored when locket started (nohup, a background job): leave it so. */
		if (sigaction(passed_on[i], NULL, &sa) == 0 && sa.sa_handler != SIG_IGN)
			sigaddset(&waited, passed_on[i]);
	}
	sigprocmask(SIG_BLOCK, &waited, &old_mask);

	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "%s: fork failed: %s\n", progname, strerror(errno));
		return EX_OSERR;
	}
	if (pid == 0) {
		sigprocmask(SIG_SETMASK, &old_mask, NULL);
		if (close_fd) {
			if (lock_fd >= 0)
				close((int)lock_fd);
			/* Only locket holds the lock now: if it dies, so must the
			 * command (where the system offers a parent-death signal). */
			if (set_parent_death_signal(SIGKILL) == 0 && getppid() != parent)
				_exit(EX_OSERR);
		}
		_exit(exec_command(argv));
	}

	for (;;) {
		int status, sig, pass_on = 0;
		pid_t done = waitpid(pid, &status, WNOHANG);
		if (done == pid) {
			if (WIFEXITED(status))
				return WEXITSTATUS(status);
			if (WIFSIGNALED(status))
				return die_like(WTERMSIG(status));
			return EX_OSERR;
		}
		if (done < 0 && errno != EINTR) {
			fprintf(stderr, "%s: waitpid failed: %s\n", progname, strerror(errno));
			return EX_OSERR;
		}
		sig = next_signal(&waited, &pass_on);
		/* The terminal's signals went to the command's process group
		 * already; those of processes are for locket's pid alone. */
		if (sig > 0 && sig != SIGCHLD && pass_on)
			kill(pid, sig); /* the lock stays until the command exits */
	}
}

double locket_cli_now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

char **locket_cli_utf8_argv(int *argc, char **argv)
{
	(void)argc;
	return argv; /* paths are bytes; the library takes them as they are */
}

void locket_cli_shell(const char *command, char *argv[4])
{
	/* flock(1)'s choice: the user's shell, as for other commands. */
	argv[0] = getenv("SHELL");
	if (argv[0] == NULL || argv[0][0] == '\0')
		argv[0] = (char *)"/bin/sh";
	argv[1] = (char *)"-c";
	argv[2] = (char *)command;
	argv[3] = NULL;
}

void locket_cli_fd_label(long number, char *buf, size_t size)
{
	/* A name that opens the descriptor's file (for the holder's pid). */
#ifdef __linux__
	snprintf(buf, size, "/proc/self/fd/%ld", number);
#else
	snprintf(buf, size, "/dev/fd/%ld", number); /* macOS, the BSDs (FreeBSD: fdescfs) */
#endif
}

const char *locket_cli_error_text(void)
{
	return locket_last_os_error() ? strerror(locket_last_os_error())
				      : locket_last_error_message();
}
