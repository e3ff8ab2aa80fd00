/*
 * Which filesystem a descriptor is on, for core/scope.c's table, on POSIX
 * systems other than Linux (Linux reads its mount table: core/linux/mounts.c).
 * macOS and FreeBSD name the filesystem in statfs's f_fstypename and say
 * whether it is local (MNT_LOCAL); elsewhere locket cannot tell, and the
 * table answers "unknown".
 */
#if !defined(__linux__)
#include "internal.h"
#include "posix/posix.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#if defined(__APPLE__) || defined(__FreeBSD__)
#include <sys/mount.h>
#include <sys/param.h>

int locket__os_fs_of_fd(locket__fd fd, const char *path, locket__fs *out)
{
	struct statfs s;
	if (fstatfs((int)fd, &s) != 0)
		return locket__fail_os(errno, "cannot statfs lock file", path);
	out->os = LOCKET__FS_STATFS;
	out->local = (s.f_flags & MNT_LOCAL) != 0;
	snprintf(out->type, sizeof out->type, "%s", s.f_fstypename);
	locket__posix_printable(out->where, sizeof out->where, s.f_mntonname);
	return LOCKET_OK;
}
#else
int locket__os_fs_of_fd(locket__fd fd, const char *path, locket__fs *out)
{
	(void)fd;
	(void)path;
	out->os = LOCKET__FS_NONE;
	return LOCKET_OK;
}
#endif

int locket__os_fs_of_path(const char *path, locket__fs *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;
	if (fd < 0 && (errno == ENOENT || errno == EACCES)) {
		/* Its directory (the target's, for a dangling symlink). */
		char dir[PATH_MAX];
		locket__posix_lock_dir(path, dir, sizeof dir);
		fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (fd < 0)
		return locket__fail_os(errno, "cannot open", path);
	rc = locket__os_fs_of_fd((locket__fd)fd, path, out);
	close(fd);
	return rc;
}
#else
/* ISO C wants a translation unit to declare something. */
typedef int locket__posix_scope_unused;
#endif
