/*
 * Start a program with its standard input and output on pipes, and read its
 * lines (Windows). One copy for the Windows test harness
 * (tests/windows/harness.c) and the Windows hand-off benchmark
 * (bench/windows/handoff.c, built by a single compiler command, hence a
 * header of static functions); each decides what a failure does.
 */
#ifndef LOCKET_SPAWN_WIN_H
#define LOCKET_SPAWN_WIN_H

#include <string.h>
#include <windows.h>

typedef struct spawned {
	HANDLE process;
	DWORD pid;
	HANDLE to;   /* its stdin */
	HANDLE from; /* its stdout */
} spawned;

/* Run cmd (UTF-16, modified by CreateProcessW); its stderr is ours. 0 on
 * success, else GetLastError() (nothing is left open). */
static DWORD spawn_with_pipes(wchar_t *cmd, spawned *out)
{
	SECURITY_ATTRIBUTES inherit = { sizeof inherit, NULL, TRUE };
	HANDLE in_r, in_w, out_r, out_w;
	STARTUPINFOW si;
	PROCESS_INFORMATION pi;
	DWORD err;

	if (!CreatePipe(&in_r, &in_w, &inherit, 0))
		return GetLastError();
	if (!CreatePipe(&out_r, &out_w, &inherit, 0)) {
		err = GetLastError();
		CloseHandle(in_r);
		CloseHandle(in_w);
		return err;
	}
	/* The parent's ends stay here: the child sees EOF when the parent goes. */
	SetHandleInformation(in_w, HANDLE_FLAG_INHERIT, 0);
	SetHandleInformation(out_r, HANDLE_FLAG_INHERIT, 0);
	memset(&si, 0, sizeof si);
	si.cb = sizeof si;
	si.dwFlags = STARTF_USESTDHANDLES;
	si.hStdInput = in_r;
	si.hStdOutput = out_w;
	si.hStdError = GetStdHandle(STD_ERROR_HANDLE);
	/* Inheriting handles on purpose (the pipes): locket's own are not inheritable. */
	err = CreateProcessW(NULL, cmd, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi) ? 0
										   : GetLastError();
	CloseHandle(in_r);
	CloseHandle(out_w);
	if (err != 0) {
		CloseHandle(in_w);
		CloseHandle(out_r);
		return err;
	}
	CloseHandle(pi.hThread);
	out->process = pi.hProcess;
	out->pid = pi.dwProcessId;
	out->to = in_w;
	out->from = out_r;
	return 0;
}

/* Read one line (without its CR LF) into buf; 0 at EOF or a read error
 * before the line ended (what was read stays in buf), else 1. */
static int read_line_from(HANDLE from, char *buf, size_t size)
{
	size_t n = 0;
	int ok = 1;
	for (;;) {
		char ch;
		DWORD got = 0;
		if (!ReadFile(from, &ch, 1, &got, NULL) || got == 0) {
			ok = 0;
			break;
		}
		if (ch == '\n')
			break;
		if (ch != '\r' && n + 1 < size)
			buf[n++] = ch;
	}
	buf[n] = '\0';
	return ok;
}

#endif /* LOCKET_SPAWN_WIN_H */
