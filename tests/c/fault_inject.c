/*
 * LD_PRELOAD fault injection for the C tests: makes flock() fail the way
 * filesystems and signals make it fail, without needing such a filesystem.
 *   LOCKET_FAULT=enolck      every flock() fails with ENOLCK (NFS lock manager down)
 *   LOCKET_FAULT=enosys      every flock() fails with ENOSYS (Lustre mounted with noflock)
 *   LOCKET_FAULT=ebadf_rdonly  an exclusive flock() on a read-only descriptor fails
 *                            with EBADF (Linux NFS emulates flock with byte-range locks)
 *   LOCKET_FAULT=rename_before_try  before the first non-blocking flock(), rename
 *                            $LOCKET_FAULT_FROM to $LOCKET_FAULT_TO (a path that changes
 *                            between a locker's open and its first try)
 *   LOCKET_FAULT=eintr:N     the first N blocking flock() calls fail with EINTR;
 *                            then, if LOCKET_FAULT_NOTIFY_FD is set, a byte is
 *                            written to that descriptor (the test's cue)
 *   LOCKET_FAULT=hang_open   the first open() of $LOCKET_FAULT_FROM hangs (a dead NFS
 *                            or FUSE server): it writes a byte to $LOCKET_FAULT_NOTIFY_FD,
 *                            then waits for a byte on $LOCKET_FAULT_RELEASE_FD
 *   LOCKET_FAULT=hang_after_open  the same, after the real open() succeeded (a
 *                            descriptor that exists, not yet returned to locket)
 *   LOCKET_FAULT=ofd_einval  fcntl(F_OFD_*) fails with EINVAL (a kernel before 3.15), and
 *                            a process-owned fcntl(F_SETLK/F_SETLKW) aborts the process:
 *                            locket must never fall back to one
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

__attribute__((visibility("default"))) int flock(int fd, int op);
__attribute__((visibility("default"))) int open(const char *path, int flags, ...);
__attribute__((visibility("default"))) int fcntl(int fd, int cmd, ...);
__attribute__((visibility("default"))) int fcntl64(int fd, int cmd, ...);

static int fake_fcntl(const char *name, int fd, int cmd, void *arg)
{
	static int (*real[2])(int, int, ...);
	const int i = name[5] == '6';
	const char *fault = getenv("LOCKET_FAULT");
	if (fault != NULL && strcmp(fault, "ofd_einval") == 0) {
#ifdef F_OFD_SETLK
		if (cmd == F_OFD_SETLK || cmd == F_OFD_SETLKW || cmd == F_OFD_GETLK) {
			errno = EINVAL;
			return -1;
		}
#endif
		if (cmd == F_SETLK || cmd == F_SETLKW)
			abort(); /* a fall-back to a process-owned lock */
	}
	if (real[i] == NULL)
		real[i] = (int (*)(int, int, ...))dlsym(RTLD_NEXT, name);
	return real[i](fd, cmd, arg);
}

int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;
	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	return fake_fcntl("fcntl", fd, cmd, arg);
}

int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;
	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	return fake_fcntl("fcntl64", fd, cmd, arg);
}

/* The hang of hang_open / hang_after_open: tell the test, wait for its word. */
static void hang(void)
{
	const char *notify = getenv("LOCKET_FAULT_NOTIFY_FD"),
		   *release = getenv("LOCKET_FAULT_RELEASE_FD");
	char c;
	if (notify == NULL || release == NULL || write(atoi(notify), "!", 1) != 1 ||
	    read(atoi(release), &c, 1) != 1)
		abort();
}

int open(const char *path, int flags, ...)
{
	static int (*real_open)(const char *, int, ...);
	static int hung;
	const char *fault = getenv("LOCKET_FAULT"), *from = getenv("LOCKET_FAULT_FROM");
	mode_t mode = 0;
	int matches, fd, err;
	if (flags & (O_CREAT | O_TMPFILE)) {
		va_list ap;
		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	if (real_open == NULL)
		real_open = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open");
	matches = fault != NULL && from != NULL && strcmp(path, from) == 0 && !hung;
	if (matches && strcmp(fault, "hang_open") == 0) {
		hung = 1;
		hang();
	}
	fd = real_open(path, flags, mode);
	err = errno;
	if (matches && strcmp(fault, "hang_after_open") == 0 && fd >= 0) {
		hung = 1;
		hang();
	}
	errno = err;
	return fd;
}

int flock(int fd, int op)
{
	static int (*real_flock)(int, int);
	static int eintr_left = -1;
	const char *fault = getenv("LOCKET_FAULT");
	if (real_flock == NULL)
		real_flock = (int (*)(int, int))dlsym(RTLD_NEXT, "flock");
	if (fault != NULL && strcmp(fault, "enolck") == 0 && !(op & LOCK_UN)) {
		errno = ENOLCK;
		return -1;
	}
	if (fault != NULL && strcmp(fault, "enosys") == 0 && !(op & LOCK_UN)) {
		errno = ENOSYS;
		return -1;
	}
	if (fault != NULL && strcmp(fault, "ebadf_rdonly") == 0 && (op & LOCK_EX) &&
	    (fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDONLY) {
		errno = EBADF;
		return -1;
	}
	if (fault != NULL && strcmp(fault, "rename_before_try") == 0 && (op & LOCK_NB)) {
		static int renamed;
		const char *from = getenv("LOCKET_FAULT_FROM"), *to = getenv("LOCKET_FAULT_TO");
		if (from != NULL && to != NULL && !renamed++)
			(void)rename(
				from,
				to); /* once per process; later processes find nothing to rename */
	}
	if (fault != NULL && strncmp(fault, "eintr:", 6) == 0 && !(op & (LOCK_NB | LOCK_UN))) {
		if (eintr_left < 0)
			eintr_left = atoi(fault + 6);
		if (eintr_left > 0) {
			const char *notify = getenv("LOCKET_FAULT_NOTIFY_FD");
			if (--eintr_left == 0 && notify != NULL && write(atoi(notify), "!", 1) != 1)
				abort();
			errno = EINTR;
			return -1;
		}
	}
	return real_flock(fd, op);
}
