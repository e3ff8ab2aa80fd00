/*
 * Error codes, their names and descriptions, and the per-thread last error.
 *
 * The names and texts come from the one table of the codes
 * (include/locket_errors.h). The last error is thread-local so that two
 * threads failing at once never see each other's detail, and it is a fixed
 * buffer so that reporting an error never allocates (an out-of-memory
 * failure must still be reportable).
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
/* indexed by -code: the map lists the codes from 0 down */
#define ERROR_ENTRY(suffix, value, name, text) { name, text },
	LOCKET_ERROR_MAP(ERROR_ENTRY)
#undef ERROR_ENTRY
};

#define COUNT_ONE(suffix, value, name, text) +1
_Static_assert(sizeof error_table / sizeof error_table[0] == 0 LOCKET_ERROR_MAP(COUNT_ONE),
	       "one entry per code");
#define CHECK_ORDER(suffix, value, name, text)                  \
	_Static_assert(value <= 0 && value >= LOCKET_ERROR_MIN, \
		       "codes run from 0 down to the minimum");
LOCKET_ERROR_MAP(CHECK_ORDER)
#undef CHECK_ORDER
#undef COUNT_ONE

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

/* Length of the well-formed UTF-8 character at s, or 0 if none starts there. */
static size_t utf8_char(const unsigned char *s)
{
	unsigned long cp, min;
	size_t n, i;
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1fu;
		min = 0x80;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0fu;
		min = 0x800;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07u;
		min = 0x10000;
	} else {
		return 0;
	}
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80) /* also stops at the terminator */
			return 0;
		cp = cp << 6 | (s[i] & 0x3fu);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

int locket__fail(int code, const char *fmt, ...)
{
	char raw[sizeof tls_error.message];
	const unsigned char *s = (const unsigned char *)raw;
	size_t len = 0, n;
	va_list ap;
	tls_error.code = code;
	tls_error.os_error = 0;
	va_start(ap, fmt);
	vsnprintf(raw, sizeof raw, fmt, ap);
	va_end(ap);
	/* Messages are UTF-8 for every binding: a byte that is not (a path that
	 * is not UTF-8, a character cut by the truncation) becomes \xHH. */
	for (; *s != '\0'; s += n ? n : 1) {
		n = utf8_char(s);
		if (len + (n ? n : 4) >= sizeof tls_error.message)
			break;
		if (n)
			memcpy(tls_error.message + len, s, n);
		else
			snprintf(tls_error.message + len, 5, "\\x%02x", *s);
		len += n ? n : 4;
	}
	tls_error.message[len] = '\0';
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

void locket__fail_restore(int code, int os_error, const char *message)
{
	locket__fail(code, "%s", message);
	tls_error.os_error = os_error;
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
