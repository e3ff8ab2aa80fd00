/*
 * Paths and lock files on Windows: UTF-8 <-> UTF-16, absolute paths, long
 * paths, and CreateFileW with the sharing and inheritance locket needs.
 */
#include "win.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

int locket__win_to_utf16(const char *s, wchar_t **out)
{
	int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, NULL, 0);
	*out = NULL;
	if (n <= 0)
		return locket__fail(LOCKET_EINVAL, "path '%s' is not valid UTF-8", s);
	*out = (wchar_t *)malloc((size_t)n * sizeof(wchar_t));
	if (*out == NULL)
		return locket__fail(LOCKET_ENOMEM, "out of memory converting a path");
	MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, *out, n);
	return LOCKET_OK;
}

int locket__win_to_utf8(const wchar_t *w, char **out)
{
	int n = WideCharToMultiByte(CP_UTF8, 0, w, -1, NULL, 0, NULL, NULL);
	*out = NULL;
	if (n <= 0)
		return locket__fail_os((int)GetLastError(), "cannot convert a path to UTF-8", NULL);
	*out = (char *)malloc((size_t)n);
	if (*out == NULL)
		return locket__fail(LOCKET_ENOMEM, "out of memory converting a path");
	WideCharToMultiByte(CP_UTF8, 0, w, -1, *out, n, NULL, NULL);
	return LOCKET_OK;
}

/* Longest path the kernel takes (its lengths are 16-bit byte counts), in
 * UTF-16 characters, counting the \\?\ prefix. */
#define LONGEST_PATH 32767

static int too_long(const char *path, size_t len)
{
	return locket__fail(
		LOCKET_EINVAL,
		"lock file path is too long (%lu UTF-16 characters with the \\\\?\\ prefix; "
		"Windows allows %d): '%s'",
		(unsigned long)len, LONGEST_PATH, path);
}

static int is_verbatim(const wchar_t *w)
{
	return wcsncmp(w, L"\\\\?\\", 4) == 0;
}

static int not_a_file(const char *path)
{
	return locket__fail(LOCKET_ENOTSUP,
			    "cannot use '%s' as a lock file: it is not a file (a device)", path);
}

/* RtlIsDosDeviceName_U (ntdll, found at run time): NUL, CON, COM1, aux.lock,
 * dir\NUL... as the Win32 path rules of this Windows version see them. */
typedef ULONG(NTAPI *dos_device_fn)(const wchar_t *);

static int is_dos_device(const wchar_t *w)
{
	dos_device_fn is_device = (dos_device_fn)(void (*)(void))GetProcAddress(
		GetModuleHandleW(L"ntdll.dll"), "RtlIsDosDeviceName_U");
	return is_device != NULL && is_device(w) != 0;
}

int locket__os_abspath(const char *path, char **out)
{
	wchar_t *wpath, *full;
	size_t len;
	DWORD n;
	int rc;

	*out = NULL;
	rc = locket__win_to_utf16(path, &wpath);
	if (rc != LOCKET_OK)
		return rc;
	len = wcslen(wpath);
	if (is_verbatim(wpath)) {
		/* \\?\ asks for the path as written: no "..", no trailing dots stripped. */
		free(wpath);
		if (len > LONGEST_PATH)
			return too_long(path, len);
		*out = (char *)malloc(strlen(path) + 1);
		if (*out == NULL)
			return locket__fail(LOCKET_ENOMEM, "out of memory resolving a path");
		memcpy(*out, path, strlen(path) + 1);
		return LOCKET_OK;
	}
	/* Checked before GetFullPathNameW, whose lengths are 16-bit too. */
	if (len + 4 > LONGEST_PATH) {
		free(wpath);
		return too_long(path, len + 4);
	}
	/* Checked before opening: opening COM1 opens the serial port. */
	if (is_dos_device(wpath)) {
		free(wpath);
		return not_a_file(path);
	}
	/* GetFullPathNameW joins to the working directory and normalises the
	 * spelling (separators, "..", trailing dots) as CreateFileW would. */
	n = GetFullPathNameW(wpath, 0, NULL, NULL);
	if (n == 0) {
		rc = locket__fail_os((int)GetLastError(), "cannot make an absolute path of", path);
		free(wpath);
		return rc;
	}
	full = (wchar_t *)malloc((size_t)n * sizeof(wchar_t));
	if (full == NULL) {
		free(wpath);
		return locket__fail(LOCKET_ENOMEM, "out of memory resolving '%s'", path);
	}
	if (GetFullPathNameW(wpath, n, full, NULL) >= n)
		rc = locket__fail(LOCKET_EIO, "the working directory changed while resolving '%s'",
				  path);
	else
		rc = locket__win_to_utf8(full, out);
	free(full);
	free(wpath);
	return rc;
}

int locket__win_open_path(const char *path, wchar_t **out)
{
	wchar_t *w, *p;
	size_t len, extra;
	const wchar_t *prefix;
	int rc = locket__win_to_utf16(path, &w);
	if (rc != LOCKET_OK)
		return rc;
	len = wcslen(w);
	/* Without the prefix CreateFileW stops at MAX_PATH (260) characters. */
	if (len < MAX_PATH - 12 || is_verbatim(w) || wcsncmp(w, L"\\\\.\\", 4) == 0) {
		if (len > LONGEST_PATH) {
			free(w);
			return too_long(path, len);
		}
		*out = w;
		return LOCKET_OK;
	}
	if (w[0] == L'\\' && w[1] == L'\\') {
		prefix = L"\\\\?\\UNC"; /* \\server\share -> \\?\UNC\server\share */
		extra = 1;
	} else {
		prefix = L"\\\\?\\";
		extra = 0;
	}
	if (wcslen(prefix) + len - extra > LONGEST_PATH) {
		free(w);
		return too_long(path, wcslen(prefix) + len - extra);
	}
	p = (wchar_t *)malloc((wcslen(prefix) + len + 1) * sizeof(wchar_t));
	if (p == NULL) {
		free(w);
		return locket__fail(LOCKET_ENOMEM, "out of memory converting a path");
	}
	wcscpy(p, prefix);
	wcscat(p, w + extra);
	free(w);
	*out = p;
	return LOCKET_OK;
}

static int is_directory(const wchar_t *wpath)
{
	DWORD attr = GetFileAttributesW(wpath);
	return attr != INVALID_FILE_ATTRIBUTES && (attr & FILE_ATTRIBUTE_DIRECTORY);
}

int locket__os_open(const char *path, const locket_options *opts, locket__fd *out)
{
	DWORD disp = (opts->flags & LOCKET_NO_CREATE) ? OPEN_EXISTING : OPEN_ALWAYS;
	DWORD err = 0;
	wchar_t *wpath;
	HANDLE h;
	int rc;

	*out = LOCKET__NO_FD;
	rc = locket__win_open_path(path, &wpath);
	if (rc != LOCKET_OK)
		return rc;
	/* Default security attributes: the handle is not inherited by child
	 * processes, so a child started by the holder never keeps the lock. */
	h = CreateFileW(wpath, GENERIC_READ | GENERIC_WRITE, LOCKET__SHARE_ALL, NULL, disp,
			FILE_ATTRIBUTE_NORMAL, NULL);
	if (h == INVALID_HANDLE_VALUE) {
		err = GetLastError();
		/* LockFileEx needs only read access: a read-only file still locks. */
		if (err == ERROR_ACCESS_DENIED && !is_directory(wpath)) {
			h = CreateFileW(wpath, GENERIC_READ, LOCKET__SHARE_ALL, NULL, OPEN_EXISTING,
					FILE_ATTRIBUTE_NORMAL, NULL);
			if (h == INVALID_HANDLE_VALUE && GetLastError() != ERROR_FILE_NOT_FOUND)
				err = GetLastError();
		}
	}
	if (h == INVALID_HANDLE_VALUE) {
		if (err == ERROR_ACCESS_DENIED && is_directory(wpath))
			rc = locket__fail(LOCKET_EISDIR,
					  "cannot use '%s' as a lock file: Is a directory", path);
		else
			rc = locket__fail_os((int)err, "cannot open lock file", path);
		free(wpath);
		return rc;
	}
	free(wpath);
	/* A device or pipe that no name check caught (\\.\pipe\x, a link to
	 * a device): LockFileEx would fail on it at every acquire. */
	if (GetFileType(h) != FILE_TYPE_DISK) {
		CloseHandle(h);
		return not_a_file(path);
	}
	*out = (locket__fd)h;
	return LOCKET_OK;
}

void locket__os_close(locket__fd fd)
{
	CloseHandle((HANDLE)fd);
}

/* NtQueryInformationFile, found at run time: ntdll.dll is always loaded,
 * but not in mingw's default import libraries. */
typedef LONG(NTAPI *query_file_fn)(HANDLE, void *io_status, void *info, ULONG size, int info_class);
#define FILE_INTERNAL_INFORMATION_CLASS 6

int locket__win_file_index(HANDLE h, ULONGLONG *index)
{
	struct {
		union {
			LONG status;
			void *pointer;
		} u;
		ULONG_PTR information;
	} io;
	LARGE_INTEGER internal; /* FILE_INTERNAL_INFORMATION */
	query_file_fn query = (query_file_fn)(void (*)(void))GetProcAddress(
		GetModuleHandleW(L"ntdll.dll"), "NtQueryInformationFile");
	if (query == NULL ||
	    query(h, &io, &internal, sizeof internal, FILE_INTERNAL_INFORMATION_CLASS) < 0)
		return 0;
	*index = (ULONGLONG)internal.QuadPart;
	return 1;
}

/* Are a and b one file of one volume? FileIdInfo (Windows 8+: the 128-bit
 * id ReFS needs) on both, else GetFileInformationByHandle on both; 1 when
 * neither answers. Under Wine each call asks the mount manager (0.2-0.5 ms),
 * hence only after the cheap index comparison. */
/* FILE_ID_INFO's class, FileIdInfo, of Windows 8 (hidden by our
 * _WIN32_WINNT 0x0600; older Windows refuse it). */
#define FILE_ID_INFO_CLASS ((FILE_INFO_BY_HANDLE_CLASS)18)

/* The volume and file id of h, the way held->how says (0: FileIdInfo, else
 * GetFileInformationByHandle), into id->volume and id->id. */
static int volume_and_id(HANDLE h, int how, locket__win_identity *id)
{
	BY_HANDLE_FILE_INFORMATION info;
	struct {
		ULONGLONG volume;
		BYTE id[16];
	} fid; /* FILE_ID_INFO */
	if (how == 0) {
		if (!GetFileInformationByHandleEx(h, FILE_ID_INFO_CLASS, &fid, sizeof fid))
			return 0;
		id->volume = fid.volume;
		memcpy(id->id, fid.id, sizeof id->id);
		return 1;
	}
	if (!GetFileInformationByHandle(h, &info))
		return 0;
	id->volume = info.dwVolumeSerialNumber;
	memset(id->id, 0, sizeof id->id);
	memcpy(id->id, &info.nFileIndexLow, sizeof info.nFileIndexLow);
	memcpy(id->id + 4, &info.nFileIndexHigh, sizeof info.nFileIndexHigh);
	return 1;
}

int locket__win_read_identity(HANDLE h, locket__win_identity *id)
{
	if (!locket__win_file_index(h, &id->index))
		return 0;
	for (id->how = 0; id->how < 2; id->how++)
		if (volume_and_id(h, id->how, id))
			return 1;
	return 0;
}

/* The file path names now, opened to read its identity (access 0) or to
 * probe it (GENERIC_READ, which LockFileEx needs); directories included, so
 * that a directory put in the file's place counts as a replacement.
 * INVALID_HANDLE_VALUE with GetLastError() set, or a recorded error in *rc. */
static HANDLE open_named(const char *path, DWORD access, int *rc)
{
	wchar_t *wpath;
	HANDLE h;
	*rc = locket__win_open_path(path, &wpath);
	if (*rc != LOCKET_OK)
		return INVALID_HANDLE_VALUE;
	h = CreateFileW(wpath, access, LOCKET__SHARE_ALL, NULL, OPEN_EXISTING,
			FILE_FLAG_BACKUP_SEMANTICS, NULL);
	free(wpath);
	return h;
}

static BOOL probe_lock(HANDLE h, ULONGLONG offset, int lock)
{
	OVERLAPPED at = { 0 };
	at.Offset = (DWORD)offset;
	at.OffsetHigh = (DWORD)(offset >> 32);
	return lock ? LockFileEx(h, LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0,
				 &at)
		    : UnlockFileEx(h, 0, 1, 0, &at);
}

int locket__win_probe_take(HANDLE fd, locket__win_probe *p)
{
	static volatile LONG64 counter;
	LARGE_INTEGER qpc;
	ULONGLONG x;
	QueryPerformanceCounter(&qpc);
	/* splitmix64 of the clock, the process and a per-process counter */
	x = (ULONGLONG)qpc.QuadPart ^ ((ULONGLONG)GetCurrentProcessId() << 32) ^
	    ((ULONGLONG)InterlockedIncrement64(&counter) * 0x9e3779b97f4a7c15ULL);
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	x ^= x >> 31;
	p->offset = (1ULL << 62) + (x & ((1ULL << 48) - 1));
	return probe_lock(fd, p->offset, 1) ? 1 : 0;
}

void locket__win_probe_drop(HANDLE fd, const locket__win_probe *p)
{
	probe_lock(fd, p->offset, 0);
}

/* Through a fresh handle h of the path: 1 if h's file is the probed one
 * (the probe conflicts), 0 if not (h could lock the range), -1 when the
 * lock manager cannot tell (a directory, a file system without such
 * locks). */
static int probe_says(HANDLE h, const locket__win_probe *p)
{
	if (probe_lock(h, p->offset, 1)) {
		probe_lock(h, p->offset, 0);
		return 0;
	}
	return GetLastError() == ERROR_LOCK_VIOLATION ? 1 : -1;
}

/* 1 if h's file is held's (one index on two volumes means a directory of
 * the path leads elsewhere now), else 0. */
static int is_held_file(HANDLE h, const locket__win_identity *held)
{
	locket__win_identity named;
	if (!locket__win_file_index(h, &named.index) || named.index != held->index ||
	    !volume_and_id(h, held->how, &named))
		return 0;
	return named.volume == held->volume && memcmp(named.id, held->id, sizeof named.id) == 0;
}

static int delete_pending(HANDLE h)
{
	FILE_STANDARD_INFO std;
	return GetFileInformationByHandleEx(h, FileStandardInfo, &std, sizeof std) &&
	       std.DeletePending;
}

int locket__win_path_names(const char *path, HANDLE fd, const locket__win_identity *held,
			   const locket__win_probe *p)
{
	int rc, same = 0;
	HANDLE h;
	if (delete_pending(fd))
		return 0;
	if (p != NULL) {
		h = open_named(path, GENERIC_READ, &rc);
		if (h != INVALID_HANDLE_VALUE) {
			same = probe_says(h, p);
			CloseHandle(h);
			if (same >= 0)
				return same;
		}
	}
	if (held == NULL)
		return 0;
	h = open_named(path, 0, &rc);
	if (h == INVALID_HANDLE_VALUE)
		return 0;
	same = is_held_file(h, held);
	CloseHandle(h);
	return same;
}

int locket__os_same_file(locket__fd fd, const char *path, int allow_dir, locket__key *key)
{
	locket__win_identity held;
	locket__win_probe probe;
	ULONGLONG named;
	HANDLE h;
	int rc;

	(void)allow_dir; /* LockFileEx cannot lock a directory: locket__os_open refuses them */
	*key = 0;
	if (!locket__win_file_index((HANDLE)fd, &held.index))
		return 1; /* this file system cannot tell */
	if (delete_pending((HANDLE)fd))
		return locket__fail(LOCKET_ENOENT, "lock file '%s' was deleted while waiting",
				    path);
	h = open_named(path, GENERIC_READ, &rc);
	if (h == INVALID_HANDLE_VALUE && rc == LOCKET_OK)
		h = open_named(path, 0, &rc); /* no read access now: compare identities */
	if (h == INVALID_HANDLE_VALUE) {
		if (rc != LOCKET_OK)
			return rc;
		return locket__fail_os((int)GetLastError(), "lock file was removed while waiting",
				       path);
	}
	if (!locket__win_file_index(h, &named)) {
		rc = 1;
	} else if (named != held.index) {
		rc = 0; /* the cheap answer for a replaced file */
	} else {
		rc = -1;
		if (locket__win_probe_take((HANDLE)fd, &probe)) {
			rc = probe_says(h, &probe);
			locket__win_probe_drop((HANDLE)fd, &probe);
		}
		if (rc < 0)
			rc = !locket__win_read_identity((HANDLE)fd, &held) ? 1
									   : is_held_file(h, &held);
	}
	CloseHandle(h);
	return rc;
}

int locket__os_fd_is_plausible(intptr_t fd)
{
	return fd != 0 && fd != (intptr_t)LOCKET__NO_FD;
}

void locket__os_fd_label(intptr_t fd, char *buf, size_t size)
{
	snprintf(buf, size, "handle %p", (void *)fd);
}

int locket__os_probe(const char *path, const locket_options *opts)
{
	(void)path;
	(void)opts;
	return 0; /* no POSIX record locks to keep: the ordinary probe */
}
