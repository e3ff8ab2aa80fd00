/*
 * Windows has no public way to name the process that holds a byte-range
 * lock (the Restart Manager reports processes with the file open, not the
 * lock holder), so locket_holder_pid() reports LOCKET_ENOTSUP.
 */
#include "win.h"

int locket__os_holder_pid(const char *path, const locket__span *span, int64_t *out_pid)
{
	(void)span;
	*out_pid = 0;
	return locket__fail(LOCKET_ENOTSUP, "cannot tell which process holds '%s' on Windows",
			    path);
}
