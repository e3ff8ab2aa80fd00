/*
 * Who holds the lock: /proc/locks lists every flock lock by device and
 * inode with the pid that took it ("1: FLOCK  ADVISORY  WRITE 4242
 * 08:01:1234 0 EOF"); lines with "->" are waiters, not holders.
 */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

int locket__os_holder_pid(const char *path, int64_t *out_pid)
{
	struct stat st;
	char line[256];
	FILE *f;

	*out_pid = 0;
	if (stat(path, &st) != 0)
		return locket__fail_os(errno, "cannot stat lock file", path);
	f = fopen("/proc/locks", "re");
	if (f == NULL)
		return locket__fail(LOCKET_ENOTSUP, "cannot tell who holds '%s': /proc/locks: %s", path,
				    strerror(errno));
	while (fgets(line, sizeof line, f) != NULL) {
		char type[16], mode[16];
		long long pid;
		unsigned int maj, min;
		unsigned long long ino;
		if (strstr(line, "->") != NULL)
			continue;
		if (sscanf(line, "%*d: %15s %*s %15s %lld %x:%x:%llu", type, mode, &pid, &maj, &min,
			   &ino) != 6)
			continue;
		if (strcmp(type, "FLOCK") != 0 || pid <= 0)
			continue;
		if (maj == major(st.st_dev) && min == minor(st.st_dev) && ino == (unsigned long long)st.st_ino) {
			*out_pid = (int64_t)pid;
			break;
		}
	}
	fclose(f);
	return LOCKET_OK;
}
