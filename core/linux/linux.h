/*
 * Between the Linux engine's files: lock.c (the kernel lock, releases, the
 * entry of a wait) and sleep.c (the wait itself); and the mount table
 * (mounts.c), which every Linux build reads, whatever its engine.
 */
#ifndef LOCKET_LINUX_H
#define LOCKET_LINUX_H

#include "internal.h"

/* The wake table's key for span's lock on the file key (see lock.c). */
locket__key locket__linux_span_key(locket__key file, const locket__span *span);
/* In a forked child: the wait's per-thread state is the parent's. */
void locket__linux_sleep_atfork_child(void);

/* One line of /proc/self/mountinfo (proc(5)), parsed in place: the paths
 * unescaped (\040 and the like), the strings pointing into the line. */
typedef struct locket__mountinfo {
	int id, parent;
	unsigned major, minor;
	char *root, *point, *mount_opts, *type, *source, *super_opts;
} locket__mountinfo;
/* 0, or -1 for a line that is not one. */
int locket__mountinfo_parse(char *line, locket__mountinfo *m);
/* In a mountinfo text (modified), the mount with id mnt_id, or, when path
 * is not NULL, the mount that holds path (the longest mount point above it,
 * the last of equal ones): 1 and *out filled, or 0. For tests and for
 * mounts without an id. */
int locket__mountinfo_find(char *text, int mnt_id, const char *path, locket__fs *out);

#endif
