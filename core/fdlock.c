/*
 * Locks on the caller's descriptor (locket_fd_lock): the same kernel lock and
 * the same wait as a handle's, on a descriptor that the caller opened and
 * keeps. No slot and no reopening: the lock belongs to the open file
 * description, whatever names the file by now, and locket never closes it.
 */
#include "internal.h"

int locket_fd_lock_with(intptr_t fd, const locket_wait_options *opts)
{
	char path[64];
	locket__waiter *waiter = NULL;
	locket__wait how;
	locket__span span;
	unsigned int flags;
	int rc;

	if (!locket__os_fd_is_plausible(fd))
		return locket__fail(LOCKET_EINVAL, "locket_fd_lock: %lld is not a descriptor",
				    (long long)fd);
	rc = locket__wait_init(&how, &flags, opts, "locket_fd_lock", &span);
	if (rc != LOCKET_OK)
		return rc;
	locket__os_fd_label(fd, path, sizeof path);
	rc = locket__os_lock((locket__fd)fd, path, (flags & LOCKET_SHARED) != 0, &span, &how,
			     how.deadline == 0 ? NULL : &waiter);
	locket__os_waiter_free(waiter);
	if (rc == LOCKET_ENOTSUP)
		locket__scope_note_unsupported((locket__fd)fd); /* name the filesystem */
	if (rc == LOCKET_OK)
		locket__os_held((locket__fd)fd, 0, &span);
	return rc;
}

int locket_fd_lock(intptr_t fd, int64_t timeout_ms, unsigned int flags)
{
	locket_wait_options o = LOCKET_WAIT_OPTIONS_INIT;
	o.timeout_ms = timeout_ms;
	o.flags = flags;
	return locket_fd_lock_with(fd, &o);
}

int locket_fd_unlock_with(intptr_t fd, const locket_wait_options *opts)
{
	locket__wait how;
	locket__span span;
	unsigned int flags;
	int rc;
	if (!locket__os_fd_is_plausible(fd))
		return locket__fail(LOCKET_EINVAL, "locket_fd_unlock: %lld is not a descriptor",
				    (long long)fd);
	rc = locket__wait_init(&how, &flags, opts, "locket_fd_unlock", &span);
	if (rc != LOCKET_OK)
		return rc;
	return locket__os_unlock((locket__fd)fd, 0, &span);
}

int locket_fd_unlock(intptr_t fd)
{
	return locket_fd_unlock_with(fd, NULL);
}
