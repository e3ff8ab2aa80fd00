/*
 * Attempts: an acquisition that an event loop drives. Unlike a series of
 * locket_acquire(lock, 0) tries, an attempt keeps its descriptor open
 * between tries: a try that opened and closed the file would itself make
 * a close event and wake every other waiter, and two such waiters would
 * keep waking each other.
 */
#include "handle.h"

#include <stdlib.h>

struct locket_attempt {
	locket_t *lock;
	int shared;
	int finished;           /* succeeded or failed: no more tries */
	int writable;           /* the filesystem wants a write open (NFS) */
	struct open_fd ref;     /* open, unlocked between tries; NO_FD: open at the next try */
	locket__waiter *waiter; /* borrowed from the handle, or our own */
	int watch_fd;           /* what to poll, or -1 */
	int retry_ms;           /* longest wait before the next try */
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
		return locket__fail(LOCKET_EINVAL, "locket_attempt_start: unknown flags 0x%x",
				    flags);
	a = (locket_attempt_t *)calloc(1, sizeof *a);
	if (a == NULL)
		return locket__fail(LOCKET_ENOMEM, "out of memory starting an attempt");
	a->lock = lock;
	a->shared = (flags & LOCKET_SHARED) != 0;
	a->writable = lock->span.kind == LOCKET_KIND_OFD && !a->shared; /* see lock_file() */
	a->watch_fd = -1;
	a->retry_ms = ATTEMPT_RETRY_FIRST_MS;
	a->ref.fd = LOCKET__NO_FD;
	locket__handle_enter(lock);
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
	locket__handle_enter(lock);
	if (a->ref.fd == LOCKET__NO_FD) {
		/* The first try, or after a replaced file, a lease, or a fork (whose
		 * child handler closed the descriptor). */
		rc = locket__open_tracked(lock, a->writable, &a->ref);
		if (rc == LOCKET_EWOULDBLOCK) {
			a->retry_ms = LOCKET__LEASE_RETRY_CEILING_MS;
			return locket__fail(
				LOCKET_EWOULDBLOCK,
				"'%s' is leased by another program (opening it would block)",
				lock->path);
		}
		if (rc == LOCKET_OK && (lock->opts.flags & LOCKET_ACROSS_HOSTS) &&
		    (rc = locket__scope_refuse(a->ref.fd, lock->path, lock->span.kind)) !=
			    LOCKET_OK)
			locket__close_tracked(&a->ref);
		if (rc != LOCKET_OK)
			return attempt_finish(a, rc);
		a->watch_fd = -1;
	}
	/* Watch (and drain) before the try, as a blocking wait does. */
	events = locket__os_waiter_watch(&a->waiter, lock->path, &a->watch_fd);
	{
		locket__wait try_once = { 0, 0, NULL, NULL, 0 };
		rc = locket__os_lock(a->ref.fd, lock->path, a->shared, &lock->span, &try_once,
				     NULL);
		if (rc == LOCKET_ENOTSUP)
			locket__scope_note_unsupported(a->ref.fd); /* name the filesystem */
	}
	if (rc == LOCKET_OK) {
		locket__key key = 0;
		int same = locket__os_same_file(a->ref.fd, lock->path,
						(lock->opts.flags & LOCKET_ALLOW_DIRECTORY) != 0,
						&key);
		if (same == 1) {
			locket__os_held(a->ref.fd, key, &lock->span);
			rc = locket__take_slot(lock, &a->ref, key, NULL, 1);
			if (rc == LOCKET_OK)
				return attempt_finish(a, LOCKET_OK); /* the handle holds it now */
		} else {
			locket__os_unlock(a->ref.fd, key, &lock->span);
			if (same < 0)
				return attempt_finish(a, same);
			/* Replaced: go on with the file the path names now. */
			locket__close_tracked(&a->ref);
			events = 1;
			rc = locket__fail(LOCKET_EWOULDBLOCK, "'%s' was replaced", lock->path);
		}
	} else if (locket__wants_write_open(rc, a->writable)) {
		locket__close_tracked(&a->ref);
		a->writable = 1;
		events = 1;
		rc = locket__fail(LOCKET_EWOULDBLOCK, "'%s' needs a read-write descriptor",
				  lock->path);
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
	locket__close_tracked(&a->ref); /* never locked between tries */
	spare = a->waiter;
	if (locket__os_handle_keeps_waiter()) {
		locket__mutex_lock(&a->lock->mu);
		if (a->lock->waiter == NULL) {
			a->lock->waiter = spare;
			spare = NULL;
		}
		locket__mutex_unlock(&a->lock->mu);
	}
	/* Otherwise (Linux) the attempt's waiter lends the process's inotify
	 * instance, which must go back now, not stay with an idle handle. */
	locket__os_waiter_free(spare);
	free(a);
}
