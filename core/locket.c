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
 * fork(): the child inherits the slot (and a copy of the descriptor, which
 * shares the parent's lock). The slot remembers the pid that filled it, so a
 * child sees the handle as not held, cannot release the parent's lock
 * (LOCKET_ENOTHELD), and only ever closes its copy without unlocking.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

struct locket {
	char *path;               /* absolute path, fixed at creation */
	locket_options opts;      /* fixed at creation */
	locket__mutex mu;         /* guards slot_fd, slot_pid, waiter */
	locket__cond slot_freed;  /* broadcast whenever slot_fd is emptied */
	locket__fd slot_fd;       /* descriptor holding the lock, or LOCKET__NO_FD */
	int64_t slot_pid;         /* process that filled slot_fd */
	locket__waiter *waiter;   /* kept OS wait state; NULL while borrowed */
};

static int64_t deadline_after(int64_t timeout_ms)
{
	int64_t now;
	if (timeout_ms < 0)
		return LOCKET__FOREVER;
	if (timeout_ms == 0)
		return 0;
	/* The clock counts whole milliseconds: the call began somewhere inside
	 * the current one, so one more keeps the wait from ending early. */
	now = locket__now_ms() + 1;
	if (timeout_ms >= LOCKET__FOREVER - now)
		return LOCKET__FOREVER;
	return now + timeout_ms;
}

int locket_new(locket_t **out, const char *path, const locket_options *opts)
{
	locket_options o = LOCKET_OPTIONS_INIT;
	locket_t *lock;
	locket__fd fd;
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
		if (opts->flags & ~LOCKET_NO_CREATE)
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
	rc = locket__os_abspath(path, &lock->path);
	if (rc != LOCKET_OK)
		goto fail;
	/* Fail now, not at the first acquire, on a path that cannot be a lock file. */
	rc = locket__os_open(lock->path, &lock->opts, &fd);
	if (rc != LOCKET_OK)
		goto fail;
	locket__os_close(fd);
	rc = locket__mutex_init(&lock->mu);
	if (rc != LOCKET_OK)
		goto fail;
	rc = locket__cond_init(&lock->slot_freed);
	if (rc != LOCKET_OK) {
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

/* Close a descriptor that holds (or may hold) the lock. A descriptor
 * inherited through fork() is closed without unlocking: the lock is the
 * parent's. Returns the unlock result. */
static int drop_fd(locket__fd fd, int ours)
{
	int rc = LOCKET_OK;
	if (ours)
		rc = locket__os_unlock(fd);
	locket__os_close(fd);
	return rc;
}

void locket_free(locket_t *lock)
{
	if (lock == NULL)
		return;
	if (lock->slot_fd != LOCKET__NO_FD)
		drop_fd(lock->slot_fd, lock->slot_pid == locket__os_pid());
	locket__os_waiter_free(lock->waiter);
	locket__cond_destroy(&lock->slot_freed);
	locket__mutex_destroy(&lock->mu);
	free(lock->path);
	free(lock);
}

/* Wait in the kernel for the lock on fd, lending the handle's kept waiter to
 * this thread for the duration. */
static int wait_for_lock(locket_t *lock, locket__fd fd, int shared, int64_t deadline,
			 int interruptible, int *verified)
{
	locket__waiter *w;
	int rc;

	locket__mutex_lock(&lock->mu);
	w = lock->waiter;
	lock->waiter = NULL;
	locket__mutex_unlock(&lock->mu);

	rc = locket__os_lock(fd, lock->path, shared, deadline, interruptible, &w);
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

/* Open the file and take its kernel lock by the deadline. After a wait,
 * make sure the descriptor still is the file the path names: a lock on a
 * file that was replaced or removed meanwhile excludes nobody. */
static int lock_file(locket_t *lock, int shared, int64_t deadline, int interruptible,
		     locket__fd *out)
{
	for (;;) {
		locket__fd fd;
		int verified = 0;
		int rc = locket__os_open(lock->path, &lock->opts, &fd);
		if (rc != LOCKET_OK)
			return rc;
		rc = locket__os_lock(fd, lock->path, shared, 0, 0, NULL);
		if (rc == LOCKET_OK) {
			*out = fd;
			return LOCKET_OK;
		}
		if (rc == LOCKET_EWOULDBLOCK && deadline != 0)
			rc = wait_for_lock(lock, fd, shared, deadline, interruptible, &verified);
		if (rc == LOCKET_OK) {
			int same = verified ? 1 : locket__os_same_file(fd, lock->path);
			if (same == 1) {
				*out = fd;
				return LOCKET_OK;
			}
			drop_fd(fd, 1);
			if (same < 0)
				return same;
			continue; /* replaced: lock the file the path names now */
		}
		locket__os_close(fd);
		return rc;
	}
}

/* The kernel lock on fd is ours; now the handle's slot. It is only ever
 * taken here when two threads of this process hold shared locks through
 * one handle (an exclusive kernel lock excludes the slot's holder already),
 * or when it was inherited through fork(). On failure fd is unlocked and
 * closed, unless keep_fd, when it is only unlocked. */
static int take_slot(locket_t *lock, locket__fd fd, int64_t deadline, int keep_fd)
{
	int64_t pid = locket__os_pid();
	locket__mutex_lock(&lock->mu);
	while (lock->slot_fd != LOCKET__NO_FD) {
		if (lock->slot_pid != pid) {
			locket__os_close(lock->slot_fd); /* the parent's copy: never unlock */
			lock->slot_fd = LOCKET__NO_FD;
			break;
		}
		if (deadline == 0 ||
		    locket__cond_wait(&lock->slot_freed, &lock->mu, deadline) == LOCKET_ETIMEDOUT) {
			if (lock->slot_fd == LOCKET__NO_FD)
				break;
			locket__mutex_unlock(&lock->mu);
			if (keep_fd)
				locket__os_unlock(fd);
			else
				drop_fd(fd, 1);
			if (deadline == 0)
				return locket__fail(LOCKET_EWOULDBLOCK,
						    "'%s' is held through this handle", lock->path);
			return locket__fail(LOCKET_ETIMEDOUT,
					    "timed out waiting for '%s' (held through this handle)",
					    lock->path);
		}
	}
	lock->slot_fd = fd;
	lock->slot_pid = pid;
	locket__mutex_unlock(&lock->mu);
	return LOCKET_OK;
}

int locket_acquire(locket_t *lock, int64_t timeout_ms, unsigned int flags)
{
	int64_t deadline;
	locket__fd fd;
	int rc;

	if (lock == NULL)
		return locket__fail(LOCKET_EINVAL, "locket_acquire: lock is NULL");
	if (flags & ~(LOCKET_SHARED | LOCKET_INTERRUPTIBLE))
		return locket__fail(LOCKET_EINVAL, "locket_acquire: unknown flags 0x%x", flags);
	deadline = deadline_after(timeout_ms);

	rc = lock_file(lock, (flags & LOCKET_SHARED) != 0, deadline,
		       (flags & LOCKET_INTERRUPTIBLE) != 0, &fd);
	if (rc != LOCKET_OK)
		return rc;
	return take_slot(lock, fd, deadline, 0);
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
	locket__fd fd;           /* open, unlocked between tries */
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
	rc = locket__os_open(lock->path, &lock->opts, &a->fd);
	if (rc != LOCKET_OK) {
		free(a);
		return rc;
	}
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

int locket_attempt_try(locket_attempt_t *a)
{
	int rc, events;
	if (a == NULL)
		return locket__fail(LOCKET_EINVAL, "locket_attempt_try: attempt is NULL");
	if (a->fd == LOCKET__NO_FD)
		return locket__fail(LOCKET_EINVAL, "locket_attempt_try: the attempt is finished");
	/* Watch (and drain) before the try, as a blocking wait does. */
	events = locket__os_waiter_watch(&a->waiter, a->lock->path, &a->watch_fd);
	rc = locket__os_lock(a->fd, a->lock->path, a->shared, 0, 0, NULL);
	if (rc == LOCKET_OK) {
		int same = locket__os_same_file(a->fd, a->lock->path);
		if (same == 1) {
			rc = take_slot(a->lock, a->fd, 0, 1);
			if (rc == LOCKET_OK) {
				a->fd = LOCKET__NO_FD; /* the handle holds it now */
				return LOCKET_OK;
			}
		} else {
			locket__os_unlock(a->fd);
			if (same < 0)
				return same;
			/* Replaced: go on with the file the path names now. */
			locket__os_close(a->fd);
			a->fd = LOCKET__NO_FD;
			rc = locket__os_open(a->lock->path, &a->lock->opts, &a->fd);
			if (rc != LOCKET_OK)
				return rc;
			a->watch_fd = -1;
			events = 1;
			rc = locket__fail(LOCKET_EWOULDBLOCK, "'%s' was replaced", a->lock->path);
		}
	}
	if (rc == LOCKET_EWOULDBLOCK) {
		/* After an event retry soon (a killed holder's close comes before its
		 * lock goes); without one back off, as locket__os_lock does. */
		if (events)
			a->retry_ms = 1;
		else
			a->retry_ms = a->retry_ms * 2 > ATTEMPT_RETRY_CEILING_MS ? ATTEMPT_RETRY_CEILING_MS
										: a->retry_ms * 2;
		if (a->watch_fd < 0 && a->retry_ms > 16)
			a->retry_ms = 16; /* nothing to poll: only tries find the release */
	}
	return rc;
}

void locket_attempt_free(locket_attempt_t *a)
{
	locket__waiter *spare;
	if (a == NULL)
		return;
	if (a->fd != LOCKET__NO_FD)
		locket__os_close(a->fd); /* never locked between tries */
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
	locket__fd fd;
	int64_t pid;

	if (lock == NULL)
		return locket__fail(LOCKET_EINVAL, "locket_release: lock is NULL");
	pid = locket__os_pid();
	locket__mutex_lock(&lock->mu);
	fd = lock->slot_fd;
	if (fd == LOCKET__NO_FD || lock->slot_pid != pid) {
		int inherited = fd != LOCKET__NO_FD;
		locket__mutex_unlock(&lock->mu);
		if (inherited)
			return locket__fail(LOCKET_ENOTHELD,
					    "cannot release unlocked lock '%s' (the lock is the parent "
					    "process's, inherited through fork)",
					    lock->path);
		return locket__fail(LOCKET_ENOTHELD, "cannot release unlocked lock '%s'", lock->path);
	}
	lock->slot_fd = LOCKET__NO_FD;
	locket__cond_broadcast(&lock->slot_freed);
	locket__mutex_unlock(&lock->mu);
	/* Unlock before closing: a close alone would leave the lock with any
	 * copy of the descriptor in a forked child, and waiters on Linux are
	 * woken by the close, so the lock must already be free by then. */
	return drop_fd(fd, 1);
}

int locket_locked(const locket_t *lock)
{
	locket_t *l = (locket_t *)lock; /* the mutex is not part of the value */
	int held;
	if (l == NULL)
		return 0;
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
