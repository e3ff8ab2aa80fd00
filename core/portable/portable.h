/*
 * Between the portable engine's files: lock.c (the kernel lock, releases,
 * the entry of a wait) and wait.c (the wait itself and its in-process
 * wake-ups).
 */
#ifndef LOCKET_PORTABLE_H
#define LOCKET_PORTABLE_H

#include "internal.h"

/* After a release of fd (file key, or 0: found from fd when needed): wake
 * the waits of this process that sleep on the same file. Never fails. */
void locket__portable_wake(int fd, locket__key key);
/* In a forked child: forget (and close) the parent's threads' wake-ups. */
void locket__portable_wait_atfork_child(void);

#endif
