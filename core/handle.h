/*
 * The core's own shared definitions: a handle, and the descriptors locket
 * has open (core/fds.c), for the files that make up the core (locket.c:
 * handles and acquisitions; fds.c: the descriptor list and fork; attempt.c:
 * event-loop acquisitions; fdlock.c: locks on the caller's descriptors).
 */
#ifndef LOCKET_HANDLE_H
#define LOCKET_HANDLE_H

#include "internal.h"

/* A descriptor of a lock file that locket has open, on the process-wide
 * open_fds list (see fork() above). */
struct open_fd {
	locket__fd fd;
	struct open_fd *prev, *next;
};

struct locket {
	char *path;              /* absolute path, fixed at creation */
	locket_options opts;     /* fixed at creation */
	locket__span span;       /* its kind and range, fixed at creation */
	unsigned int epoch;      /* child_epoch when mu and slot_freed were made */
	locket__mutex mu;        /* guards everything below */
	locket__cond slot_freed; /* broadcast whenever slot_fd is emptied */
	locket__fd slot_fd;      /* descriptor holding the lock, or LOCKET__NO_FD */
	locket__key slot_key;    /* its file's identity (0: unknown) */
	int64_t slot_pid;        /* process that filled slot_fd */
	struct open_fd slot_ref; /* slot_fd's entry on open_fds */
	int slot_inherited;      /* the slot was emptied in a forked child */
	locket__waiter *waiter;  /* kept OS wait state; NULL while borrowed */
};

/* ---- fds.c: the descriptors locket has open, and fork() ---- */

/* Bumped in a forked child by its handler (see fds.c). */
extern unsigned int locket__child_epoch;

/* Open the lock file and record the descriptor, atomically with respect to
 * fork() without holding anything across the open. writable: ask for a
 * read-write descriptor (see locket__wants_write_open). */
int locket__open_tracked(locket_t *lock, int writable, struct open_fd *ref);
/* Close a recorded descriptor that is not locked (or was unlocked). */
void locket__close_tracked(struct open_fd *ref);
/* Take a recorded descriptor off the list without closing it: it leaves
 * locket (locket_acquire_detached). */
void locket__untrack(struct open_fd *ref);
/* Move a recorded descriptor from one entry to another. */
void locket__move_tracked(struct open_fd *from, struct open_fd *to);
/* Every call on a handle starts here (makes it anew in a forked child). */
void locket__handle_enter(locket_t *lock);

/* ---- locket.c, for attempts ---- */

/* The longest pause between opens while another program's lease is broken. */
#define LOCKET__LEASE_RETRY_CEILING_MS 50

/* A lock try failed because the descriptor is read-only where the
 * filesystem wants write access (Linux NFS). */
int locket__wants_write_open(int rc, int writable);
/* The kernel lock on ref is ours; now the handle's slot (see locket.c).
 * how: the call's wait (NULL: a try). */
int locket__take_slot(locket_t *lock, struct open_fd *ref, locket__key key, locket__wait *how,
		      int keep_fd);

#endif /* LOCKET_HANDLE_H */
