/*
 * locket_check(): is the held lock still the lock of the file the path
 * names? What PostgreSQL's RecheckDataDirLockFile asks of its lock file: a
 * clean-up job that removed the file, or a deploy that replaced the
 * directory, leaves the holder holding a lock that nobody who opens the path
 * now will meet. The lock stays held: the caller decides what to do.
 */
#include "handle.h"

int locket_check(locket_t *lock)
{
	locket__key key;
	int same;
	if (lock == NULL)
		return locket__fail(LOCKET_EINVAL, "locket_check: lock is NULL");
	locket__handle_enter(lock);
	locket__mutex_lock(&lock->mu);
	if (lock->slot_fd == LOCKET__NO_FD || lock->slot_pid != locket__os_pid()) {
		locket__mutex_unlock(&lock->mu);
		return locket__fail(LOCKET_ENOTHELD, "cannot check unlocked lock '%s'", lock->path);
	}
	/* Under the mutex: the descriptor cannot be released and closed meanwhile. */
	same = locket__os_same_file(lock->slot_fd, lock->path,
				    (lock->opts.flags & LOCKET_ALLOW_DIRECTORY) != 0, &key);
	locket__mutex_unlock(&lock->mu);
	if (same == 1)
		return LOCKET_OK;
	if (same == 0)
		return locket__fail(LOCKET_ELOST,
				    "lock lost: '%s' names another file than the one locked (it "
				    "was replaced or renamed away while held)",
				    lock->path);
	/* A path that leads to no file (removed, or a symlink of it now loops or
	 * expands past the longest path: EINVAL) no longer names the locked file. */
	if (same == LOCKET_ENOENT || same == LOCKET_EINVAL)
		return locket__fail(LOCKET_ELOST,
				    "lock lost: '%s' no longer exists (the locked file, or a "
				    "directory or symlink of its path, was removed, renamed or "
				    "changed while held)",
				    lock->path);
	return same;
}
