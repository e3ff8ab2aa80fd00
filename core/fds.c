/*
 * The descriptors locket has open, and fork().
 *
 * flock locks belong to the open file description, which a forked child
 * shares: a child's copy would keep its parent's lock alive after the parent
 * died. So every descriptor locket opens is on one process-wide list, and the
 * fork handlers (registered by the first locket_new()) close them all in the
 * child, without unlocking. The list's mutex is held only for list
 * operations, never across an open, a close or a lock, so a fork never waits
 * for I/O (a hung NFS or FUSE open), and its cost follows the descriptors
 * open, not the handles alive. See docs/design.md, "fork".
 *
 * An open runs unrecorded: if a fork happened meanwhile (the generation
 * changed between before the open and the recording), the child may have a
 * copy it does not know of, so the open is closed and made again. A
 * descriptor is closed after it leaves the list, but only ever unlocked
 * first: a child that copies it in between has an unlocked copy of a
 * description that nobody will lock again.
 *
 * Handles are not visited at fork at all. A handle's mutex or condition
 * variable may be held or waited on by a parent's thread that does not exist
 * in the child, so the first call on a handle in a child (the child epoch
 * differs from the handle's) makes them anew and empties its slot, under
 * the list's mutex.
 */
#include "handle.h"

#include <string.h>

/* ---- the descriptors locket has open, and fork() ---- */

/* Guarded by locket__registry_lock(), which is only ever held for list
 * operations (never across I/O): */
static struct open_fd *open_fds;  /* every descriptor locket has open */
static uint64_t fork_generation;  /* bumped by every fork's prepare handler */
/* Bumped in a forked child by its handler, while it is the only thread, and
 * never written elsewhere: threads read it without a lock. */
unsigned int locket__child_epoch;

#if defined(__GNUC__)
#define LOAD_ACQUIRE(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define STORE_RELEASE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#else /* compilers without GNU atomics build for Windows, which has no fork */
#define LOAD_ACQUIRE(p) (*(p))
#define STORE_RELEASE(p, v) (*(p) = (v))
#endif

/* List operations; the caller holds locket__registry_lock(). */
static void record(struct open_fd *ref, locket__fd fd)
{
	ref->fd = fd;
	ref->prev = NULL;
	ref->next = open_fds;
	if (open_fds != NULL)
		open_fds->prev = ref;
	open_fds = ref;
}

static void unrecord(struct open_fd *ref)
{
	if (ref->prev != NULL)
		ref->prev->next = ref->next;
	else if (open_fds == ref)
		open_fds = ref->next;
	if (ref->next != NULL)
		ref->next->prev = ref->prev;
	ref->fd = LOCKET__NO_FD;
	ref->prev = ref->next = NULL;
}

/* Open the lock file and record the descriptor, atomically with respect to
 * fork() without holding anything across the open (see fork() above). A
 * write open is asked for where a read-only descriptor could not take the
 * lock (see lock_file). */
int locket__open_tracked(locket_t *lock, int writable, struct open_fd *ref)
{
	locket_options o = lock->opts;
	if (writable)
		o.flags |= LOCKET__OPEN_WRITE;
	for (;;) {
		locket__fd fd;
		uint64_t generation;
		int rc;
		locket__registry_lock();
		generation = fork_generation;
		locket__registry_unlock();
		rc = locket__os_open(lock->path, &o, &fd);
		if (rc != LOCKET_OK) {
			ref->fd = LOCKET__NO_FD;
			return rc;
		}
		locket__registry_lock();
		if (generation == fork_generation) {
			record(ref, fd);
			locket__registry_unlock();
			return LOCKET_OK;
		}
		locket__registry_unlock();
		/* A fork happened during the open: the child may have a copy that
		 * it cannot know to close, which a lock on this open file
		 * description would keep alive there. Never lock it: open anew. */
		locket__os_close(fd);
	}
}

/* Close a descriptor locket recorded, which is not locked (or whose lock
 * was unlocked already). Nothing when a forked child's handler closed it. */
void locket__close_tracked(struct open_fd *ref)
{
	locket__fd fd;
	locket__registry_lock();
	fd = ref->fd;
	if (fd != LOCKET__NO_FD)
		unrecord(ref);
	locket__registry_unlock();
	if (fd != LOCKET__NO_FD)
		locket__os_close(fd); /* outside the mutex: a close may hang too */
}

void locket__untrack(struct open_fd *ref)
{
	locket__registry_lock();
	if (ref->fd != LOCKET__NO_FD)
		unrecord(ref);
	locket__registry_unlock();
}

/* Move a recorded descriptor from one entry to another (the slot's, a
 * thread's own), under the list's mutex so that a fork sees it on one. */
void locket__move_tracked(struct open_fd *from, struct open_fd *to)
{
	locket__registry_lock();
	to->fd = LOCKET__NO_FD;
	if (from->fd != LOCKET__NO_FD) {
		locket__fd fd = from->fd;
		unrecord(from);
		record(to, fd);
	}
	locket__registry_unlock();
}

void locket__fork_prepare(void)
{
	locket__registry_lock();
	fork_generation++;
}

void locket__fork_parent(void)
{
	locket__registry_unlock();
}

/* In the child, the only thread: close every descriptor locket had open
 * (the parent's locks stay the parent's: never unlock), and let each handle
 * make itself anew at its first call here (handle_enter). */
void locket__fork_child(void)
{
	struct open_fd *ref = open_fds;
	while (ref != NULL) {
		struct open_fd *next = ref->next;
		locket__os_close(ref->fd);
		ref->fd = LOCKET__NO_FD;
		ref->prev = ref->next = NULL;
		ref = next;
	}
	open_fds = NULL;
	locket__child_epoch++;
	locket__os_wait_atfork_child();
	locket__registry_unlock();
}

/* Every call on a handle starts here. In a forked child, the first one makes
 * the handle's mutex and condition variable anew (a parent's thread that
 * does not exist here may have held or waited on them) and empties its slot
 * (the child handler closed the descriptor). */
void locket__handle_enter(locket_t *lock)
{
	const unsigned int epoch = locket__child_epoch;
	if (LOAD_ACQUIRE(&lock->epoch) == epoch)
		return;
	locket__registry_lock();
	if (LOAD_ACQUIRE(&lock->epoch) != epoch) {
		memset(&lock->mu, 0, sizeof lock->mu);
		(void)locket__mutex_init(&lock->mu); /* pthread: cannot fail for default attributes */
		locket__cond_reinit(&lock->slot_freed);
		lock->slot_inherited = lock->slot_fd != LOCKET__NO_FD;
		lock->slot_fd = LOCKET__NO_FD;
		lock->slot_ref.fd = LOCKET__NO_FD;
		lock->slot_ref.prev = lock->slot_ref.next = NULL;
		/* Linux keeps no waiter on a handle (attempts own theirs), and the
		 * child handler dropped the process's inotify instance already. */
		lock->waiter = NULL;
		STORE_RELEASE(&lock->epoch, epoch);
	}
	locket__registry_unlock();
}
