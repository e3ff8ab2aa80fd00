/*
 * Opening the lock file, and turning errno into locket's codes.
 */
#include "posix/posix.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
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
	case ENOSYS: /* flock on Lustre mounted with noflock */
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
#ifdef __GLIBC__
	/* GNU strerror_r may return a static string instead of filling buf. */
	const char *text = strerror_r(err, buf, size);
	if (text != buf) {
		strncpy(buf, text, size - 1);
		buf[size - 1] = '\0';
	}
#else
	/* musl (the musllinux wheels): only the XSI strerror_r, returning int. */
	if (strerror_r(err, buf, size) != 0)
		snprintf(buf, size, "error %d", err);
#endif
}

int locket__os_abspath(const char *path, char **out)
{
	size_t len = strlen(path), cwd_len;
	char cwd[PATH_MAX];
	char *abs;

	*out = NULL;
	if (len >= PATH_MAX)
		return locket__fail(LOCKET_EINVAL,
				    "lock file path is too long (%zu bytes; the limit is %d)", len,
				    PATH_MAX - 1);
	if (path[0] == '/') {
		abs = strdup(path);
		if (abs == NULL)
			return locket__fail(LOCKET_ENOMEM, "out of memory");
		*out = abs;
		return LOCKET_OK;
	}
	/* A relative path is fixed now: a later chdir() must not move the lock. */
	if (getcwd(cwd, sizeof cwd) == NULL) {
		int err = errno;
		/* The kernel cannot name a working directory deeper than PATH_MAX,
		 * and no absolute path that long could be opened either. */
		if (err == ERANGE || err == ENAMETOOLONG)
			return locket__fail(
				LOCKET_EINVAL,
				"cannot resolve the relative path '%s': the working directory "
				"is deeper than PATH_MAX (%d bytes); use a shorter absolute path",
				path, PATH_MAX);
		return locket__fail_os(err, "cannot resolve the relative path", path);
	}
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
 * data file that the user cares about.
 *
 * Read-only, as flock(1) opens: flock() takes exclusive locks on any
 * descriptor, and a write open fails on a running executable (ETXTBSY: the
 * "one instance of this program" idiom locks the program itself), copies an
 * overlayfs lower-layer file up, and breaks read leases. Write-only when
 * the file may be written but not read. Read-write only when asked
 * (LOCKET__OPEN_WRITE), for NFS, whose flock emulation wants it.
 *
 * O_NONBLOCK keeps the open from sleeping on a lease (EWOULDBLOCK: the
 * caller waits the lease out) or a FIFO.
 *
 * The loop is bounded: the file can keep appearing and disappearing under
 * us only so many times before that is an error of its own.
 */
#define OPEN_TRIES 64

int locket__os_open(const char *path, const locket_options *opts, locket__fd *out)
{
	const int base = O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
	const int mode = (opts->flags & LOCKET__OPEN_WRITE) ? O_RDWR : O_RDONLY;
	struct stat st;
	int fd = -1, tries, err;

	*out = LOCKET__NO_FD;
	for (tries = 0; tries < OPEN_TRIES; tries++) {
		fd = open(path, mode | base);
		if (fd < 0 && errno == EACCES)
			fd = open(path, O_WRONLY | base);
		if (fd >= 0 || errno != ENOENT || (opts->flags & LOCKET_NO_CREATE))
			break;
		fd = open(path, mode | O_CREAT | O_EXCL | base, (mode_t)opts->file_mode);
		if (fd >= 0 || errno != EEXIST)
			break;
		/* EEXIST after ENOENT: a racing creator (open again), or a dangling
		 * symlink, which O_EXCL never follows. Like flock(1), create the
		 * file the link points to. */
		if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
			fd = open(path, mode | O_CREAT | base, (mode_t)opts->file_mode);
			if (fd < 0 && errno == ENOENT)
				return locket__fail(
					LOCKET_ENOENT,
					"cannot create lock file '%s': it is a symlink to a "
					"file in a directory that does not exist",
					path);
			if (fd >= 0 || errno != ENOENT)
				break;
		}
	}
	if (fd < 0 && tries == OPEN_TRIES)
		return locket__fail(LOCKET_EIO,
				    "cannot open lock file '%s': it keeps appearing and "
				    "disappearing",
				    path);
	if (fd < 0) {
		err = errno;
		if (err == ENOENT && (opts->flags & LOCKET_NO_CREATE))
			return locket__fail_os(err, "lock file does not exist", path);
		if (err == EWOULDBLOCK)
			return locket__fail(
				LOCKET_EWOULDBLOCK,
				"'%s' is leased by another program (opening it would block)", path);
		return locket__fail_os(err, "cannot open lock file", path);
	}
	/* A directory opens read-only: locket__os_same_file() refuses it. */
	*out = (locket__fd)fd;
	return LOCKET_OK;
}

int locket__os_lock_needs_write(int os_error)
{
	return os_error == EBADF || os_error == EIO;
}

void locket__os_close(locket__fd fd)
{
	/* Linux closes the descriptor even when close() reports EINTR: never retry. */
	close((int)fd);
}

int locket__os_make_inheritable(locket__fd fd)
{
	int flags = fcntl((int)fd, F_GETFD);
	if (flags < 0 || fcntl((int)fd, F_SETFD, flags & ~FD_CLOEXEC) != 0)
		return locket__fail_os(errno, "cannot make the lock descriptor inheritable", NULL);
	return LOCKET_OK;
}

int locket__os_same_file(locket__fd fd, const char *path, int allow_dir, locket__key *key)
{
	struct stat held, named;
	*key = 0;
	if (fstat((int)fd, &held) != 0)
		return locket__fail_os(errno, "cannot stat lock file", path);
	if (S_ISDIR(held.st_mode) && !allow_dir)
		return locket__fail_os(EISDIR, "cannot use a directory as a lock file", path);
	if (stat(path, &named) != 0) {
		int err = errno;
		if (err == ENOENT || err == ENOTDIR)
			return locket__fail_os(err, "lock file was removed while waiting for it",
					       path);
		return locket__fail_os(err, "cannot stat lock file", path);
	}
	*key = locket__file_key(held.st_dev, held.st_ino);
	return held.st_dev == named.st_dev && held.st_ino == named.st_ino;
}

locket__key locket__file_key(dev_t dev, ino_t ino)
{
	uint64_t h = ((uint64_t)dev * 0x9E3779B97F4A7C15ull) ^ (uint64_t)ino;
	h ^= h >> 29;
	h *= 0xBF58476D1CE4E5B9ull;
	h ^= h >> 32;
	return h == 0 ? 1 : h;
}

int locket__os_fd_is_plausible(intptr_t fd)
{
	return fd >= 0 && fd <= INT_MAX;
}

static int is_ofd(const locket__span *span)
{
	return span != NULL && span->kind == LOCKET_KIND_OFD;
}

#ifdef F_OFD_SETLK
/* fcntl F_OFD_SETLK(W) of type on span; the result of fcntl. */
static int ofd_lock(int fd, int cmd, short type, const locket__span *span)
{
	struct flock fl;
	memset(&fl, 0, sizeof fl);
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	fl.l_start = (off_t)span->start;
	fl.l_len = (off_t)span->length;
	return fcntl(fd, cmd, &fl);
}
#endif

static int no_ofd(const char *path)
{
	return locket__fail(LOCKET_ENOTSUP,
			    "cannot lock '%s': this system has no OFD locks (fcntl F_OFD_SETLK)",
			    path != NULL ? path : "lock file");
}

/* An OFD lock call failed with err: the recorded error. EINVAL on a range
 * that locket__span_check accepted means the kernel has no such command
 * (before Linux 3.15): not supported, and never a process-owned F_SETLK. */
static int ofd_failed(int err, const char *what, const char *path)
{
	if (err == EINVAL)
		return no_ofd(path);
	if (err == EBADF)
		return locket__fail_os(err,
				       "an exclusive OFD lock needs a descriptor open for writing, "
				       "a shared one for reading: cannot lock",
				       path);
	return locket__fail_os(err, what, path);
}

int locket__posix_try(int fd, int op, const locket__span *span, const char *path)
{
	if (is_ofd(span)) {
#ifdef F_OFD_SETLK
		if (ofd_lock(fd, F_OFD_SETLK, op == LOCK_SH ? F_RDLCK : F_WRLCK, span) == 0)
			return LOCKET_OK;
		if (errno == EAGAIN || errno == EACCES)
			return LOCKET_EWOULDBLOCK;
		return ofd_failed(errno, "cannot lock", path);
#else
		return no_ofd(path);
#endif
	}
	if (flock(fd, op | LOCK_NB) == 0)
		return LOCKET_OK;
	if (errno == EWOULDBLOCK)
		return LOCKET_EWOULDBLOCK;
	return locket__fail_os(errno, "cannot lock", path);
}

/* Both engines: try once; a try (deadline 0) ends there; an untimed,
 * uninterruptible wait blocks in the kernel, the fastest hand-off there is;
 * any other wait is the engine's (locket__engine_wait). */
int locket__os_lock(locket__fd lfd, const char *path, int shared, const locket__span *span,
		    locket__wait *how, locket__waiter **waiter)
{
	const int fd = (int)lfd, op = shared ? LOCK_SH : LOCK_EX;
	int rc = locket__posix_try(fd, op, span, path);

	(void)waiter; /* neither engine keeps per-handle state */
	if (rc != LOCKET_EWOULDBLOCK)
		return rc;
	if (how->deadline == 0)
		return locket__fail(LOCKET_EWOULDBLOCK, "'%s' is locked by another holder", path);
	if (how->deadline == LOCKET__FOREVER && !how->interruptible)
		return locket__posix_lock_blocking(fd, op, span, path);
	return locket__engine_wait(fd, path, op, span, how);
}

int locket__posix_lock_blocking(int fd, int op, const locket__span *span, const char *path)
{
	if (is_ofd(span)) {
#ifdef F_OFD_SETLKW
		while (ofd_lock(fd, F_OFD_SETLKW, op == LOCK_SH ? F_RDLCK : F_WRLCK, span) != 0)
			if (errno != EINTR)
				return ofd_failed(errno, "cannot lock", path);
		return LOCKET_OK;
#else
		return no_ofd(path);
#endif
	}
	while (flock(fd, op) != 0)
		if (errno != EINTR)
			return locket__fail_os(errno, "cannot lock", path);
	return LOCKET_OK;
}

int locket__posix_unlock(int fd, const locket__span *span)
{
	if (is_ofd(span)) {
#ifdef F_OFD_SETLK
		if (ofd_lock(fd, F_OFD_SETLK, F_UNLCK, span) != 0)
			return ofd_failed(errno, "cannot unlock", NULL);
		return LOCKET_OK;
#else
		return no_ofd(NULL);
#endif
	}
	if (flock(fd, LOCK_UN) != 0)
		return locket__fail_os(errno, "cannot unlock lock file", NULL);
	return LOCKET_OK;
}

/* The POSIX-lock trap (docs/design.md): closing any descriptor of a file
 * drops the process's POSIX record locks on it, but not an O_PATH one
 * (Linux skips the locks of a path-only file at close). So an existing
 * lock file is checked through O_PATH; a missing or unreadable one, or any
 * doubt, is left to the ordinary probe. */
int locket__os_probe(const char *path, const locket_options *opts)
{
#ifdef O_PATH
	struct stat st;
	int fd = open(path, O_PATH | O_CLOEXEC), ok;
	if (fd < 0)
		return 0;
	ok = fstat(fd, &st) == 0 &&
	     (S_ISREG(st.st_mode) ||
	      (S_ISDIR(st.st_mode) && (opts->flags & LOCKET_ALLOW_DIRECTORY))) &&
	     faccessat(AT_FDCWD, path, R_OK, AT_EACCESS) == 0;
	close(fd);
	return ok;
#else
	(void)path;
	(void)opts;
	return 0;
#endif
}

/* Follow path's symlinks (at most MAXSYMLINKS' usual 40) to the name the
 * lock file has or would have, then take its directory. */
void locket__posix_lock_dir(const char *path, char *dir, size_t size)
{
	char cur[PATH_MAX], target[PATH_MAX], joined[2 * PATH_MAX];
	struct stat st;
	char *slash;
	int hops;
	snprintf(cur, sizeof cur, "%s", path);
	for (hops = 0; hops < 40 && lstat(cur, &st) == 0 && S_ISLNK(st.st_mode); hops++) {
		ssize_t n = readlink(cur, target, sizeof target - 1);
		if (n < 0)
			break;
		target[n] = '\0';
		slash = strrchr(cur, '/');
		if (target[0] == '/' || slash == NULL) {
			snprintf(cur, sizeof cur, "%s", target);
		} else {
			slash[1] = '\0'; /* a relative link is relative to its own directory */
			snprintf(joined, sizeof joined, "%s%s", cur, target);
			if (strlen(joined) >= sizeof cur)
				break;
			memcpy(cur, joined, strlen(joined) + 1);
		}
	}
	slash = strrchr(cur, '/');
	if (slash == NULL)
		snprintf(dir, size, ".");
	else if (slash == cur)
		snprintf(dir, size, "/");
	else {
		*slash = '\0';
		snprintf(dir, size, "%s", cur);
	}
}

void locket__posix_printable(char *dst, size_t size, const char *src)
{
	size_t n = 0;
	if (size == 0)
		return;
	for (; *src != '\0'; src++) {
		unsigned char c = (unsigned char)*src;
		if (c < 0x20 || c == 0x7f) {
			if (n + 4 >= size)
				break;
			snprintf(dst + n, size - n, "\\%03o", c);
			n += 4;
		} else {
			if (n + 1 >= size)
				break;
			dst[n++] = (char)c;
		}
	}
	dst[n] = '\0';
}
