/*
 * What the POSIX layer (core/posix/) offers the engine beside core/internal.h.
 */
#ifndef LOCKET_POSIX_H
#define LOCKET_POSIX_H

#include "internal.h"

#include <sys/types.h>

/* A file's key for the wait engine, from its device and inode; never 0. */
locket__key locket__file_key(dev_t dev, ino_t ino);

/* One non-blocking flock() try: LOCKET_OK, LOCKET_EWOULDBLOCK (unrecorded),
 * or an error (recorded). op: LOCK_SH or LOCK_EX. Both engines' only way to
 * take the lock without blocking. */
int locket__posix_try(int fd, int op, const char *path);

#endif
