/*
 * Running the command on POSIX: fork, exec, wait, pass signals on.
 *
 * The signals to pass on are blocked and taken with sigwaitinfo() instead of
 * handled asynchronously: the main loop then sees each one as an ordinary
 * event, in order with the child's exit (SIGCHLD), with no handler racing
 * waitpid().
 */
#include "run.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static const int forwarded[] = { SIGTERM, SIGHUP, SIGUSR1, SIGUSR2 };

static int exit_status(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return EX_OSERR;
}

/* Start argv[0] with the lock held; returns its exit status, shell style. */
int locket_cli_run(char **argv)
{
	struct sigaction ignore, old_int, old_quit;
	sigset_t waited, old_mask;
	pid_t parent = getpid(), pid;
	size_t i;

	/* Ctrl-C and Ctrl-\ reach the command from the terminal; locket stays
	 * to release the lock once the command is gone (as system(3) does). */
	memset(&ignore, 0, sizeof ignore);
	ignore.sa_handler = SIG_IGN;
	sigemptyset(&ignore.sa_mask);
	sigaction(SIGINT, &ignore, &old_int);
	sigaction(SIGQUIT, &ignore, &old_quit);

	sigemptyset(&waited);
	sigaddset(&waited, SIGCHLD);
	for (i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++)
		sigaddset(&waited, forwarded[i]);
	sigprocmask(SIG_BLOCK, &waited, &old_mask);

	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "%s: cannot fork: %s\n", progname, strerror(errno));
		return EX_OSERR;
	}
	if (pid == 0) {
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGQUIT, &old_quit, NULL);
		sigprocmask(SIG_SETMASK, &old_mask, NULL);
		/* If locket dies, the lock goes with it: so must the command. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(EX_OSERR);
		execvp(argv[0], argv);
		fprintf(stderr, "%s: cannot run %s: %s\n", progname, argv[0], strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}

	for (;;) {
		int status, sig;
		pid_t done = waitpid(pid, &status, WNOHANG);
		if (done == pid)
			return exit_status(status);
		if (done < 0 && errno != EINTR) {
			fprintf(stderr, "%s: waitpid: %s\n", progname, strerror(errno));
			return EX_OSERR;
		}
		sig = sigwaitinfo(&waited, NULL);
		if (sig > 0 && sig != SIGCHLD)
			kill(pid, sig); /* pass it on; the lock stays until the command exits */
	}
}
