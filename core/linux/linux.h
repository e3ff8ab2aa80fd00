/*
 * Between the Linux engine's files: lock.c (the kernel lock, releases, the
 * entry of a wait) and sleep.c (the wait itself).
 */
#ifndef LOCKET_LINUX_H
#define LOCKET_LINUX_H

#include "internal.h"

/* The rest of a timed or interruptible wait, after a failed try. */
int locket__linux_wait(int fd, const char *path, int op, locket__wait *how);
/* In a forked child: the wait's per-thread state is the parent's. */
void locket__linux_sleep_atfork_child(void);

#endif
