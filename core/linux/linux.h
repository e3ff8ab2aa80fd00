/*
 * Between the Linux engine's files: lock.c (the kernel lock, releases, the
 * entry of a wait) and sleep.c (the wait itself).
 */
#ifndef LOCKET_LINUX_H
#define LOCKET_LINUX_H

#include "internal.h"

/* One non-blocking try of span's lock (flock(), or fcntl F_OFD_SETLK):
 * LOCKET_OK, LOCKET_EWOULDBLOCK (unrecorded), or an error (recorded).
 * op: LOCK_SH or LOCK_EX. */
int locket__linux_try(int fd, int op, const locket__span *span, const char *path);
/* The wake table's key for span's lock on the file key (see lock.c). */
locket__key locket__linux_span_key(locket__key file, const locket__span *span);
/* The rest of a timed or interruptible wait, after a failed try. */
int locket__linux_wait(int fd, const char *path, int op, const locket__span *span,
		       locket__wait *how);
/* In a forked child: the wait's per-thread state is the parent's. */
void locket__linux_sleep_atfork_child(void);

#endif
