/*
 * Helpers shared by the files of the Windows OS layer in core/win.
 */
#ifndef LOCKET_WIN_H
#define LOCKET_WIN_H

#include "internal.h"

#include <windows.h>

/* Share modes of every handle locket opens: other programs (and other
 * locket handles) may still read, write, rename and delete the file. */
#define LOCKET__SHARE_ALL (FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE)

/* The bytes a lock on span covers: byte 0 for the default (what locket.py
 * and filelock lock), else span's range, whatever its kind; length 0 runs to
 * LOCKET__WIN_RANGE_END, below the identity probes (see below). 1, or 0
 * (recorded LOCKET_EINVAL) for a range that reaches the probes. */
#define LOCKET__WIN_RANGE_END (1ULL << 62)
int locket__win_range(const locket__span *span, ULONGLONG *offset, ULONGLONG *length);
/* LockFileEx / UnlockFileEx of span's bytes (synchronous handles). */
BOOL locket__win_lock_span(HANDLE h, DWORD flags, const locket__span *span);
BOOL locket__win_unlock_span(HANDLE h, const locket__span *span);

/* UTF-8 -> malloc'd UTF-16 (LOCKET_EINVAL on invalid UTF-8), and back. */
int locket__win_to_utf16(const char *s, wchar_t **out);
int locket__win_to_utf8(const wchar_t *w, char **out);

/* The UTF-16 path to hand to CreateFileW for an absolute UTF-8 path: with
 * the \\?\ prefix when it is longer than MAX_PATH allows. malloc'd. */
int locket__win_open_path(const char *path, wchar_t **out);

/*
 * The file's index on its volume (FileInternalInformation: the NTFS file
 * reference number; st_ino under Wine): the same on every handle of the
 * file, whatever path reached it. Cheap (no volume query), so it names the
 * wake-up event; locket__os_same_file also compares the volume.
 * Sets *index and returns 1, or returns 0 when the OS cannot tell.
 */
int locket__win_file_index(HANDLE h, ULONGLONG *index);

/* A file's identity: its index, and its volume and file id (FileIdInfo:
 * 64-bit serial and 128-bit id, as ReFS needs; else the serial and index of
 * GetFileInformationByHandle; "how" says which). Under Wine the volume costs
 * a round trip to the mount manager (0.2-0.7 ms), so a wait reads the held
 * file's before it waits. 1, or 0 when the OS cannot tell. */
typedef struct locket__win_identity {
	ULONGLONG index;
	int how;
	ULONGLONG volume;
	BYTE id[16];
} locket__win_identity;
int locket__win_read_identity(HANDLE h, locket__win_identity *id);

/*
 * The identity probe: one byte at 2^62 plus 48 random bits, far beyond any
 * data, locked through the handle that holds (or waits for) the lock. A
 * fresh handle of the path then conflicts with it exactly when it reaches
 * the same file: the lock manager's own notion of "the same file", which is
 * what exclusion depends on, and under Wine 3x cheaper than a volume query
 * (a round trip to the mount manager: 312-522 us, the probe's three lock
 * calls 175 us, measured back to back). Nobody else locks that far out
 * (locket.py and filelock lock byte 0); a collision needs another probe of
 * the same 48 bits at the same moment on another file of the same index.
 */
typedef struct locket__win_probe {
	ULONGLONG offset;
} locket__win_probe;
/* Lock a new probe range through fd: 1, or 0 when it cannot (never records
 * an error; the identity comparison is then used). */
int locket__win_probe_take(HANDLE fd, locket__win_probe *p);
void locket__win_probe_drop(HANDLE fd, const locket__win_probe *p);

/* 1 if path names fd's file (fd not deleted), told by the probe p (when
 * not NULL) or else by comparing with held (read before the wait; may be
 * NULL); 0 if not or unsure (then locket__os_same_file decides, and records
 * the error). Never records an error. */
int locket__win_path_names(const char *path, HANDLE fd, const locket__win_identity *held,
			   const locket__win_probe *p);

/* ---- the wait (lock.c) and its hints (hints.c) ---- */

/* A handle's kept wait state (see internal.h's locket__waiter). */
struct locket__waiter {
	HANDLE event;              /* wake-up hint of the file below, or NULL */
	ULONGLONG index;           /* the file the event belongs to */
	HANDLE holder;             /* process of the last locket holder seen, or NULL */
	DWORD holder_pid;          /* its id (0: none opened) */
	locket__win_identity held; /* the waiting handle's file, read before the wait */
	int verified;              /* the last grant was checked against the path */
};

/* The file's wake-up event (opened or made before the next try), or NULL;
 * *index receives the file's index. */
HANDLE locket__win_wake_event(HANDLE h, locket__waiter *w, ULONGLONG *index);
/* 1 if a live locket holder's marker exists for index (see hints.c);
 * *proc its process to wait on (or NULL), *holder_pid its id. */
int locket__win_locket_holder(locket__waiter *w, ULONGLONG index, HANDLE *proc, DWORD *holder_pid);

#endif /* LOCKET_WIN_H */
