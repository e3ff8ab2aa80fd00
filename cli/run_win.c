/*
 * The command on Windows: CreateProcessW, wait, exit code (the lock handle
 * comes from locket_acquire_detached()). A Windows lock belongs to the process that took it, so
 * the command cannot inherit it as on POSIX: instead the command runs in a
 * job object that kills it, and whatever it started, when locket's last
 * handle to the job closes, i.e. when locket exits or is killed. A command
 * never runs on without the lock. With -o the command's own children leave
 * the job (silent breakaway), so daemons it starts outlive locket. -F runs
 * the command as without it (Windows has no exec). Ctrl-C and Ctrl-Break
 * reach the command through the console; locket ignores them while the
 * command runs and keeps the lock until it exits.
 */
#include "locket.h"
#include "run.h"

#include <windows.h>
#include <shellapi.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Append arg to cmd, quoted so that CommandLineToArgvW and the C runtime
 * give it back unchanged. Returns the new length, or 0 if it does not fit. */
static size_t append_arg(wchar_t *cmd, size_t len, size_t cap, const wchar_t *arg)
{
	size_t slashes = 0;
	const wchar_t *p;
	int quote = arg[0] == L'\0' || wcspbrk(arg, L" \t\n\v\"") != NULL;

#define PUT(c)                                                                      \
	do {                                                                        \
		if (len + 1 >= cap)                                                 \
			return 0;                                                   \
		cmd[len++] = (c);                                                   \
	} while (0)
	if (len > 0)
		PUT(L' ');
	if (!quote) {
		for (p = arg; *p; p++)
			PUT(*p);
		cmd[len] = L'\0';
		return len;
	}
	PUT(L'"');
	for (p = arg;; p++) {
		if (*p == L'\\') {
			slashes++;
			continue;
		}
		/* Backslashes are literal unless they precede a quote. */
		if (*p == L'\0' || *p == L'"') {
			size_t n = *p == L'\0' ? slashes * 2 : slashes * 2 + 1;
			while (n--)
				PUT(L'\\');
			if (*p == L'\0')
				break;
			PUT(L'"');
		} else {
			while (slashes--)
				PUT(L'\\');
			PUT(*p);
		}
		slashes = 0;
	}
	PUT(L'"');
#undef PUT
	cmd[len] = L'\0';
	return len;
}

int locket_cli_os_status(int os_error)
{
	switch ((DWORD)os_error) {
	case ERROR_NOT_ENOUGH_MEMORY:
	case ERROR_TOO_MANY_OPEN_FILES:
		return EX_OSERR;
	case ERROR_WRITE_PROTECT:
	case ERROR_DISK_FULL:
		return EX_CANTCREAT;
	default:
		return 0;
	}
}

int locket_cli_run(char **argv, intptr_t lock_fd, int close_fd, int no_fork)
{
	JOBOBJECT_EXTENDED_LIMIT_INFORMATION limits;
	STARTUPINFOW si;
	PROCESS_INFORMATION pi;
	size_t cap = 32768, len = 0; /* CreateProcessW's limit */
	wchar_t *cmd = calloc(cap, sizeof *cmd), arg[8192];
	HANDLE job;
	DWORD code = EX_OSERR;
	int i;

	(void)no_fork;
	/* Never inherited: the lock is locket's process's (the library hands
	 * the handle out inheritable, for POSIX-style callers). */
	if (lock_fd != -1 && lock_fd != 0)
		SetHandleInformation((HANDLE)lock_fd, HANDLE_FLAG_INHERIT, 0);
	if (cmd == NULL)
		return EX_OSERR;
	for (i = 0; argv[i] != NULL; i++) {
		if (!MultiByteToWideChar(CP_UTF8, 0, argv[i], -1, arg, 8192) ||
		    (len = append_arg(cmd, len, cap, arg)) == 0) {
			fprintf(stderr, "%s: command line too long\n", progname);
			free(cmd);
			return EX_USAGE;
		}
	}

	job = CreateJobObjectW(NULL, NULL);
	memset(&limits, 0, sizeof limits);
	limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
	if (close_fd)
		limits.BasicLimitInformation.LimitFlags |= JOB_OBJECT_LIMIT_SILENT_BREAKAWAY_OK;
	if (job == NULL || !SetInformationJobObject(job, JobObjectExtendedLimitInformation, &limits,
						    sizeof limits)) {
		fprintf(stderr, "%s: cannot create a job object (error %lu)\n", progname,
			(unsigned long)GetLastError());
		free(cmd);
		return EX_OSERR;
	}

	memset(&si, 0, sizeof si);
	si.cb = sizeof si;
	/* Inherit the standard handles (locket's lock handle is not inheritable);
	 * start suspended so that the command is in the job before it runs. */
	if (!CreateProcessW(NULL, cmd, NULL, NULL, TRUE, CREATE_SUSPENDED, NULL, NULL, &si, &pi)) {
		DWORD err = GetLastError();
		fprintf(stderr, "%s: failed to execute %s (error %lu)\n", progname, argv[0],
			(unsigned long)err);
		free(cmd);
		CloseHandle(job);
		return err == ERROR_NOT_ENOUGH_MEMORY ? EX_OSERR : EX_UNAVAILABLE;
	}
	free(cmd);
	if (!AssignProcessToJobObject(job, pi.hProcess)) {
		fprintf(stderr, "%s: cannot put the command in a job object (error %lu)\n", progname,
			(unsigned long)GetLastError());
		TerminateProcess(pi.hProcess, EX_OSERR);
		CloseHandle(pi.hThread);
		CloseHandle(pi.hProcess);
		CloseHandle(job);
		return EX_OSERR;
	}
	SetConsoleCtrlHandler(NULL, TRUE); /* ignore Ctrl-C here; the command gets it */
	ResumeThread(pi.hThread);
	CloseHandle(pi.hThread);
	WaitForSingleObject(pi.hProcess, INFINITE);
	GetExitCodeProcess(pi.hProcess, &code);
	SetConsoleCtrlHandler(NULL, FALSE);
	CloseHandle(pi.hProcess);
	CloseHandle(job); /* kills whatever the command left running in the job */
	return (int)code;
}

double locket_cli_now_seconds(void)
{
	LARGE_INTEGER c, f;
	QueryPerformanceCounter(&c);
	QueryPerformanceFrequency(&f);
	return (double)c.QuadPart / (double)f.QuadPart;
}

char **locket_cli_utf8_argv(int *argc, char **argv)
{
	/* The C runtime's argv is in the ANSI code page; locket takes UTF-8. */
	wchar_t **wargv = CommandLineToArgvW(GetCommandLineW(), argc);
	char **out;
	(void)argv;
	if (wargv == NULL)
		return NULL;
	out = (char **)calloc((size_t)*argc + 1, sizeof *out);
	for (int i = 0; out != NULL && i < *argc; i++) {
		int n = WideCharToMultiByte(CP_UTF8, 0, wargv[i], -1, NULL, 0, NULL, NULL);
		out[i] = (char *)malloc((size_t)n);
		if (out[i] == NULL)
			return NULL;
		WideCharToMultiByte(CP_UTF8, 0, wargv[i], -1, out[i], n, NULL, NULL);
	}
	LocalFree(wargv);
	return out;
}

void locket_cli_shell(const char *command, char *argv[4])
{
	argv[0] = (char *)"cmd.exe";
	argv[1] = (char *)"/c";
	argv[2] = (char *)command;
	argv[3] = NULL;
}

void locket_cli_fd_label(long number, char *buf, size_t size)
{
	snprintf(buf, size, "handle %ld", number);
}

const char *locket_cli_error_text(void)
{
	return locket_last_error_message(); /* it names the Windows error already */
}
