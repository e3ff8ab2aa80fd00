/*
 * Child roles: the other processes of the Windows tests. Each answers on
 * stdout with one line per event and takes orders on stdin.
 */
#include "harness.h"

#include <string.h>

static unsigned int mode_flags(const char *mode)
{
	return strcmp(mode, "shared") == 0 ? LOCKET_SHARED : 0;
}

static void die(const char *what, int rc)
{
	role_say("error %s %s %s", what, locket_error_name(rc), locket_last_error_message());
	exit(3);
}

/* A handle on path, or the role ends with the error. */
static locket_t *open_or_die(const char *path)
{
	locket_t *lock;
	int rc = locket_new(&lock, path, NULL);
	if (rc != LOCKET_OK)
		die("new", rc);
	return lock;
}

/* hold PATH MODE: acquire, say "locked", release on any line (or EOF). */
ROLE(hold)
{
	locket_t *lock;
	int rc;
	if (argc < 2)
		return 2;
	lock = open_or_die(argv[0]);
	if ((rc = locket_acquire(lock, -1, mode_flags(argv[1]))) != LOCKET_OK)
		die("acquire", rc);
	role_say("locked");
	role_hear();
	if ((rc = locket_release(lock)) != LOCKET_OK)
		die("release", rc);
	role_say("released");
	locket_free(lock);
	return 0;
}

/* holdfor PATH MS END: acquire, say "locked", keep it MS milliseconds, then
 * END: "release" (locket_release), or "die" (terminate without releasing). */
ROLE(holdfor)
{
	locket_t *lock;
	int rc;
	if (argc < 3)
		return 2;
	lock = open_or_die(argv[0]);
	if ((rc = locket_acquire(lock, -1, 0)) != LOCKET_OK)
		die("acquire", rc);
	role_say("locked");
	Sleep((DWORD)atoi(argv[1])); /* the hold, not a synchronisation */
	if (strcmp(argv[2], "die") == 0)
		TerminateProcess(GetCurrentProcess(), 9);
	if ((rc = locket_release(lock)) != LOCKET_OK)
		die("release", rc);
	locket_free(lock);
	return 0;
}

static HANDLE plain_open(const char *path)
{
	wchar_t *w = test_wide(path);
	HANDLE h = CreateFileW(w, GENERIC_READ | GENERIC_WRITE,
			       FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
			       OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
	free(w);
	if (h == INVALID_HANDLE_VALUE) {
		role_say("error open %lu", (unsigned long)GetLastError());
		exit(3);
	}
	return h;
}

/* plainhold PATH MODE [MS]: what locket.py and filelock do on Windows:
 * LockFileEx on byte 0 of a plain handle. Without MS: say "locked", unlock
 * on any line; with MS: unlock after MS milliseconds. */
ROLE(plainhold)
{
	OVERLAPPED at = { 0 };
	HANDLE h;
	if (argc < 2)
		return 2;
	h = plain_open(argv[0]);
	if (!LockFileEx(h, strcmp(argv[1], "shared") == 0 ? 0 : LOCKFILE_EXCLUSIVE_LOCK, 0, 1, 0,
			&at)) {
		role_say("error lock %lu", (unsigned long)GetLastError());
		return 3;
	}
	role_say("locked");
	if (argc > 2)
		Sleep((DWORD)atoi(argv[2]));
	else
		role_hear();
	if (!UnlockFileEx(h, 0, 1, 0, &at)) {
		role_say("error unlock %lu", (unsigned long)GetLastError());
		return 3;
	}
	CloseHandle(h);
	role_say("released");
	return 0;
}

/* plaintry PATH: one LockFileEx try on byte 0; says "ok" or "busy ERR". */
ROLE(plaintry)
{
	OVERLAPPED at = { 0 };
	HANDLE h;
	if (argc < 1)
		return 2;
	h = plain_open(argv[0]);
	if (LockFileEx(h, LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &at))
		role_say("ok");
	else
		role_say("busy %lu", (unsigned long)GetLastError());
	CloseHandle(h);
	return 0;
}

/* try PATH MODE: one locket try; says the result's name. */
ROLE(try)
{
	locket_t *lock;
	int rc;
	if (argc < 2)
		return 2;
	lock = open_or_die(argv[0]);
	rc = locket_acquire(lock, 0, mode_flags(argv[1]));
	role_say("%s", locket_error_name(rc));
	locket_free(lock);
	return 0;
}

/* holdspawn PATH: acquire, start a long-lived child that inherits every
 * inheritable handle, say "locked PID" (the grandchild's), wait for orders. */
ROLE(holdspawn)
{
	STARTUPINFOW si;
	PROCESS_INFORMATION pi;
	wchar_t self[4096], cmd[4200];
	locket_t *lock;
	int rc;
	if (argc < 1)
		return 2;
	lock = open_or_die(argv[0]);
	if ((rc = locket_acquire(lock, -1, 0)) != LOCKET_OK)
		die("acquire", rc);
	GetModuleFileNameW(NULL, self, 4096);
	_snwprintf(cmd, 4200, L"\"%ls\" --child sleeper \"%hs\"", self, argv[0]);
	cmd[4199] = L'\0';
	memset(&si, 0, sizeof si);
	si.cb = sizeof si;
	if (!CreateProcessW(NULL, cmd, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi)) {
		role_say("error spawn %lu", (unsigned long)GetLastError());
		return 3;
	}
	role_say("locked %lu", (unsigned long)pi.dwProcessId);
	role_hear();
	return 0;
}

/* sleeper [PATH]: with PATH, says "inherited" if it holds a handle of
 * that file from its parent (handle values are kept across inheritance),
 * else "clean"; then lives a minute (the test kills it sooner). */
ROLE(sleeper)
{
	if (argc > 0) {
		BY_HANDLE_FILE_INFORMATION want, got;
		wchar_t *w = test_wide(argv[0]);
		HANDLE own = CreateFileW(w, 0, 7, NULL, OPEN_EXISTING, 0, NULL);
		int found = 0;
		uintptr_t v;
		free(w);
		if (own == INVALID_HANDLE_VALUE || !GetFileInformationByHandle(own, &want)) {
			role_say("error sleeper %lu", (unsigned long)GetLastError());
			return 3;
		}
		for (v = 4; v < 4096 && !found; v += 4) {
			HANDLE h = (HANDLE)v;
			if (h != own && GetFileType(h) == FILE_TYPE_DISK &&
			    GetFileInformationByHandle(h, &got) &&
			    got.nFileIndexLow == want.nFileIndexLow &&
			    got.nFileIndexHigh == want.nFileIndexHigh &&
			    got.dwVolumeSerialNumber == want.dwVolumeSerialNumber)
				found = 1;
		}
		CloseHandle(own);
		role_say(found ? "inherited" : "clean");
	}
	Sleep(60000);
	return 0;
}

/* worker PATH OCCUPANCY N TIMEOUT: N times acquire, check that nobody else
 * is inside (an unshared open of OCCUPANCY fails if another worker has it
 * open), release. Exit code 0 if never two holders. */
ROLE(worker)
{
	locket_t *lock;
	wchar_t *occ;
	int i, n, rc;
	long long timeout;
	if (argc < 4)
		return 2;
	n = atoi(argv[2]);
	timeout = atoll(argv[3]);
	occ = test_wide(argv[1]);
	lock = open_or_die(argv[0]);
	role_say("ready");
	for (i = 0; i < n; i++) {
		HANDLE inside;
		if ((rc = locket_acquire(lock, timeout, 0)) != LOCKET_OK)
			die("acquire", rc);
		inside = CreateFileW(occ, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_ALWAYS,
				     FILE_ATTRIBUTE_NORMAL, NULL);
		if (inside == INVALID_HANDLE_VALUE) {
			role_say("overlap %d %lu", i, (unsigned long)GetLastError());
			return 4;
		}
		if (i % 7 == 0)
			Sleep(1);
		CloseHandle(inside);
		if ((rc = locket_release(lock)) != LOCKET_OK)
			die("release", rc);
	}
	locket_free(lock);
	free(occ);
	role_say("done");
	return 0;
}

/* holdreplace PATH MS: acquire, say "locked", wait for a line, keep the
 * lock MS more milliseconds, then rename the lock file to PATH.old, put a
 * new file at PATH, and release (the old file's lock). */
ROLE(holdreplace)
{
	locket_t *lock;
	wchar_t *w, *old;
	char buf[4096];
	HANDLE h;
	int rc;
	if (argc < 2)
		return 2;
	lock = open_or_die(argv[0]);
	if ((rc = locket_acquire(lock, -1, 0)) != LOCKET_OK)
		die("acquire", rc);
	role_say("locked");
	role_hear();
	Sleep((DWORD)atoi(argv[1])); /* the hold: lets the waiter reach its wait */
	snprintf(buf, sizeof buf, "%s.old", argv[0]);
	w = test_wide(argv[0]);
	old = test_wide(buf);
	if (!MoveFileExW(w, old, 0)) {
		role_say("error rename %lu", (unsigned long)GetLastError());
		return 3;
	}
	h = CreateFileW(w, GENERIC_WRITE, 0, NULL, CREATE_NEW, 0, NULL);
	if (h == INVALID_HANDLE_VALUE) {
		role_say("error create %lu", (unsigned long)GetLastError());
		return 3;
	}
	CloseHandle(h);
	if ((rc = locket_release(lock)) != LOCKET_OK)
		die("release", rc);
	role_say("replaced");
	locket_free(lock);
	return 0;
}

/* exit N: exit with code N. */
ROLE(exit)
{
	return argc > 0 ? atoi(argv[0]) : 0;
}

/* sayhold: say "pid N", then live a minute (the test ends it sooner). */
ROLE(sayhold)
{
	(void)argc;
	(void)argv;
	role_say("pid %lu", (unsigned long)GetCurrentProcessId());
	Sleep(60000);
	return 0;
}

/* holdswap DIR MS: acquire DIR\cur\d\lock, say "locked", wait for a line,
 * keep the lock MS more milliseconds, then put DIR\next in the place of
 * DIR\cur (DIR\cur becomes DIR\old), lock the new DIR\cur\lock, release the
 * old one, say "swapped", and keep the new one MS more milliseconds. */
ROLE(holdswap)
{
	char path[4096], cur[4096], next[4096], old[4096];
	wchar_t *wcur, *wnext, *wold;
	locket_t *lock, *fresh;
	int rc;
	if (argc < 2)
		return 2;
	snprintf(cur, sizeof cur, "%s\\cur", argv[0]);
	snprintf(next, sizeof next, "%s\\next", argv[0]);
	snprintf(old, sizeof old, "%s\\old", argv[0]);
	snprintf(path, sizeof path, "%s\\d\\lock", cur);
	lock = open_or_die(path);
	if ((rc = locket_acquire(lock, -1, 0)) != LOCKET_OK)
		die("acquire", rc);
	role_say("locked");
	role_hear();
	Sleep((DWORD)atoi(argv[1])); /* the hold: lets the waiter reach its wait */
	wcur = test_wide(cur);
	wnext = test_wide(next);
	wold = test_wide(old);
	if (!MoveFileExW(wcur, wold, 0) || !MoveFileExW(wnext, wcur, 0)) {
		role_say("error rename %lu", (unsigned long)GetLastError());
		return 3;
	}
	fresh = open_or_die(path);
	if ((rc = locket_acquire(fresh, 0, 0)) != LOCKET_OK)
		die("acquire the new file", rc);
	if ((rc = locket_release(lock)) != LOCKET_OK)
		die("release", rc);
	role_say("swapped");
	Sleep((DWORD)atoi(argv[1])); /* the new file's holder, for a while */
	if ((rc = locket_release(fresh)) != LOCKET_OK)
		die("release the new file", rc);
	locket_free(lock);
	locket_free(fresh);
	free(wcur);
	free(wnext);
	free(wold);
	return 0;
}
