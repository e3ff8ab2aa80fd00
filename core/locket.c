/*
 * The lock semantics, once for every OS and every binding.
 *
 * How a handle holds its lock
 * ---------------------------
 * Every acquisition opens the lock file anew and locks that descriptor;
 * every release unlocks it and closes it. A handle never keeps a descriptor
 * while it does not hold the lock. This costs an open() and a close() per
 * acquisition, and buys four things:
 *
 * - Two threads acquiring through one handle use two descriptors, so the
 *   kernel itself makes them exclude each other, and a thread waiting for
 *   another thread of its own process waits in the same interruptible,
 *   deadline-bounded kernel wait as for another process.
 * - The release ends with a close(), which is what wakes waiters on Linux
 *   (inotify reports closes, not unlocks; see unix/wait.c).
 * - A lock file that someone replaced between two acquisitions is locked as
 *   the file the path names now, like every other process would.
 * - Nothing is held open for a forked child to inherit while unlocked.
 *
 * The "slot" below records which descriptor holds the lock for the handle.
 * It makes a handle binary even in shared mode, where the kernel would let
 * two threads of one handle both hold a shared lock: the second one waits on
 * a condition variable for the slot.
 *
 * fork(): a flock lock belongs to the open file description, and a forked
 * child's copy of the descriptor keeps it alive: if the parent then died,
 * the child would keep a lock that it cannot see, release or re-take. So
 * every descriptor locket opens is recorded on one process-wide list
 * (open_fds below), and a pthread_atfork child handler closes them all in
 * the child, without unlocking (unlocking would drop the parent's lock).
 *
 * The list's mutex is held only for list operations, never across I/O:
 * the prepare handler takes it (and bumps the fork generation), so a fork
 * never waits for an open(), close() or flock() that hangs (a dead NFS or
 * FUSE server). An open runs unrecorded: if a fork happened meanwhile (the
 * generation changed between before the open and the recording), the child
 * may have a copy it does not know of, so the open is closed and made
 * again. A descriptor is closed after it leaves the list, but only ever
 * unlocked first: a child that copies it in between has an unlocked copy of
 * a description that nobody will lock again. So prepare, parent and child
 * do work proportional to the descriptors open, not to the live handles.
 *
 * Handles are not visited at fork at all. A handle's mutex or condition
 * variable may be held or waited on by a parent's thread that does not
 * exist in the child, so the first call on a handle in a child (the child
 * epoch differs from the handle's) makes them anew and empties its slot,
 * under the list's mutex. The slot also remembers the pid that filled it,
 * which covers children made without the handlers (raw clone(), _Fork()):
 * they see the handle as not held and never unlock the parent's lock.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* A descriptor of a lock file that locket has open, on the process-wide
 * open_fds list (see fork() above). */
struct open_fd {
	locket__fd fd;
	struct open_fd *prev, *next;
};

struct locket {
	char *path;               /* absolute path, fixed at creation */
	locket_options opts;      /* fixed at creation */
	unsigned int epoch;       /* child_epoch when mu and slot_freed were made */
	locket__mutex mu;         /* guards everything below */
	locket__cond slot_freed;  /* broadcast whenever slot_fd is emptied */
	locket__fd slot_fd;       /* descriptor holding the lock, or LOCKET__NO_FD */
	locket__key slot_key;     /* its file's identity (0: unknown) */
	int64_t slot_pid;         /* process that filled slot_fd */
	struct open_fd slot_ref;  /* slot_fd's entry on open_fds */
	int slot_inherited;       /* the slot was emptied in a forked child */
	locket__waiter *waiter;   /* kept OS wait state; NULL while borrowed */
};

/* ---- the descriptors locket has open, and fork() ---- */

/* Guarded by locket__registry_lock(), which is only ever held for list
 * operations (never across I/O): */
static struct open_fd *open_fds;  /* every descriptor locket has open */
static uint64_t fork_generation;  /* bumped by every fork's prepare handler */
/* Bumped in a forked child by its handler, while it is the only thread, and
 * never written elsewhere: threads read it without a lock. */
static unsigned int child_epoch;

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
static int open_tracked(locket_t *lock, int writable, struct open_fd *ref)
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
static void close_tracked(struct open_fd *ref)
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

/* Move a recorded descriptor from one entry to another (the slot's, a
 * thread's own), under the list's mutex so that a fork sees it on one. */
static void move_tracked(struct open_fd *from, struct open_fd *to)
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
	child_epoch++;
	locket__os_wait_atfork_child();
	locket__registry_unlock();
}

/* Every call on a handle starts here. In a forked child, the first one makes
 * the handle's mutex and condition variable anew (a parent's thread that
 * does not exist here may have held or waited on them) and empties its slot
 * (the child handler closed the descriptor). */
static void handle_enter(locket_t *lock)
{
	const unsigned int epoch = child_epoch;
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

int locket_new(locket_t **out, const char *path, const locket_options *opts)
{
	locket_options o = LOCKET_OPTIONS_INIT;
	struct open_fd probe;
	locket_t *lock;
	int rc;

	if (out == NULL)
		return locket__fail(LOCKET_EINVAL, "locket_new: out is NULL");
	*out = NULL;
	if (path == NULL)
		return locket__fail(LOCKET_EINVAL, "locket_new: path is NULL");
	if (path[0] == '\0')
		return locket__fail(LOCKET_EINVAL, "lock file path is empty");
	if (opts != NULL) {
		if (opts->version < 1 || opts->version > LOCKET_OPTIONS_VERSION)
			return locket__fail(LOCKET_EINVAL, "unknown locket_options version %u",
					    opts->version);
		if (opts->flags & ~(LOCKET_NO_CREATE | LOCKET_ALLOW_DIRECTORY))
			return locket__fail(LOCKET_EINVAL, "unknown locket_options flags 0x%x",
					    opts->flags);
		if (opts->file_mode & ~07777u)
			return locket__fail(LOCKET_EINVAL, "file_mode 0%o is not a permission mode",
					    opts->file_mode);
		o.file_mode = opts->file_mode;
		o.flags = opts->flags;
	}

	lock = (locket_t *)calloc(1, sizeof *lock);
	if (lock == NULL)
		return locket__fail(LOCKET_ENOMEM, "out of memory creating a lock handle");
	lock->opts = o;
	lock->slot_fd = LOCKET__NO_FD;
	lock->slot_ref.fd = LOCKET__NO_FD;
	rc = locket__os_abspath(path, &lock->path);
	if (rc != LOCKET_OK)
		goto fail;
	rc = locket__mutex_init(&lock->mu);
	if (rc != LOCKET_OK)
		goto fail;
	rc = locket__cond_init(&lock->slot_freed);
	if (rc != LOCKET_OK) {
		locket__mutex_destroy(&lock->mu);
		goto fail;
	}
	/* The handlers exist before the first descriptor is recorded. */
	locket__os_fork_handlers();
	lock->epoch = child_epoch;
	/* Fail now, not at the first acquire, on a path that cannot be a lock
	 * file (same_file refuses a directory). A leased file (LOCKET_EWOULDBLOCK
	 * from the open) is a good one. */
	rc = open_tracked(lock, 0, &probe);
	if (rc == LOCKET_OK) {
		locket__key key;
		int same = locket__os_same_file(probe.fd, lock->path,
						(o.flags & LOCKET_ALLOW_DIRECTORY) != 0, &key);
		close_tracked(&probe);
		rc = same < 0 ? same : LOCKET_OK;
	}
	if (rc != LOCKET_OK && rc != LOCKET_EWOULDBLOCK) {
		locket__cond_destroy(&lock->slot_freed);
		locket__mutex_destroy(&lock->mu);
		goto fail;
	}
	*out = lock;
	return LOCKET_OK;
fail:
	free(lock->path);
	free(lock);
	return rc;
}

void locket_free(locket_t *lock)
{
	if (lock == NULL)
		return;
	handle_enter(lock);
	if (lock->slot_fd != LOCKET__NO_FD) {
		/* A slot filled before a fork made without the fork handlers is
		 * the parent's: close the copy, never unlock it. */
		if (lock->slot_pid == locket__os_pid())
			locket__os_unlock(lock->slot_fd, lock->slot_key);
		close_tracked(&lock->slot_ref);
	}
	locket__os_waiter_free(lock->waiter);
	locket__cond_destroy(&lock->slot_freed);
	locket__mutex_destroy(&lock->mu);
	free(lock->path);
	free(lock);
}

/* Wait in the kernel for the lock on fd, lending the handle's kept waiter to
 * this thread for the duration. */
static int wait_for_lock(locket_t *lock, locket__fd fd, int shared, locket__wait *how,
			 int *verified)
{
	locket__waiter *w;
	int rc;

	locket__mutex_lock(&lock->mu);
	w = lock->waiter;
	lock->waiter = NULL;
	locket__mutex_unlock(&lock->mu);

	rc = locket__os_lock(fd, lock->path, shared, how, &w);
	*verified = rc == LOCKET_OK && locket__os_wait_verified(w);

	locket__mutex_lock(&lock->mu);
	if (lock->waiter == NULL) {
		lock->waiter = w;
		w = NULL;
	}
	locket__mutex_unlock(&lock->mu);
	locket__os_waiter_free(w); /* another thread returned one first */
	return rc;
}

/* A lock try failed because the descriptor is read-only where the
 * filesystem wants write access for the lock (Linux NFS emulates flock with
 * byte-range locks). */
static int wants_write_open(int rc, int writable)
{
	return !writable && rc == LOCKET_EIO && locket__os_lock_needs_write(locket_last_os_error());
}

#define LEASE_RETRY_CEILING_MS 50

/* The open would block: another program holds a lease on the file (Samba,
 * NFS servers) or a mandatory lock. The open has started breaking the
 * lease; wait it out within the deadline, retrying with a backoff. Returns
 * LOCKET_OK to open again, or the error that ends the acquisition. */
static int wait_out_lease(const char *path, locket__wait *how, int64_t *retry_ms)
{
	int64_t now = locket__now_ms(), ms = *retry_ms, deadline = how->deadline;
	if (deadline == 0)
		return locket__fail(LOCKET_EWOULDBLOCK,
				    "'%s' is leased by another program (opening it would block)", path);
	if (now >= deadline)
		return locket__fail(LOCKET_ETIMEDOUT,
				    "timed out waiting for another program's lease on '%s' to be broken",
				    path);
	if (deadline != LOCKET__FOREVER && deadline - now < ms)
		ms = deadline - now;
	*retry_ms = *retry_ms * 2 > LEASE_RETRY_CEILING_MS ? LEASE_RETRY_CEILING_MS : *retry_ms * 2;
	if (locket__os_sleep_ms(ms, how) == LOCKET_EINTR)
		return locket__fail(LOCKET_EINTR, "interrupted while waiting for '%s'", path);
	return LOCKET_OK;
}

/* Open the file and take its kernel lock by the deadline, into ref. Once
 * locked, make sure the descriptor still is the file the path names: a
 * lock on a file that was replaced or removed meanwhile, or that a path
 * component no longer leads to (a switched symlink, a renamed directory, a
 * mount), excludes nobody. Not only after a wait: a process descheduled
 * between its open and its first try can find the old file free after the
 * path moved on. The check (an fstat and a stat, which also refuses a
 * directory) costs under a microsecond, and no watch on the file itself
 * could see a change higher up the path. */
static int lock_file(locket_t *lock, int shared, locket__wait *how, struct open_fd *ref,
		     locket__key *key)
{
	const int allow_dir = (lock->opts.flags & LOCKET_ALLOW_DIRECTORY) != 0;
	locket__wait try_once = *how;
	int writable = 0;
	int64_t lease_retry_ms = 1;
	try_once.deadline = 0;
	for (;;) {
		int rc = open_tracked(lock, writable, ref), verified = 0;
		if (rc == LOCKET_EWOULDBLOCK) {
			rc = wait_out_lease(lock->path, how, &lease_retry_ms);
			if (rc != LOCKET_OK)
				return rc;
			continue;
		}
		if (rc != LOCKET_OK)
			return rc;
		rc = locket__os_lock(ref->fd, lock->path, shared, &try_once, NULL);
		if (rc == LOCKET_EWOULDBLOCK && how->deadline != 0)
			rc = wait_for_lock(lock, ref->fd, shared, how, &verified);
		if (rc == LOCKET_OK) {
			int same = verified ? 1
					    : locket__os_same_file(ref->fd, lock->path, allow_dir, key);
			if (same == 1) {
				locket__os_held(ref->fd, *key);
				return LOCKET_OK;
			}
			locket__os_unlock(ref->fd, *key);
			close_tracked(ref);
			if (same < 0)
				return same;
			continue; /* the path leads elsewhere now: lock that file */
		}
		close_tracked(ref);
		if (wants_write_open(rc, writable)) {
			writable = 1;
			continue;
		}
		return rc;
	}
}

/* The kernel lock on ref's descriptor is ours; now the handle's slot. It is
 * only ever taken here when two threads of this process hold shared locks
 * through one handle (an exclusive kernel lock excludes the slot's holder
 * already), or when it was filled before a fork made without the fork
 * handlers. On success the descriptor moves to the slot; on failure it is
 * unlocked and closed, unless keep_fd, when it is only unlocked. */
static int take_slot(locket_t *lock, struct open_fd *ref, locket__key key, int64_t deadline,
		     int keep_fd)
{
	int64_t pid = locket__os_pid();
	locket__mutex_lock(&lock->mu);
	while (lock->slot_fd != LOCKET__NO_FD) {
		if (lock->slot_pid != pid) {
			/* Filled before a fork made without the fork handlers: the
			 * parent's copy. Never unlock it. */
			close_tracked(&lock->slot_ref);
			lock->slot_fd = LOCKET__NO_FD;
			break;
		}
		if (deadline == 0 ||
		    locket__cond_wait(&lock->slot_freed, &lock->mu, deadline) == LOCKET_ETIMEDOUT) {
			if (lock->slot_fd == LOCKET__NO_FD)
				break;
			locket__mutex_unlock(&lock->mu);
			locket__os_unlock(ref->fd, key);
			if (!keep_fd)
				close_tracked(ref);
			if (deadline == 0)
				return locket__fail(LOCKET_EWOULDBLOCK,
						    "'%s' is held through this handle", lock->path);
			return locket__fail(LOCKET_ETIMEDOUT,
					    "timed out waiting for '%s' (held through this handle)",
					    lock->path);
		}
	}
	move_tracked(ref, &lock->slot_ref);
	lock->slot_fd = lock->slot_ref.fd;
	lock->slot_key = key;
	lock->slot_pid = pid;
	lock->slot_inherited = 0;
	locket__mutex_unlock(&lock->mu);
	return LOCKET_OK;
}

int locket_acquire_with(locket_t *lock, const locket_wait_options *opts)
{
	struct open_fd ref;
	locket__wait how;
	locket__key key = 0;
	unsigned int flags;
	int rc;

	if (lock == NULL)
		return locket__fail(LOCKET_EINVAL, "locket_acquire: lock is NULL");
	handle_enter(lock);
	rc = locket__wait_init(&how, &flags, opts, "locket_acquire");
	if (rc != LOCKET_OK)
		return rc;
	rc = lock_file(lock, (flags & LOCKET_SHARED) != 0, &how, &ref, &key);
	if (rc != LOCKET_OK)
		return rc;
	return take_slot(lock, &ref, key, how.deadline, 0);
}

int locket_acquire(locket_t *lock, int64_t timeout_ms, unsigned int flags)
{
	locket_wait_options o = LOCKET_WAIT_OPTIONS_INIT;
	o.timeout_ms = timeout_ms;
	o.flags = flags;
	return locket_acquire_with(lock, &o);
}

/* The CLI's acquisition: the core's open rules, identity loop and deadline,
 * then the descriptor leaves the handle (untracked, inheritable) so that the
 * command the CLI starts can hold the lock as flock(1)'s does. */
int locket_acquire_detached(locket_t *lock, const locket_wait_options *opts, intptr_t *out_fd)
{
	struct open_fd ref;
	locket__wait how;
	locket__key key = 0;
	unsigned int flags;
	int rc;

	if (out_fd == NULL)
		return locket__fail(LOCKET_EINVAL, "locket_acquire_detached: out_fd is NULL");
	*out_fd = (intptr_t)LOCKET__NO_FD;
	if (lock == NULL)
		return locket__fail(LOCKET_EINVAL, "locket_acquire_detached: lock is NULL");
	handle_enter(lock);
	rc = locket__wait_init(&how, &flags, opts, "locket_acquire_detached");
	if (rc != LOCKET_OK)
		return rc;
	rc = lock_file(lock, (flags & LOCKET_SHARED) != 0, &how, &ref, &key);
	if (rc != LOCKET_OK)
		return rc;
	rc = locket__os_make_inheritable(ref.fd);
	if (rc != LOCKET_OK) {
		locket__os_unlock(ref.fd, key);
		close_tracked(&ref);
		return rc;
	}
	/* Off the list: the fork handlers leave it alone from here on. */
	locket__registry_lock();
	*out_fd = (intptr_t)ref.fd;
	unrecord(&ref);
	locket__registry_unlock();
	return LOCKET_OK;
}

/*
 * Attempts: an acquisition that an event loop drives. Unlike a series of
 * locket_acquire(lock, 0) tries, an attempt keeps its descriptor open
 * between tries: a try that opened and closed the file would itself make
 * a close event and wake every other waiter, and two such waiters would
 * keep waking each other.
 */
struct locket_attempt {
	locket_t *lock;
	int shared;
	int finished;            /* succeeded or failed: no more tries */
	int writable;            /* the filesystem wants a write open (NFS) */
	struct open_fd ref;      /* open, unlocked between tries; NO_FD: open at the next try */
	locket__waiter *waiter;  /* borrowed from the handle, or our own */
	int watch_fd;            /* what to poll, or -1 */
	int retry_ms;            /* longest wait before the next try */
};

#define ATTEMPT_RETRY_FIRST_MS 100
#define ATTEMPT_RETRY_CEILING_MS 500

int locket_attempt_start(locket_attempt_t **out, locket_t *lock, unsigned int flags)
{
	locket_attempt_t *a;
	int rc;

	if (out == NULL)
		return locket__fail(LOCKET_EINVAL, "locket_attempt_start: out is NULL");
	*out = NULL;
	if (lock == NULL)
		return locket__fail(LOCKET_EINVAL, "locket_attempt_start: lock is NULL");
	if (flags & ~LOCKET_SHARED)
		return locket__fail(LOCKET_EINVAL, "locket_attempt_start: unknown flags 0x%x", flags);
	a = (locket_attempt_t *)calloc(1, sizeof *a);
	if (a == NULL)
		return locket__fail(LOCKET_ENOMEM, "out of memory starting an attempt");
	a->lock = lock;
	a->shared = (flags & LOCKET_SHARED) != 0;
	a->watch_fd = -1;
	a->retry_ms = ATTEMPT_RETRY_FIRST_MS;
	a->ref.fd = LOCKET__NO_FD;
	handle_enter(lock);
	locket__mutex_lock(&lock->mu);
	a->waiter = lock->waiter;
	lock->waiter = NULL;
	locket__mutex_unlock(&lock->mu);

	rc = locket_attempt_try(a);
	if (rc == LOCKET_EWOULDBLOCK) {
		*out = a;
		return rc;
	}
	locket_attempt_free(a);
	return rc;
}

int locket_attempt_fd(const locket_attempt_t *a)
{
	return a == NULL ? -1 : a->watch_fd;
}

int locket_attempt_retry_ms(const locket_attempt_t *a)
{
	return a == NULL ? 0 : a->retry_ms;
}

static int attempt_finish(locket_attempt_t *a, int rc)
{
	a->finished = 1;
	return rc;
}

int locket_attempt_try(locket_attempt_t *a)
{
	locket_t *lock;
	int rc, events;
	if (a == NULL)
		return locket__fail(LOCKET_EINVAL, "locket_attempt_try: attempt is NULL");
	if (a->finished)
		return locket__fail(LOCKET_EINVAL, "locket_attempt_try: the attempt is finished");
	lock = a->lock;
	handle_enter(lock);
	if (a->ref.fd == LOCKET__NO_FD) {
		/* The first try, or after a replaced file, a lease, or a fork (whose
		 * child handler closed the descriptor). */
		rc = open_tracked(lock, a->writable, &a->ref);
		if (rc == LOCKET_EWOULDBLOCK) {
			a->retry_ms = LEASE_RETRY_CEILING_MS;
			return locket__fail(LOCKET_EWOULDBLOCK,
					    "'%s' is leased by another program (opening it would block)",
					    lock->path);
		}
		if (rc != LOCKET_OK)
			return attempt_finish(a, rc);
		a->watch_fd = -1;
	}
	/* Watch (and drain) before the try, as a blocking wait does. */
	events = locket__os_waiter_watch(&a->waiter, lock->path, &a->watch_fd);
	{
		locket__wait try_once = { 0, 0, NULL, NULL, 0 };
		rc = locket__os_lock(a->ref.fd, lock->path, a->shared, &try_once, NULL);
	}
	if (rc == LOCKET_OK) {
		locket__key key = 0;
		int same = locket__os_same_file(a->ref.fd, lock->path,
						(lock->opts.flags & LOCKET_ALLOW_DIRECTORY) != 0, &key);
		if (same == 1) {
			locket__os_held(a->ref.fd, key);
			rc = take_slot(lock, &a->ref, key, 0, 1);
			if (rc == LOCKET_OK)
				return attempt_finish(a, LOCKET_OK); /* the handle holds it now */
		} else {
			locket__os_unlock(a->ref.fd, key);
			if (same < 0)
				return attempt_finish(a, same);
			/* Replaced: go on with the file the path names now. */
			close_tracked(&a->ref);
			events = 1;
			rc = locket__fail(LOCKET_EWOULDBLOCK, "'%s' was replaced", lock->path);
		}
	} else if (wants_write_open(rc, a->writable)) {
		close_tracked(&a->ref);
		a->writable = 1;
		events = 1;
		rc = locket__fail(LOCKET_EWOULDBLOCK, "'%s' needs a read-write descriptor", lock->path);
	}
	if (rc != LOCKET_EWOULDBLOCK)
		return attempt_finish(a, rc);
	/* After an event retry soon (a killed holder's close comes before its
	 * lock goes); without one back off, as locket__os_lock does. */
	if (events)
		a->retry_ms = 1;
	else
		a->retry_ms = a->retry_ms * 2 > ATTEMPT_RETRY_CEILING_MS ? ATTEMPT_RETRY_CEILING_MS
									 : a->retry_ms * 2;
	if (a->watch_fd < 0 && a->retry_ms > 16)
		a->retry_ms = 16; /* nothing to poll: only tries find the release */
	return rc;
}

void locket_attempt_free(locket_attempt_t *a)
{
	locket__waiter *spare;
	if (a == NULL)
		return;
	close_tracked(&a->ref); /* never locked between tries */
	spare = a->waiter;
#ifdef _WIN32
	locket__mutex_lock(&a->lock->mu);
	if (a->lock->waiter == NULL) {
		a->lock->waiter = spare;
		spare = NULL;
	}
	locket__mutex_unlock(&a->lock->mu);
#endif
	/* Linux: the attempt's waiter lends the process's inotify instance,
	 * which must go back now, not stay with an idle handle. */
	locket__os_waiter_free(spare);
	free(a);
}

int locket_release(locket_t *lock)
{
	struct open_fd ref;
	locket__key key;
	int64_t pid;
	int rc;

	if (lock == NULL)
		return locket__fail(LOCKET_EINVAL, "locket_release: lock is NULL");
	handle_enter(lock);
	pid = locket__os_pid();
	locket__mutex_lock(&lock->mu);
	if (lock->slot_fd == LOCKET__NO_FD || lock->slot_pid != pid) {
		int inherited = lock->slot_fd != LOCKET__NO_FD || lock->slot_inherited;
		locket__mutex_unlock(&lock->mu);
		if (inherited)
			return locket__fail(LOCKET_ENOTHELD,
					    "cannot release unlocked lock '%s' (the lock is the parent "
					    "process's, inherited through fork)",
					    lock->path);
		return locket__fail(LOCKET_ENOTHELD, "cannot release unlocked lock '%s'", lock->path);
	}
	/* The descriptor leaves the slot for this thread's own entry, so that
	 * another thread can fill the slot while this one closes. */
	move_tracked(&lock->slot_ref, &ref);
	key = lock->slot_key;
	lock->slot_fd = LOCKET__NO_FD;
	locket__cond_broadcast(&lock->slot_freed);
	locket__mutex_unlock(&lock->mu);
	/* Unlock before closing: a close alone would leave the lock with any
	 * copy of the descriptor in a forked child, and waiters on Linux are
	 * woken by the close, so the lock must already be free by then. */
	rc = locket__os_unlock(ref.fd, key);
	close_tracked(&ref);
	return rc;
}

int locket_locked(const locket_t *lock)
{
	locket_t *l = (locket_t *)lock; /* the mutex is not part of the value */
	int held;
	if (l == NULL)
		return 0;
	handle_enter(l);
	locket__mutex_lock(&l->mu);
	held = l->slot_fd != LOCKET__NO_FD && l->slot_pid == locket__os_pid();
	locket__mutex_unlock(&l->mu);
	return held;
}

int locket_holder_pid(locket_t *lock, int64_t *out_pid)
{
	if (out_pid != NULL)
		*out_pid = 0;
	if (lock == NULL || out_pid == NULL)
		return locket__fail(LOCKET_EINVAL, "locket_holder_pid: NULL argument");
	return locket__os_holder_pid(lock->path, out_pid);
}

const char *locket_path(const locket_t *lock)
{
	return lock == NULL ? NULL : lock->path;
}

/*
 * Locks on the caller's descriptor (locket_fd_lock): the same kernel lock and
 * the same wait as a handle's, on a descriptor that the caller opened and
 * keeps. No slot and no reopening: the lock belongs to the open file
 * description, whatever names the file by now, and locket never closes it.
 * (Includes here keep this section self-contained.)
 */
#include <limits.h>
#include <stdio.h>

static int fd_is_plausible(intptr_t fd)
{
#ifdef _WIN32
	return fd != 0 && fd != (intptr_t)LOCKET__NO_FD;
#else
	return fd >= 0 && fd <= INT_MAX;
#endif
}

/* What the OS layer gets as the file's path: on Linux one that names the
 * descriptor's own file, so that a timed wait can watch it (inotify follows
 * /proc/self/fd links to the open file); on Windows a label for messages. */
static void fd_path(intptr_t fd, char *buf, size_t size)
{
#ifdef _WIN32
	snprintf(buf, size, "handle %p", (void *)fd);
#else
	snprintf(buf, size, "/proc/self/fd/%d", (int)fd);
#endif
}

int locket_fd_lock_with(intptr_t fd, const locket_wait_options *opts)
{
	char path[64];
	locket__waiter *waiter = NULL;
	locket__wait how;
	unsigned int flags;
	int rc;

	if (!fd_is_plausible(fd))
		return locket__fail(LOCKET_EINVAL, "locket_fd_lock: %lld is not a descriptor",
				    (long long)fd);
	rc = locket__wait_init(&how, &flags, opts, "locket_fd_lock");
	if (rc != LOCKET_OK)
		return rc;
	fd_path(fd, path, sizeof path);
	rc = locket__os_lock((locket__fd)fd, path, (flags & LOCKET_SHARED) != 0, &how,
			     how.deadline == 0 ? NULL : &waiter);
	locket__os_waiter_free(waiter);
	if (rc == LOCKET_OK)
		locket__os_held((locket__fd)fd, 0);
	return rc;
}

int locket_fd_lock(intptr_t fd, int64_t timeout_ms, unsigned int flags)
{
	locket_wait_options o = LOCKET_WAIT_OPTIONS_INIT;
	o.timeout_ms = timeout_ms;
	o.flags = flags;
	return locket_fd_lock_with(fd, &o);
}

int locket_fd_unlock(intptr_t fd)
{
	if (!fd_is_plausible(fd))
		return locket__fail(LOCKET_EINVAL, "locket_fd_unlock: %lld is not a descriptor",
				    (long long)fd);
	return locket__os_unlock((locket__fd)fd, 0);
}
