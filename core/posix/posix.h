/*
 * What the POSIX layer (core/posix/) offers the engine beside core/internal.h.
 */
#ifndef LOCKET_POSIX_H
#define LOCKET_POSIX_H

#include "internal.h"

#include <stddef.h>
#include <sys/types.h>

/* A file's key for the wait engine, from its device and inode; never 0. */
locket__key locket__file_key(dev_t dev, ino_t ino);

/* One non-blocking try of span's lock (NULL: the default): flock(), or an
 * OFD lock (fcntl F_OFD_SETLK) on the range for LOCKET_KIND_OFD, which
 * fails with LOCKET_ENOTSUP where the OS has none (no F_OFD_SETLK, or
 * EINVAL from an old kernel: never a process-owned F_SETLK instead).
 * LOCKET_OK, LOCKET_EWOULDBLOCK (unrecorded), or an error (recorded). op:
 * LOCK_SH or LOCK_EX. Both engines' only way to take the lock without
 * blocking. */
int locket__posix_try(int fd, int op, const locket__span *span, const char *path);
/* The same, blocking in the kernel (flock(), F_OFD_SETLKW) until granted;
 * EINTR retried. For untimed, uninterruptible waits. */
int locket__posix_lock_blocking(int fd, int op, const locket__span *span, const char *path);
/* The engine's wait for a lock held elsewhere, once a try failed: sleep until
 * a hint says it may be free, try again, until how's deadline or
 * interruption (linux/sleep.c, portable/wait.c). locket__os_lock() below it
 * is the engines' one entry. */
int locket__engine_wait(int fd, const char *path, int op, const locket__span *span,
			locket__wait *how);
/* Unlock span's lock on fd (without closing it): LOCKET_OK or a recorded
 * error. */
int locket__posix_unlock(int fd, const locket__span *span);

/* The directory that holds (or will hold) the lock file at path, into dir:
 * path's own directory, or, when path is a symlink to a missing file (which
 * locket__os_open creates where the link points, as flock(1) does), the
 * directory of the file the links lead to. For locket_scope() of a file
 * that does not exist yet. */
void locket__posix_lock_dir(const char *path, char *dir, size_t size);

/* Copy src into dst (always terminated, cut to fit) with control characters
 * (a newline or tab in a mount point's name) written as the kernel's octal
 * escapes (\012, \011): a scope's reason stays one line, and the CLI's
 * tab-separated --scope output stays three fields. */
void locket__posix_printable(char *dst, size_t size, const char *src);

#endif
