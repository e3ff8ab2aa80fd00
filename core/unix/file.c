/*
 * Opening the lock file, and turning errno into locket's codes.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int locket__os_translate(int err)
{
	switch (err) {
	case 0:
		return LOCKET_OK;
	case ENOENT:
	case ENOTDIR:
		return LOCKET_ENOENT;
	case EACCES:
	case EPERM:
	case EROFS:
		return LOCKET_EACCES;
	case EISDIR:
		return LOCKET_EISDIR;
	case ENOLCK:
	case EOPNOTSUPP:
#if defined(ENOTSUP) && ENOTSUP != EOPNOTSUPP
	case ENOTSUP:
#endif
		return LOCKET_ENOTSUP;
	case ENAMETOOLONG:
	case ELOOP:
	case EINVAL:
		return LOCKET_EINVAL;
	case ENOMEM:
		return LOCKET_ENOMEM;
	case EINTR:
		return LOCKET_EINTR;
	case EWOULDBLOCK:
		return LOCKET_EWOULDBLOCK;
	default:
		return LOCKET_EIO;
	}
}

void locket__os_strerror(int err, char *buf, size_t size)
{
	/* GNU strerror_r may return a static string instead of filling buf. */
	const char *text = strerror_r(err, buf, size);
	if (text != buf) {
		strncpy(buf, text, size - 1);
		buf[size - 1] = '\0';
	}
}

int locket__os_abspath(const char *path, char **out)
{
	size_t len = strlen(path), cwd_len;
	char cwd[PATH_MAX];
	char *abs;

	*out = NULL;
	if (len >= PATH_MAX)
		return locket__fail(LOCKET_EINVAL, "lock file path is too long (%zu bytes; the limit is %d)",
				    len, PATH_MAX - 1);
	if (path[0] == '/') {
		abs = strdup(path);
		if (abs == NULL)
			return locket__fail(LOCKET_ENOMEM, "out of memory");
		*out = abs;
		return LOCKET_OK;
	}
	/* A relative path is fixed now: a later chdir() must not move the lock. */
	if (getcwd(cwd, sizeof cwd) == NULL)
		return locket__fail_os(errno, "cannot resolve the relative path", path);
	cwd_len = strlen(cwd);
	if (cwd_len + 1 + len >= PATH_MAX)
		return locket__fail(LOCKET_EINVAL, "lock file path is too long once made absolute");
	abs = (char *)malloc(cwd_len + 1 + len + 1);
	if (abs == NULL)
		return locket__fail(LOCKET_ENOMEM, "out of memory");
	memcpy(abs, cwd, cwd_len);
	abs[cwd_len] = '/';
	memcpy(abs + cwd_len + 1, path, len + 1);
	*out = abs;
	return LOCKET_OK;
}

/*
 * Open an existing file first, without O_CREAT: in a sticky directory such
 * as /tmp, open(O_CREAT) of another user's existing file fails under
 * fs.protected_regular even though plain open() works. Create only when the
 * file is missing, with O_EXCL so that a racing creator makes us reopen
 * rather than share a half-made file. Never O_TRUNC: the lock file may be a
 * data file that the user cares about. Read-write where allowed, read-only
 * otherwise: flock() takes exclusive locks on either.
 */
int locket__os_open(const char *path, const locket_options *opts, locket__fd *out)
{
	const int base = O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
	struct stat st;
	int fd;

	*out = LOCKET__NO_FD;
	for (;;) {
		fd = open(path, O_RDWR | base);
		if (fd < 0 && (errno == EACCES || errno == EROFS || errno == EPERM)) {
			/* A directory opens read-only (read-write fails with EISDIR). */
			fd = open(path, O_RDONLY | base);
			if (fd >= 0 && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
				close(fd);
				return locket__fail_os(EISDIR, "cannot use a directory as a lock file", path);
			}
		}
		if (fd >= 0 || errno != ENOENT || (opts->flags & LOCKET_NO_CREATE))
			break;
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | base, (mode_t)opts->file_mode);
		if (fd >= 0 || errno != EEXIST)
			break;
	}
	if (fd < 0) {
		int err = errno;
		if (err == ENOENT && (opts->flags & LOCKET_NO_CREATE))
			return locket__fail_os(err, "lock file does not exist", path);
		return locket__fail_os(err, "cannot open lock file", path);
	}
	*out = (locket__fd)fd;
	return LOCKET_OK;
}

void locket__os_close(locket__fd fd)
{
	/* Linux closes the descriptor even when close() reports EINTR: never retry. */
	close((int)fd);
}

int locket__os_same_file(locket__fd fd, const char *path)
{
	struct stat held, named;
	if (fstat((int)fd, &held) != 0)
		return locket__fail_os(errno, "cannot stat lock file", path);
	if (stat(path, &named) != 0) {
		int err = errno;
		if (err == ENOENT || err == ENOTDIR)
			return locket__fail_os(err, "lock file was removed while waiting for it", path);
		return locket__fail_os(err, "cannot stat lock file", path);
	}
	return held.st_dev == named.st_dev && held.st_ino == named.st_ino;
}
