/*
 * Who holds the lock: /proc/locks lists every lock by device and inode with
 * the pid that took it ("1: FLOCK  ADVISORY  WRITE 4242 08:01:1234 0 EOF",
 * "2: POSIX  ADVISORY  READ 4243 08:01:1234 100 199"); lines with "->" are
 * waiters, not holders. An OFD lock ("OFDLCK") shows pid -1: it belongs to
 * an open file description, which any number of processes may share (the
 * kernel's F_OFD_GETLK says -1 as well).
 */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

/* Does the line's range [lo, hi] (hi "EOF": to the end) overlap span's? */
static int overlaps(const char *lo_s, const char *hi_s, const locket__span *span)
{
	unsigned long long lo, hi;
	uint64_t start = (uint64_t)span->start;
	if (sscanf(lo_s, "%llu", &lo) != 1)
		return 0;
	if (strcmp(hi_s, "EOF") == 0)
		hi = UINT64_MAX;
	else if (sscanf(hi_s, "%llu", &hi) != 1)
		return 0;
	if (hi < start)
		return 0;
	return span->length == 0 || lo < start + (uint64_t)span->length;
}

int locket__os_holder_pid(const char *path, const locket__span *span, int64_t *out_pid)
{
	const int ofd = span != NULL && span->kind == LOCKET_KIND_OFD;
	struct stat st;
	char line[256];
	FILE *f;

	*out_pid = 0;
	if (stat(path, &st) != 0)
		return locket__fail_os(errno, "cannot stat lock file", path);
	f = fopen("/proc/locks", "re");
	if (f == NULL)
		return locket__fail(LOCKET_ENOTSUP, "cannot tell who holds '%s': /proc/locks: %s",
				    path, strerror(errno));
	while (fgets(line, sizeof line, f) != NULL) {
		char type[16], mode[16], lo[32], hi[32];
		long long pid;
		unsigned int maj, min;
		unsigned long long ino;
		if (strstr(line, "->") != NULL)
			continue;
		if (sscanf(line, "%*d: %15s %*s %15s %lld %x:%x:%llu %31s %31s", type, mode, &pid,
			   &maj, &min, &ino, lo, hi) != 8)
			continue;
		if (maj != major(st.st_dev) || min != minor(st.st_dev) ||
		    ino != (unsigned long long)st.st_ino)
			continue;
		if (!ofd) {
			if (strcmp(type, "FLOCK") != 0 || pid <= 0)
				continue;
			*out_pid = (int64_t)pid;
			break;
		}
		/* OFD: record locks (POSIX or OFD) on bytes that overlap ours; a
		 * POSIX holder's pid wins over an OFD holder's -1. */
		if ((strcmp(type, "POSIX") != 0 && strcmp(type, "OFDLCK") != 0) ||
		    !overlaps(lo, hi, span))
			continue;
		if (pid > 0) {
			*out_pid = (int64_t)pid;
			break;
		}
		*out_pid = -1;
	}
	fclose(f);
	return LOCKET_OK;
}
