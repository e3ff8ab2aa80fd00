/*
 * locket's error codes, as one table (libuv's UV_ERRNO_MAP): included by
 * locket.h, and by the SWIG bindings and the tests, so that every list of
 * the codes is made from this one. XX(SUFFIX, VALUE, NAME, TEXT) for each:
 * LOCKET_<SUFFIX> = VALUE in enum locket_error, NAME from
 * locket_error_name(), TEXT from locket_strerror(). The values are part of
 * the ABI and the same on every OS; they run from 0 down, without gaps.
 *
 * - OK, "ok": success.
 * - EWOULDBLOCK, "would_block": a try (timeout 0) found the lock held
 *   elsewhere.
 * - ETIMEDOUT, "timeout": the deadline passed while the lock was held
 *   elsewhere.
 * - ENOTHELD, "not_held": release of a lock that this handle does not hold.
 * - EINTR, "interrupted": an interruptible wait was interrupted by a signal
 *   (or its locket_interrupt_fn said so).
 * - EINVAL, "invalid_argument": a bad argument: NULL, empty path, bad flags,
 *   name too long, a NaN or negative timeout in seconds.
 * - ENOENT, "not_found": a directory of the path does not exist, or the file
 *   does not and LOCKET_NO_CREATE was given.
 * - EACCES, "permission_denied": the file cannot be opened or created for
 *   lack of permission.
 * - EISDIR, "is_a_directory": the path names a directory (without
 *   LOCKET_ALLOW_DIRECTORY).
 * - ENOTSUP, "not_supported": the filesystem or OS cannot lock this file
 *   (ENOLCK on NFS, for example).
 * - ENOMEM, "out_of_memory": memory could not be allocated.
 * - EIO, "io_error": any other error the OS reported; see
 *   locket_last_os_error().
 * - ESCOPE, "scope": LOCKET_ACROSS_HOSTS was asked for and the lock file's
 *   filesystem cannot exclude processes on other hosts or other views of
 *   the file (locket_scope() says "this-host" or "unknown"); the message
 *   names the filesystem and why.
 * - ELOST, "lock_lost": locket_check(): the lock is held, but the path no
 *   longer names the locked file (it was removed, replaced or renamed away);
 *   the lock stays held until released.
 */
#ifndef LOCKET_ERRORS_H
#define LOCKET_ERRORS_H

#define LOCKET_ERROR_MAP(XX)                                                                  \
	XX(OK, 0, "ok", "success")                                                            \
	XX(EWOULDBLOCK, -1, "would_block", "the lock is held elsewhere")                      \
	XX(ETIMEDOUT, -2, "timeout", "timed out waiting for the lock")                        \
	XX(ENOTHELD, -3, "not_held", "cannot release unlocked lock")                          \
	XX(EINTR, -4, "interrupted", "interrupted by a signal while waiting for the lock")    \
	XX(EINVAL, -5, "invalid_argument", "invalid argument")                                \
	XX(ENOENT, -6, "not_found", "no such file or directory")                              \
	XX(EACCES, -7, "permission_denied", "permission denied")                              \
	XX(EISDIR, -8, "is_a_directory", "is a directory")                                    \
	XX(ENOTSUP, -9, "not_supported", "locking is not supported for this file")            \
	XX(ENOMEM, -10, "out_of_memory", "out of memory")                                     \
	XX(EIO, -11, "io_error", "input/output error")                                        \
	XX(ESCOPE, -12, "scope", "the lock would not exclude other hosts on this filesystem") \
	XX(ELOST, -13, "lock_lost", "the lock file was removed or replaced while held")

#endif /* LOCKET_ERRORS_H */
