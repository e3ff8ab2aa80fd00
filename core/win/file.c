/*
 * Paths and lock files on Windows: UTF-8 <-> UTF-16, absolute paths, long
 * paths, and CreateFileW with the sharing and inheritance locket needs.
 */
#include "win.h"

#include <stdlib.h>
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

int locket__os_abspath(const char *path, char **out)
{
	wchar_t *wpath, *full;
	DWORD n;
	int rc;

	*out = NULL;
	rc = locket__win_to_utf16(path, &wpath);
	if (rc != LOCKET_OK)
		return rc;
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
		rc = locket__fail(LOCKET_EIO, "the working directory changed while resolving '%s'", path);
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
	if (len < MAX_PATH - 12 || wcsncmp(w, L"\\\\?\\", 4) == 0 || wcsncmp(w, L"\\\\.\\", 4) == 0) {
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
			rc = locket__fail(LOCKET_EISDIR, "cannot use '%s' as a lock file: Is a directory",
					  path);
		else
			rc = locket__fail_os((int)err, "cannot open lock file", path);
		free(wpath);
		return rc;
	}
	free(wpath);
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

int locket__os_same_file(locket__fd fd, const char *path)
{
	ULONGLONG held, named;
	FILE_STANDARD_INFO std;
	wchar_t *wpath;
	HANDLE h;
	int rc;

	if (!locket__win_file_index((HANDLE)fd, &held))
		return 1; /* this file system cannot tell */
	if (GetFileInformationByHandleEx((HANDLE)fd, FileStandardInfo, &std, sizeof std) &&
	    std.DeletePending)
		return locket__fail(LOCKET_ENOENT, "lock file '%s' was deleted while waiting", path);
	rc = locket__win_open_path(path, &wpath);
	if (rc != LOCKET_OK)
		return rc;
	/* No access rights needed to read the identity; directories included,
	 * so that a directory put in the file's place counts as a replacement. */
	h = CreateFileW(wpath, 0, LOCKET__SHARE_ALL, NULL, OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS,
			NULL);
	free(wpath);
	if (h == INVALID_HANDLE_VALUE)
		return locket__fail_os((int)GetLastError(), "lock file was removed while waiting", path);
	rc = locket__win_file_index(h, &named);
	CloseHandle(h);
	if (!rc)
		return 1;
	return held == named;
}
