/*
 * Which file system a lock file is on, for core/scope.c's table: the volume
 * (GetVolumePathNameW), its drive type (GetDriveTypeW: DRIVE_REMOTE for SMB
 * shares and mapped drives) and its file system's name
 * (GetVolumeInformationW: "NTFS", "ReFS", "9P" ...), and whether the path is
 * WSL's share (\\wsl$\..., \\wsl.localhost\...), where LockFileEx fails.
 */
#include "win.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

static int is_wsl(const wchar_t *p)
{
	/* \\?\UNC\wsl$\... from GetFinalPathNameByHandleW, \\wsl$\... given. */
	if (_wcsnicmp(p, L"\\\\?\\UNC\\", 8) == 0)
		p += 8;
	else if (wcsncmp(p, L"\\\\", 2) == 0)
		p += 2;
	else
		return 0;
	return _wcsnicmp(p, L"wsl$\\", 5) == 0 || _wcsnicmp(p, L"wsl.localhost\\", 14) == 0 ||
	       _wcsicmp(p, L"wsl$") == 0 || _wcsicmp(p, L"wsl.localhost") == 0;
}

/* Fill out from a full path (any form GetVolumePathNameW takes). */
static int fs_of_wpath(const wchar_t *full, locket__fs *out)
{
	wchar_t root[MAX_PATH + 1], fsname[MAX_PATH + 1];
	char *u8 = NULL;
	out->os = LOCKET__FS_WINDOWS;
	out->wsl = is_wsl(full);
	if (!GetVolumePathNameW(full, root, MAX_PATH + 1)) {
		DWORD err = GetLastError();
		if (out->wsl) { /* known from the path alone: WSL's 9P share */
			out->remote = 1;
			snprintf(out->type, sizeof out->type, "9P");
			snprintf(out->where, sizeof out->where, "\\\\wsl$");
			return LOCKET_OK;
		}
		return locket__fail_os((int)err, "cannot find the volume of a lock file", NULL);
	}
	out->remote = GetDriveTypeW(root) == DRIVE_REMOTE;
	if (locket__win_to_utf8(root, &u8) == LOCKET_OK) {
		snprintf(out->where, sizeof out->where, "%s", u8);
		free(u8);
	}
	if (GetVolumeInformationW(root, NULL, 0, NULL, NULL, NULL, fsname, MAX_PATH + 1) &&
	    locket__win_to_utf8(fsname, &u8) == LOCKET_OK) {
		snprintf(out->type, sizeof out->type, "%s", u8);
		free(u8);
	}
	return LOCKET_OK;
}

int locket__os_fs_of_fd(locket__fd fd, const char *path, locket__fs *out)
{
	const DWORD size = 32768; /* the longest path Windows has */
	wchar_t *full = (wchar_t *)malloc(size * sizeof(wchar_t));
	DWORD n;
	int rc;
	if (full == NULL)
		return locket__fail(LOCKET_ENOMEM, "out of memory finding a volume");
	n = GetFinalPathNameByHandleW((HANDLE)fd, full, size,
				      FILE_NAME_NORMALIZED | VOLUME_NAME_DOS);
	if (n == 0 || n >= size) {
		free(full);
		return locket__fail_os((int)GetLastError(), "cannot find the volume of",
				       path != NULL ? path : "the lock file");
	}
	rc = fs_of_wpath(full, out);
	free(full);
	return rc;
}

int locket__os_fs_of_path(const char *path, locket__fs *out)
{
	wchar_t *w = NULL, *full;
	DWORD n;
	int rc = locket__win_to_utf16(path, &w);
	if (rc != LOCKET_OK)
		return rc;
	n = GetFullPathNameW(w, 0, NULL, NULL);
	full = n ? (wchar_t *)malloc((size_t)n * sizeof(wchar_t)) : NULL;
	if (full == NULL || GetFullPathNameW(w, n, full, NULL) == 0) {
		free(w);
		free(full);
		return locket__fail(LOCKET_EINVAL, "cannot make '%s' a full path", path);
	}
	free(w);
	rc = fs_of_wpath(full, out);
	free(full);
	return rc;
}
