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
 * - A release ends with a close(), which other programs' waiters see (an
 *   inotify close event, on Linux); locket's own waiters are woken by the
 *   release itself (core/linux/wake.c).
 * - A lock file that someone replaced between two acquisitions is locked as
 *   the file the path names now, like every other process would.
 * - Nothing is held open for a forked child to inherit while unlocked.
 *
 * The "slot" below records which descriptor holds the lock for the handle.
 * It makes a handle binary even in shared mode, where the kernel would let
 * two threads of one handle both hold a shared lock: the second one waits on
 * a condition variable for the slot.
 *
 * fork(): every descriptor this file opens is recorded on the process-wide
 * list in fds.c, whose fork handlers close them in a child without
 * unlocking, and a handle is made anew at its first call in a child. The
 * slot also remembers the pid that filled it, which covers children made
 * without the handlers (raw clone(), _Fork()): they see the handle as not
 * held and never unlock the parent's lock.
 *
 * The other parts of the core: fds.c (the descriptor list and fork),
 * attempt.c (acquisitions an event loop drives), fdlock.c (locks on the
 * caller's descriptors), wait.c (deadlines and interruption), error.c.
 */
#include "handle.h"

#include <stdlib.h>
#include <string.h>

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
		if (opts->flags &
		    ~(LOCKET_NO_CREATE | LOCKET_ALLOW_DIRECTORY | LOCKET_ACROSS_HOSTS))
			return locket__fail(LOCKET_EINVAL, "unknown locket_options flags 0x%x",
					    opts->flags);
		if (opts->file_mode & ~07777u)
			return locket__fail(LOCKET_EINVAL, "file_mode 0%o is not a permission mode",
					    opts->file_mode);
		o.file_mode = opts->file_mode;
		o.flags = opts->flags;
		/* Only the fields the caller's version has. */
		if (opts->version >= 2) {
			locket__span sp;
			o.kind = opts->kind;
			o.start = opts->start;
			o.length = opts->length;
			sp.kind = o.kind;
			sp.start = o.start;
			sp.length = o.length;
			rc = locket__span_check(&sp, "locket_new");
			if (rc != LOCKET_OK)
				return rc;
		}
	}

	lock = (locket_t *)calloc(1, sizeof *lock);
	if (lock == NULL)
		return locket__fail(LOCKET_ENOMEM, "out of memory creating a lock handle");
	lock->opts = o;
	lock->span.kind = o.kind;
	lock->span.start = o.start;
	lock->span.length = o.length;
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
	lock->epoch = locket__child_epoch;
	/* Fail now, not at the first acquire, on a path that cannot be a lock
	 * file (same_file refuses a directory). A leased file (LOCKET_EWOULDBLOCK
	 * from the open) is a good one. */
	if (locket__os_probe(lock->path, &lock->opts))
		rc = LOCKET_OK; /* checked without a descriptor to close (POSIX locks) */
	else if ((rc = locket__open_tracked(lock, 0, &probe)) == LOCKET_OK) {
		locket__key key;
		int same = locket__os_same_file(probe.fd, lock->path,
						(o.flags & LOCKET_ALLOW_DIRECTORY) != 0, &key);
		locket__close_tracked(&probe);
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
	locket__handle_enter(lock);
	if (lock->slot_fd != LOCKET__NO_FD) {
		/* A slot filled before a fork made without the fork handlers is
		 * the parent's: close the copy, never unlock it. */
		if (lock->slot_pid == locket__os_pid())
			locket__os_unlock(lock->slot_fd, lock->slot_key, &lock->span);
		locket__close_tracked(&lock->slot_ref);
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

	rc = locket__os_lock(fd, lock->path, shared, &lock->span, how, &w);
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
int locket__wants_write_open(int rc, int writable)
{
	return !writable && rc == LOCKET_EIO && locket__os_lock_needs_write(locket_last_os_error());
}

/* The open would block: another program holds a lease on the file (Samba,
 * NFS servers) or a mandatory lock. The open has started breaking the
 * lease; wait it out within the deadline, retrying with a backoff. Returns
 * LOCKET_OK to open again, or the error that ends the acquisition. */
static int wait_out_lease(const char *path, locket__wait *how, int64_t *retry_ms)
{
	int64_t now = locket__now_ms(), ms = *retry_ms, deadline = how->deadline;
	if (deadline == 0)
		return locket__fail(LOCKET_EWOULDBLOCK,
				    "'%s' is leased by another program (opening it would block)",
				    path);
	if (now >= deadline)
		return locket__fail(
			LOCKET_ETIMEDOUT,
			"timed out waiting for another program's lease on '%s' to be broken", path);
	if (deadline != LOCKET__FOREVER && deadline - now < ms)
		ms = deadline - now;
	*retry_ms = *retry_ms * 2 > LOCKET__LEASE_RETRY_CEILING_MS ? LOCKET__LEASE_RETRY_CEILING_MS
								   : *retry_ms * 2;
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
static int lock_file_loop(locket_t *lock, int shared, locket__wait *how, struct open_fd *ref,
			  locket__key *key)
{
	const int allow_dir = (lock->opts.flags & LOCKET_ALLOW_DIRECTORY) != 0;
	locket__wait try_once = *how;
	/* An exclusive OFD lock needs a read-write descriptor (EBADF on a
	 * read-only one); only that case opens read-write (locket_new()). */
	int writable = lock->span.kind == LOCKET_KIND_OFD && !shared;
	int64_t lease_retry_ms = 1;
	try_once.deadline = 0;
	for (;;) {
		int rc = locket__open_tracked(lock, writable, ref), verified = 0;
		if (rc == LOCKET_EWOULDBLOCK) {
			rc = wait_out_lease(lock->path, how, &lease_retry_ms);
			if (rc != LOCKET_OK)
				return rc;
			continue;
		}
		if (rc != LOCKET_OK)
			return rc;
		/* Judged on the file about to be locked (core/scope.c), again after
		 * every path switch; nothing is looked at without the flag. */
		if ((lock->opts.flags & LOCKET_ACROSS_HOSTS) &&
		    (rc = locket__scope_refuse(ref->fd, lock->path, lock->span.kind)) !=
			    LOCKET_OK) {
			locket__close_tracked(ref);
			return rc;
		}
		rc = locket__os_lock(ref->fd, lock->path, shared, &lock->span, &try_once, NULL);
		if (rc == LOCKET_EWOULDBLOCK && how->deadline != 0)
			rc = wait_for_lock(lock, ref->fd, shared, how, &verified);
		if (rc == LOCKET_ENOTSUP)
			locket__scope_note_unsupported(ref->fd); /* name the filesystem */
		if (rc == LOCKET_OK) {
			int same = verified ? 1
					    : locket__os_same_file(ref->fd, lock->path, allow_dir,
								   key);
			if (same == 1) {
				locket__os_held(ref->fd, *key, &lock->span);
				return LOCKET_OK;
			}
			locket__os_unlock(ref->fd, *key, &lock->span);
			locket__close_tracked(ref);
			if (same < 0)
				return same;
			continue; /* the path leads elsewhere now: lock that file */
		}
		locket__close_tracked(ref);
		if (locket__wants_write_open(rc, writable)) {
			writable = 1;
			continue;
		}
		return rc;
	}
}

/* A thread cancelled in an acquisition (see LOCKET__ON_CANCEL_PUSH): its
 * descriptor, on the list from its stack, is unlocked (it may have been
 * granted) and closed; in the slot's wait, the handle's mutex, which the
 * cancelled condition wait took back, is unlocked first. */
struct cancelled {
	locket_t *lock;
	struct open_fd *ref;
};

static void drop_cancelled(void *arg)
{
	struct cancelled *c = (struct cancelled *)arg;
	if (c->ref->fd != LOCKET__NO_FD) {
		locket__os_unlock(c->ref->fd, 0, &c->lock->span);
		locket__close_tracked(c->ref);
	}
}

static void drop_cancelled_slot_wait(void *arg)
{
	locket__mutex_unlock(&((struct cancelled *)arg)->lock->mu);
	drop_cancelled(arg);
}

static int lock_file(locket_t *lock, int shared, locket__wait *how, struct open_fd *ref,
		     locket__key *key)
{
	struct cancelled c;
	int rc;
	c.lock = lock;
	c.ref = ref;
	ref->fd = LOCKET__NO_FD;
	LOCKET__ON_CANCEL_PUSH(drop_cancelled, &c);
	rc = lock_file_loop(lock, shared, how, ref, key);
	LOCKET__ON_CANCEL_POP();
	return rc;
}

/* The kernel lock on ref's descriptor is ours; now the handle's slot. It is
 * only ever taken here when two threads of this process hold shared locks
 * through one handle (an exclusive kernel lock excludes the slot's holder
 * already), or when it was filled before a fork made without the fork
 * handlers. On success the descriptor moves to the slot; on failure it is
 * unlocked and closed, unless keep_fd, when it is only unlocked. */
int locket__take_slot(locket_t *lock, struct open_fd *ref, locket__key key, locket__wait *how,
		      int keep_fd)
{
	const int64_t deadline = how == NULL ? 0 : how->deadline;
	int64_t pid = locket__os_pid();
	int rc = LOCKET_OK;
	struct cancelled c;
	c.lock = lock;
	c.ref = ref;
	locket__mutex_lock(&lock->mu);
	LOCKET__ON_CANCEL_PUSH(drop_cancelled_slot_wait, &c);
	while (lock->slot_fd != LOCKET__NO_FD) {
		int64_t until = deadline;
		if (lock->slot_pid != pid) {
			/* Filled before a fork made without the fork handlers: the
			 * parent's copy. Never unlock it. */
			locket__close_tracked(&lock->slot_ref);
			lock->slot_fd = LOCKET__NO_FD;
			break;
		}
		if (deadline == 0) {
			rc = locket__fail(LOCKET_EWOULDBLOCK, "'%s' is held through this handle",
					  lock->path);
			break;
		}
		/* A wait with an interrupt callback asks it at least every
		 * LOCKET_INTERRUPT_CHECK_MS, with no internal lock held. */
		if (how->interrupted != NULL) {
			int64_t cap = locket__wait_cap_ms(how, LOCKET_INTERRUPT_CHECK_MS);
			if (cap < LOCKET__FOREVER - locket__now_ms())
				until = locket__now_ms() + cap;
			if (until > deadline)
				until = deadline;
		}
		if (locket__cond_wait(&lock->slot_freed, &lock->mu, until) == LOCKET_ETIMEDOUT &&
		    lock->slot_fd != LOCKET__NO_FD) {
			int end;
			if (until == deadline) {
				rc = locket__fail(
					LOCKET_ETIMEDOUT,
					"timed out waiting for '%s' (held through this handle)",
					lock->path);
				break;
			}
			locket__mutex_unlock(&lock->mu);
			end = locket__wait_should_end(how, 0);
			locket__mutex_lock(&lock->mu);
			if (end) {
				rc = locket__fail(LOCKET_EINTR,
						  "interrupted while waiting for '%s'", lock->path);
				break;
			}
		}
	}
	LOCKET__ON_CANCEL_POP();
	if (rc != LOCKET_OK) {
		locket__mutex_unlock(&lock->mu);
		locket__os_unlock(ref->fd, key, &lock->span);
		if (!keep_fd)
			locket__close_tracked(ref);
		return rc;
	}
	locket__move_tracked(ref, &lock->slot_ref);
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
	locket__handle_enter(lock);
	rc = locket__wait_init(&how, &flags, opts, "locket_acquire", NULL);
	if (rc != LOCKET_OK)
		return rc;
	rc = lock_file(lock, (flags & LOCKET_SHARED) != 0, &how, &ref, &key);
	if (rc != LOCKET_OK)
		return rc;
	return locket__take_slot(lock, &ref, key, &how, 0);
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
	locket__handle_enter(lock);
	rc = locket__wait_init(&how, &flags, opts, "locket_acquire_detached", NULL);
	if (rc != LOCKET_OK)
		return rc;
	rc = lock_file(lock, (flags & LOCKET_SHARED) != 0, &how, &ref, &key);
	if (rc != LOCKET_OK)
		return rc;
	rc = locket__os_make_inheritable(ref.fd);
	if (rc != LOCKET_OK) {
		locket__os_unlock(ref.fd, key, &lock->span);
		locket__close_tracked(&ref);
		return rc;
	}
	*out_fd = (intptr_t)ref.fd;
	locket__untrack(&ref); /* off the list: the fork handlers leave it alone */
	return LOCKET_OK;
}

int locket_release(locket_t *lock)
{
	struct open_fd ref;
	locket__key key;
	int64_t pid;
	int rc;

	if (lock == NULL)
		return locket__fail(LOCKET_EINVAL, "locket_release: lock is NULL");
	locket__handle_enter(lock);
	pid = locket__os_pid();
	locket__mutex_lock(&lock->mu);
	if (lock->slot_fd == LOCKET__NO_FD || lock->slot_pid != pid) {
		int inherited = lock->slot_fd != LOCKET__NO_FD || lock->slot_inherited;
		locket__mutex_unlock(&lock->mu);
		if (inherited)
			return locket__fail(
				LOCKET_ENOTHELD,
				"cannot release unlocked lock '%s' (the lock is the parent "
				"process's, inherited through fork)",
				lock->path);
		return locket__fail(LOCKET_ENOTHELD, "cannot release unlocked lock '%s'",
				    lock->path);
	}
	/* The descriptor leaves the slot for this thread's own entry, so that
	 * another thread can fill the slot while this one closes. */
	locket__move_tracked(&lock->slot_ref, &ref);
	key = lock->slot_key;
	lock->slot_fd = LOCKET__NO_FD;
	locket__cond_broadcast(&lock->slot_freed);
	locket__mutex_unlock(&lock->mu);
	/* Unlock before closing: a close alone would leave the lock with any
	 * copy of the descriptor in a forked child, and waiters on Linux are
	 * woken by the close, so the lock must already be free by then. */
	rc = locket__os_unlock(ref.fd, key, &lock->span);
	locket__close_tracked(&ref);
	return rc;
}

int locket_locked(const locket_t *lock)
{
	locket_t *l = (locket_t *)lock; /* the mutex is not part of the value */
	int held;
	if (l == NULL)
		return 0;
	locket__handle_enter(l);
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
	return locket__os_holder_pid(lock->path, &lock->span, out_pid);
}

const char *locket_path(const locket_t *lock)
{
	return lock == NULL ? NULL : lock->path;
}
