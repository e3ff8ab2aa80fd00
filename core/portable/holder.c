/*
 * Who holds the lock, with POSIX calls only: fcntl(F_GETLK) names a
 * process that holds a conflicting lock, where the OS lets it see the lock.
 *
 * - macOS and the BSDs: flock() and fcntl() locks are one mechanism, so
 *   F_GETLK sees a flock() holder; but a flock() lock belongs to an open
 *   file, not to a process, and they report no pid for it (-1): then
 *   locket reports LOCKET_ENOTSUP ("held, by a process the OS does not
 *   name"). A free file reports 0; a POSIX record lock, its owner's pid.
 * - Linux (the portable engine built there for its tests): F_GETLK does not
 *   see flock() locks at all, so it cannot tell a free file from a held
 *   one: LOCKET_ENOTSUP. The Linux engine reads /proc/locks instead.
 *
 * The probe opens the file and closes it again; on a close, POSIX drops
 * every fcntl() record lock that the calling process holds on the file
 * (locket takes none; an application that also takes fcntl() locks on its
 * lock file would lose them).
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int locket__os_holder_pid(const char *path, const locket__span *span, int64_t *out_pid)
{
	const int ofd = span != NULL && span->kind == LOCKET_KIND_OFD;
	struct stat st;
	*out_pid = 0;
	if (stat(path, &st) != 0)
		return locket__fail_os(errno, "cannot stat lock file", path);
#if defined(__linux__)
	/* F_GETLK does not see flock() locks on Linux; it sees record locks,
	 * OFD ones included. */
	if (!ofd)
		return locket__fail(LOCKET_ENOTSUP,
				    "cannot tell who holds '%s': the portable engine asks F_GETLK, "
				    "which does not see flock() locks on Linux",
				    path);
#endif
	{
		struct flock fl;
		int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK), err;
		if (fd < 0 && errno == EACCES)
			fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
		if (fd < 0)
			return locket__fail_os(errno, "cannot open lock file", path);
		memset(&fl, 0, sizeof fl);
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		if (ofd) { /* the handle's range: record locks on overlapping bytes */
			fl.l_start = (off_t)span->start;
			fl.l_len = (off_t)span->length;
		}
		err = fcntl(fd, F_GETLK, &fl) == 0 ? 0 : errno;
		close(fd);
		if (err != 0)
			return locket__fail_os(err, "cannot ask who holds lock file", path);
		if (fl.l_type == F_UNLCK)
			return LOCKET_OK;
		if (fl.l_pid > 0) {
			*out_pid = (int64_t)fl.l_pid;
			return LOCKET_OK;
		}
		if (ofd) {
			*out_pid = -1; /* an OFD holder: held, by no process the OS names */
			return LOCKET_OK;
		}
		return locket__fail(LOCKET_ENOTSUP,
				    "'%s' is held, but the OS does not say by which process", path);
	}
}
