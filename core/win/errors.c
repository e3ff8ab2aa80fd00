/*
 * Windows error numbers (GetLastError()) -> locket codes and text. The one
 * place where Windows errors are translated.
 */
#include "win.h"

#include <stdio.h>
#include <string.h>

int locket__os_translate(int os_error)
{
	switch ((DWORD)os_error) {
	case ERROR_SUCCESS:
		return LOCKET_OK;
	case ERROR_LOCK_VIOLATION: /* the byte is locked: contention */
		return LOCKET_EWOULDBLOCK;
	case ERROR_TIMEOUT:
	case WAIT_TIMEOUT:
		return LOCKET_ETIMEDOUT;
	case ERROR_NOT_LOCKED:
		return LOCKET_ENOTHELD;
	case ERROR_FILE_NOT_FOUND:
	case ERROR_PATH_NOT_FOUND:
	case ERROR_INVALID_DRIVE:
	case ERROR_BAD_NETPATH:
	case ERROR_BAD_NET_NAME:
	case ERROR_DIRECTORY: /* a directory of the path is a file */
	case ERROR_DELETE_PENDING:
		return LOCKET_ENOENT;
	case ERROR_ACCESS_DENIED:
	case ERROR_SHARING_VIOLATION: /* another program opened the file without sharing it */
	case ERROR_WRITE_PROTECT:
	case ERROR_PRIVILEGE_NOT_HELD:
	case ERROR_NETWORK_ACCESS_DENIED:
		return LOCKET_EACCES;
	case ERROR_INVALID_NAME:
	case ERROR_BAD_PATHNAME:
	case ERROR_FILENAME_EXCED_RANGE:
	case ERROR_INVALID_PARAMETER:
		return LOCKET_EINVAL;
	case ERROR_NOT_SUPPORTED:
	case ERROR_INVALID_FUNCTION: /* e.g. LockFileEx on a device */
		return LOCKET_ENOTSUP;
	case ERROR_NOT_ENOUGH_MEMORY:
	case ERROR_OUTOFMEMORY:
		return LOCKET_ENOMEM;
	default:
		return LOCKET_EIO;
	}
}

void locket__os_strerror(int os_error, char *buf, size_t size)
{
	wchar_t text[256];
	DWORD n = FormatMessageW(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL,
				 (DWORD)os_error, MAKELANGID(LANG_ENGLISH, SUBLANG_DEFAULT), text,
				 sizeof text / sizeof text[0], NULL);
	if (n == 0)
		n = FormatMessageW(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL,
				   (DWORD)os_error, 0, text, sizeof text / sizeof text[0], NULL);
	if (size == 0)
		return;
	buf[0] = '\0';
	/* Trim the trailing ".\r\n" so that it reads well inside a sentence. */
	while (n > 0 && (text[n - 1] == L'\n' || text[n - 1] == L'\r' || text[n - 1] == L'.' ||
			 text[n - 1] == L' '))
		n--;
	if (n > 0 && size <= (size_t)INT_MAX) {
		int len = WideCharToMultiByte(CP_UTF8, 0, text, (int)n, buf, (int)size - 1, NULL,
					      NULL);
		buf[len > 0 ? len : 0] = '\0';
	}
	if (buf[0] == '\0')
		snprintf(buf, size, "Windows error %d", os_error);
	else {
		size_t len = strlen(buf);
		snprintf(buf + len, size - len, " (Windows error %d)", os_error);
	}
}
