/*
 * Error codes, their names and descriptions, and the per-thread last error.
 *
 * The last error is the only state locket keeps outside the handles. It is
 * thread-local so that two threads failing at once never see each other's
 * detail, and it is a fixed buffer so that reporting an error never
 * allocates (an out-of-memory failure must still be reportable).
 */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#if defined(_MSC_VER)
#define LOCKET__THREAD_LOCAL __declspec(thread)
#else
#define LOCKET__THREAD_LOCAL _Thread_local
#endif

typedef struct last_error {
	int code;
	int os_error;
	char message[512];
} last_error;

static LOCKET__THREAD_LOCAL last_error tls_error;

static const struct {
	const char *name;
	const char *text;
} error_table[] = {
	/* indexed by -code */
	{ "ok", "success" },
	{ "would_block", "the lock is held elsewhere" },
	{ "timeout", "timed out waiting for the lock" },
	{ "not_held", "cannot release unlocked lock" },
	{ "interrupted", "interrupted by a signal while waiting for the lock" },
	{ "invalid_argument", "invalid argument" },
	{ "not_found", "no such file or directory" },
	{ "permission_denied", "permission denied" },
	{ "is_a_directory", "is a directory" },
	{ "not_supported", "locking is not supported for this file" },
	{ "out_of_memory", "out of memory" },
	{ "io_error", "input/output error" },
};

const char *locket_error_name(int code)
{
	if (code > 0 || code < LOCKET_ERROR_MIN)
		return "unknown";
	return error_table[-code].name;
}

const char *locket_strerror(int code)
{
	if (code > 0 || code < LOCKET_ERROR_MIN)
		return "unknown error";
	return error_table[-code].text;
}

int locket_last_error_code(void)
{
	return tls_error.code;
}

int locket_last_os_error(void)
{
	return tls_error.os_error;
}

const char *locket_last_error_message(void)
{
	return tls_error.message;
}

int locket__fail(int code, const char *fmt, ...)
{
	va_list ap;
	tls_error.code = code;
	tls_error.os_error = 0;
	va_start(ap, fmt);
	vsnprintf(tls_error.message, sizeof tls_error.message, fmt, ap);
	va_end(ap);
	return code;
}

int locket__fail_os(int os_error, const char *what, const char *path)
{
	char reason[256];
	int code = locket__os_translate(os_error);
	locket__os_strerror(os_error, reason, sizeof reason);
	if (path != NULL)
		locket__fail(code, "%s '%s': %s", what, path, reason);
	else
		locket__fail(code, "%s: %s", what, reason);
	tls_error.os_error = os_error;
	return code;
}

void locket_options_init(locket_options *opts)
{
	static const locket_options defaults = LOCKET_OPTIONS_INIT;
	if (opts != NULL)
		*opts = defaults;
}

const char *locket_version(void)
{
	return LOCKET_VERSION_STRING;
}

int locket_version_number(void)
{
	return LOCKET_VERSION_NUMBER;
}
