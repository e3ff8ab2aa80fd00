/*
 * locket: cross-process file locks.
 *
 * A lock is identified by the file it locks. Two handles on the same file,
 * whatever path spelling reached it, exclude each other, whether they live in
 * one process or in two. A process that dies, however it dies, releases its
 * locks: they are the kernel's locks (flock(2) on Linux, LockFileEx on
 * Windows), never marker files.
 *
 * Conventions (the same for every function):
 * - Functions that can fail return an int: LOCKET_OK (0) on success or one
 *   of the negative locket_error codes. The codes have fixed values on every
 *   OS. The detail (the OS error number and a message naming the path) is
 *   kept per thread and read with locket_last_error_*(); it is set on every
 *   failure and never replaces the return code.
 * - Timeouts are in milliseconds: negative waits forever, 0 tries once,
 *   positive waits at most that long, measured on a monotonic clock with one
 *   deadline for the whole call.
 * - Strings are UTF-8 and NUL-terminated.
 * - Nothing here installs signal handlers, changes the umask or starts
 *   threads. The process-wide state the library keeps is listed under
 *   "Process-wide state" below, with when each piece is given back.
 */
#ifndef LOCKET_H
#define LOCKET_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Export macro: LOCKET_STATIC when linking the static library. */
#if defined(LOCKET_STATIC)
#define LOCKET_EXTERN(type) extern type
#elif defined(_WIN32)
#if defined(LOCKET_BUILDING)
#define LOCKET_EXTERN(type) extern __declspec(dllexport) type
#else
#define LOCKET_EXTERN(type) extern __declspec(dllimport) type
#endif
#elif defined(__GNUC__)
#define LOCKET_EXTERN(type) extern __attribute__((visibility("default"))) type
#else
#define LOCKET_EXTERN(type) extern type
#endif

#define LOCKET_VERSION_MAJOR 2
#define LOCKET_VERSION_MINOR 0
#define LOCKET_VERSION_PATCH 0
#define LOCKET_VERSION_STRING "2.0.0"
/* MAJOR * 10000 + MINOR * 100 + PATCH, comparable with locket_version_number(). */
#define LOCKET_VERSION_NUMBER 20000

/*
 * Error codes. The values are part of the ABI and the same on every OS;
 * each is documented in locket_errors.h, whose LOCKET_ERROR_MAP is the one
 * table of them (the enum below, the library's names and texts, the SWIG
 * bindings and the tests are all made from it). locket_error_name() gives
 * each a stable lower-case name that the bindings and the conformance suite
 * use; locket_strerror() a short description.
 */
#include "locket_errors.h"

#define LOCKET__ERROR_ENUM(suffix, value, name, text) LOCKET_##suffix = value,
typedef enum locket_error {
	LOCKET_ERROR_MAP(LOCKET__ERROR_ENUM)
} locket_error;
#undef LOCKET__ERROR_ENUM

/** Lowest (most negative) error code; codes run from LOCKET_ERROR_MIN to 0. */
#define LOCKET_ERROR_MIN LOCKET_ELOST

/*
 * Opaque lock handle. Created unlocked by locket_new(), destroyed by
 * locket_free(). A handle is binary: held or not held, whatever its mode.
 *
 * Thread-safety: one handle may be used by several threads at once. Two
 * threads acquiring through one handle exclude each other (the handle is
 * not re-entrant: a thread that acquires a handle it already holds waits for
 * a release, like a plain mutex), and any thread may release it. A thread
 * cancelled (pthread_cancel) while it waits in an acquisition leaves
 * nothing behind: no lock, no descriptor, the handle usable by the others.
 */
typedef struct locket locket_t;

/* Flags for locket_options.flags. */
/** Fail with LOCKET_ENOENT instead of creating a missing lock file. */
#define LOCKET_NO_CREATE 0x1u
/** Accept a directory as the lock file (POSIX; flock(1) does, and so does
 *  the locket CLI). Without it a directory fails with LOCKET_EISDIR. */
#define LOCKET_ALLOW_DIRECTORY 0x2u
/** Refuse to take the lock (LOCKET_ESCOPE) where it cannot exclude every
 *  process that can open the file, on every host: where locket_scope() of
 *  the descriptor about to be locked says "this-host" or "unknown". Judged
 *  at every acquisition on the file actually opened (after a path switch
 *  too), from the mount behind that descriptor (Linux: its mount id and
 *  /proc/self/mountinfo, cached per mount for a second; about a microsecond
 *  per acquisition). Without it nothing is looked at. See
 *  docs/filesystems.md. */
#define LOCKET_ACROSS_HOSTS 0x4u

/* Flags for locket_acquire(). */
/** Take a shared (reader) lock instead of an exclusive (writer) one. */
#define LOCKET_SHARED 0x1u
/** End the wait with LOCKET_EINTR when a signal handler runs on this
 *  thread (POSIX); without it the wait goes on until the same deadline. */
#define LOCKET_INTERRUPTIBLE 0x2u

/* Kinds of kernel lock, for locket_options.kind and locket_wait_options.kind
 * (version 2). docs/design.md, "Which kernel lock", says when to pick which. */
/** flock(2) on the whole file (the default): what flock(1), locket.py,
 *  filelock and portalocker's default take. On Windows, LockFileEx on byte 0
 *  (what locket.py and filelock lock there). No byte range. */
#define LOCKET_KIND_FLOCK 0u
/** An open file description lock (Linux 3.15+: fcntl F_OFD_SETLK) on a byte
 *  range: it conflicts with POSIX record locks (lockf, fcntl F_SETLK,
 *  fasteners, flock --fcntl) and other OFD locks on overlapping bytes, not
 *  with flock(2) locks on local filesystems, and belongs to the descriptor
 *  as a flock lock does. An exclusive one needs a read-write descriptor, so
 *  a handle opens the file read-write for it (see locket_new()). Where the
 *  OS has no OFD locks (macOS, the BSDs, Linux before 3.15) acquisitions
 *  fail with LOCKET_ENOTSUP: never a process-owned F_SETLK in its place.
 *  On Windows the kind is meaningless: every kind is LockFileEx on the
 *  range. */
#define LOCKET_KIND_OFD 1u

#define LOCKET_OPTIONS_VERSION 2

/*
 * Options for locket_new(). Initialise with LOCKET_OPTIONS_INIT (or
 * locket_options_init()) and change the fields you need: later versions add
 * fields at the end and bump LOCKET_OPTIONS_VERSION, and the library reads
 * only the fields that the given version has.
 */
typedef struct locket_options {
	/** LOCKET_OPTIONS_VERSION of the header the caller compiled against. */
	unsigned int version;
	/** Permission bits of a lock file that locket creates (the umask
	 *  applies); default 0666. Ignored on Windows. Existing files are never
	 *  changed. */
	unsigned int file_mode;
	/** Bitwise OR of LOCKET_NO_CREATE, LOCKET_ALLOW_DIRECTORY and
	 *  LOCKET_ACROSS_HOSTS; default 0. */
	unsigned int flags;
	/* Version 2. */
	/** LOCKET_KIND_FLOCK (the default) or LOCKET_KIND_OFD. */
	unsigned int kind;
	/** First byte of the locked range (>= 0); default 0. Only
	 *  LOCKET_KIND_OFD (and any kind on Windows) takes a range other than
	 *  start 0, length 0: LOCKET_KIND_FLOCK locks the whole file. */
	int64_t start;
	/** Bytes in the range (>= 0, start + length within int64); 0 (the
	 *  default): from start to the end of the file, however it grows (on
	 *  Windows: the largest range LockFileEx takes from start). A range that
	 *  does not cover byte 0 does not exclude locket.py or filelock on
	 *  Windows, which lock byte 0 alone. */
	int64_t length;
} locket_options;

#define LOCKET_OPTIONS_INIT { LOCKET_OPTIONS_VERSION, 0666u, 0u, LOCKET_KIND_FLOCK, 0, 0 }

/**
 * Fill *opts with the defaults (the same as LOCKET_OPTIONS_INIT).
 * Does nothing when opts is NULL. Thread-safe.
 */
LOCKET_EXTERN(void) locket_options_init(locket_options *opts);

/**
 * Create a handle for the lock file at path, without taking the lock.
 *
 * The file is opened once here (and created with opts->file_mode when
 * missing, unless LOCKET_NO_CREATE) so that a bad path fails now, not at the
 * first acquire. locket never truncates, writes, or deletes the file, and
 * keeps no descriptor open while the lock is not held (but during an
 * attempt, see below).
 *
 * @param out   receives the new handle; set to NULL on failure.
 * @param path  UTF-8 path of the lock file; relative paths are resolved
 *              against the working directory now.
 * @param opts  options, or NULL for the defaults.
 * With LOCKET_KIND_OFD, each shared acquisition opens the file read-only
 * and each exclusive one read-write (an OFD write lock needs it), without
 * blocking: a read-write open breaks another program's read lease (waited
 * out within the deadline, as any lease), copies the file up on overlayfs,
 * fails on a running executable (ETXTBSY: LOCKET_EIO) and on a file the
 * user may only read (LOCKET_EACCES), and an exclusive OFD lock on a
 * directory fails (LOCKET_EISDIR). The probe here is read-only.
 *
 * POSIX record locks: closing any descriptor of a file drops every POSIX
 * record lock (lockf, fcntl F_SETLK, fasteners) that the closing process
 * holds on it, whichever descriptor took it. locket closes descriptors:
 * every release, a failed or replaced acquisition, the end of an attempt,
 * and this probe where it must open the file (a missing file it creates, or
 * an OS without O_PATH; on Linux an existing readable file is checked
 * through an O_PATH descriptor, whose close drops nothing). So a process
 * that holds a lockf or fasteners lock on a file loses it, silently, at its
 * first locket release on the same file, whatever the kind. Do not mix them
 * in one process; OFD locks (any process's) and other processes' POSIX
 * locks are not affected. docs/design.md, "The POSIX-lock trap".
 *
 * @return LOCKET_OK; LOCKET_EINVAL (out or path NULL, empty path, path too
 *         long, unknown flags, kind or options version, a negative start or
 *         length, a range beyond int64, a range with LOCKET_KIND_FLOCK);
 *         LOCKET_ENOENT (a missing
 *         directory, or a missing file with LOCKET_NO_CREATE); LOCKET_EACCES;
 *         LOCKET_EISDIR; LOCKET_ENOMEM; LOCKET_EIO.
 * Thread-safe.
 */
LOCKET_EXTERN(int) locket_new(locket_t **out, const char *path, const locket_options *opts);

/**
 * Destroy a handle. If this handle holds its lock, the lock is released
 * first. Does nothing when lock is NULL. The handle must not be in use by
 * another thread, and must not be used afterwards.
 *
 * In a child created by fork() while the parent held the lock, this closes
 * the child's inherited descriptor without unlocking, so the parent keeps
 * its lock.
 */
LOCKET_EXTERN(void) locket_free(locket_t *lock);

/**
 * Take the lock.
 *
 * Returns at once when the lock is free. Otherwise waits until it is
 * released or the timeout expires. Waiting blocks only the calling thread
 * and never changes its signal mask. A wait forever that is not
 * interruptible blocks in the kernel (flock(2), LockFileEx). Other waits
 * sleep until woken: on Linux a release by locket wakes one waiter within
 * tens of microseconds; behind a holder that is not locket (flock(1),
 * locket.py, a process of another user) a close, or that holder's death,
 * wakes the file's watcher through inotify, and the watcher tries every
 * 10 ms, so that an unlock without a close is seen within 10 ms. A locket
 * holder that is killed wakes nobody: the watcher finds its lock free at its
 * next try, at most 250 ms later (see "Process-wide
 * state" below and docs/design.md). With the portable engine (macOS, the BSDs: POSIX calls
 * only) a release by another thread of the same process wakes its waiters
 * at once, and any other release is found by tries 1 to 4 ms apart (up to
 * 16 ms, 1% of the time waited, in a long wait). On Windows, see
 * docs/windows.md.
 *
 * @param lock        the handle.
 * @param timeout_ms  negative: wait forever; 0: try once; positive: the
 *                    longest wait in milliseconds.
 * @param flags       bitwise OR of LOCKET_SHARED and LOCKET_INTERRUPTIBLE.
 * @return LOCKET_OK; LOCKET_EWOULDBLOCK (timeout 0 and held elsewhere,
 *         including by this handle, or leased by another program);
 *         LOCKET_ETIMEDOUT; LOCKET_EINTR (only
 *         with LOCKET_INTERRUPTIBLE); LOCKET_EINVAL (lock NULL, unknown
 *         flags); LOCKET_ENOENT (the file or a directory was removed: the
 *         lock is then not held); LOCKET_EACCES; LOCKET_ENOTSUP;
 *         LOCKET_ENOMEM; LOCKET_EIO. On any failure the lock is not held
 *         by this handle.
 * After any wait, the lock is on the file that the path names at the time
 * it is granted: if a path component changed meanwhile (a switched symlink,
 * a renamed or exchanged directory, a mount), or the file was replaced, the
 * acquisition moves to the file the path names now and waits for that.
 * Thread-safe; a thread waiting for another thread of its own process that
 * holds the same handle (shared) is woken by that release, and not by
 * signals, but a locket_interrupt_fn is still asked every
 * LOCKET_INTERRUPT_CHECK_MS (locket_acquire_with()).
 */
LOCKET_EXTERN(int) locket_acquire(locket_t *lock, int64_t timeout_ms, unsigned int flags);

/**
 * Release the lock that this handle holds. Any thread may call it.
 *
 * @return LOCKET_OK; LOCKET_ENOTHELD (this handle does not hold the lock in
 *         this process: never acquired, already released, or inherited
 *         through fork(), in which case the parent keeps its lock);
 *         LOCKET_EINVAL (lock NULL); LOCKET_EIO (the OS failed to unlock;
 *         the descriptor is closed anyway, which releases the lock).
 * Thread-safe.
 */
LOCKET_EXTERN(int) locket_release(locket_t *lock);

/*
 * Waits with options: one deadline, and a say in when a wait ends early.
 */

/**
 * Asked by a waiting thread whether its wait must end: return nonzero to end
 * it with LOCKET_EINTR (nothing is then held), 0 to wait on. It is called on
 * the waiting thread, with no internal lock held, never after the lock was
 * granted: after every signal handler that interrupted the wait's sleep, and
 * at least every LOCKET_INTERRUPT_CHECK_MS milliseconds while it waits.
 * It must not call locket on the same handle.
 *
 * Bindings use it to ask their interpreter whether a signal arrived: CPython
 * runs signal handlers in its main thread whichever thread the kernel
 * delivered the signal to, and Lua's interpreter records one in a hook.
 * C programs use it to end waits on a flag their own handler sets: that is
 * the only way to never miss a signal whose handler runs in the instant
 * between the wait's last check and its sleep (as with any blocking call).
 */
typedef int (*locket_interrupt_fn)(void *arg);

/** The longest a wait with a locket_interrupt_fn goes without calling it. */
#define LOCKET_INTERRUPT_CHECK_MS 50

#define LOCKET_WAIT_OPTIONS_VERSION 2

/*
 * How to wait. Initialise with LOCKET_WAIT_OPTIONS_INIT (or
 * locket_wait_options_init()); later versions add fields at the end.
 */
typedef struct locket_wait_options {
	/** LOCKET_WAIT_OPTIONS_VERSION of the header the caller compiled against. */
	unsigned int version;
	/** Bitwise OR of LOCKET_SHARED and LOCKET_INTERRUPTIBLE; default 0. */
	unsigned int flags;
	/** Negative: wait forever (the default); 0: try once; positive: the
	 *  longest wait in milliseconds, from the call's start. */
	int64_t timeout_ms;
	/** NULL (the default), or the function that decides whether a wait ends
	 *  early (see locket_interrupt_fn). With one, the wait is interruptible
	 *  and the function decides: a signal handler that ran does not end the
	 *  wait unless it returns nonzero. Without one, LOCKET_INTERRUPTIBLE ends
	 *  the wait when a signal handler interrupts its sleep on this thread. */
	locket_interrupt_fn interrupted;
	/** Passed to interrupted. */
	void *interrupted_arg;
	/* Version 2: the lock's kind and range, for locket_fd_lock_with() and
	 * locket_fd_unlock_with() only, as in locket_options. A handle's kind and
	 * range are fixed by locket_new(): calls on a handle fail with
	 * LOCKET_EINVAL unless these keep their defaults. */
	/** LOCKET_KIND_FLOCK (the default) or LOCKET_KIND_OFD. */
	unsigned int kind;
	/** First byte of the range; default 0. */
	int64_t start;
	/** Bytes in the range; 0 (the default): to the end. */
	int64_t length;
} locket_wait_options;

#define LOCKET_WAIT_OPTIONS_INIT \
	{ LOCKET_WAIT_OPTIONS_VERSION, 0u, -1, NULL, NULL, LOCKET_KIND_FLOCK, 0, 0 }

/**
 * Fill *opts with the defaults (the same as LOCKET_WAIT_OPTIONS_INIT).
 * Does nothing when opts is NULL. Thread-safe.
 */
LOCKET_EXTERN(void) locket_wait_options_init(locket_wait_options *opts);

/**
 * locket_acquire() with options (NULL: the defaults, a wait forever).
 * @return as locket_acquire(); also LOCKET_EINVAL for an unknown options
 *         version or flags. Thread-safe.
 */
LOCKET_EXTERN(int) locket_acquire_with(locket_t *lock, const locket_wait_options *opts);

/**
 * Acquire as locket_acquire_with() does (the same open rules, the identity
 * check after every acquisition, one deadline), then hand the locked
 * descriptor out of the handle: *out_fd (an int on POSIX, a HANDLE on
 * Windows) holds the lock and is inheritable by child processes (not
 * close-on-exec). The handle stays unlocked and keeps no record of it: the
 * fork handlers leave it alone, locket_release() says LOCKET_ENOTHELD, and
 * locket_holder_pid() still finds the holder.
 *
 * The caller owns the descriptor: locket_fd_unlock() and close it, or let
 * the processes that inherit it keep the lock until the last copy is closed
 * (what flock(1) does for its command; the locket CLI is built on this).
 * A directory is accepted when the handle was created with
 * LOCKET_ALLOW_DIRECTORY.
 *
 * @return as locket_acquire_with(); LOCKET_EINVAL also for a NULL out_fd.
 *         On failure *out_fd is -1 and nothing is held. Thread-safe.
 */
LOCKET_EXTERN(int)
locket_acquire_detached(locket_t *lock, const locket_wait_options *opts, intptr_t *out_fd);

/**
 * One rule for timeouts given in seconds, for every binding and the CLI:
 * NaN and negative numbers are LOCKET_EINVAL; 0 is a try (0); a positive
 * number is rounded up to whole milliseconds (a tiny timeout still waits);
 * +infinity, and any finite number too large for int64 milliseconds, is
 * forever (-1). Each language keeps its own spelling of "forever" (None,
 * nil, no -w) and maps it to -1 itself. Thread-safe.
 */
LOCKET_EXTERN(int) locket_timeout_ms(double seconds, int64_t *out_ms);

/*
 * Attempts: acquiring from an event loop (asyncio, libuv, cqueues...).
 *
 * An attempt is an acquisition that the caller's loop drives instead of a
 * blocking wait:
 *
 *     locket_attempt_t *a;
 *     int rc = locket_attempt_start(&a, lock, 0);
 *     while (rc == LOCKET_EWOULDBLOCK) {
 *         wait until locket_attempt_fd(a) is readable (if it is >= 0), or
 *         locket_attempt_retry_ms(a) milliseconds have passed, whichever first;
 *         rc = locket_attempt_try(a);
 *     }
 *     locket_attempt_free(a);   // rc == LOCKET_OK: the handle now holds the lock
 *
 * The deadline is the caller's: stop trying and free the attempt. An
 * attempt keeps one descriptor of the lock file open (unlocked) while it
 * lasts, so that its own tries do not wake other waiters.
 */
typedef struct locket_attempt locket_attempt_t;

/**
 * Start acquiring lock without waiting: one try.
 *
 * @param out    receives the attempt when the lock is held elsewhere
 *               (LOCKET_EWOULDBLOCK); NULL otherwise.
 * @param flags  0 or LOCKET_SHARED.
 * @return LOCKET_OK (the handle holds the lock; no attempt to free);
 *         LOCKET_EWOULDBLOCK (*out is an attempt to drive and free);
 *         LOCKET_EINVAL (NULL argument, unknown flags); the errors of
 *         locket_acquire().
 * Thread-safe with respect to the handle; an attempt belongs to one thread
 * at a time.
 */
LOCKET_EXTERN(int) locket_attempt_start(locket_attempt_t **out, locket_t *lock, unsigned int flags);

/**
 * A descriptor that becomes readable when a release may have happened (on
 * Linux an inotify instance watching the lock file), or -1 when there is
 * none (Windows; the portable engine of macOS and the BSDs; Linux without
 * inotify): then rely on retry_ms alone.
 * May change after each locket_attempt_try(). Do not read or close it.
 * -1 for NULL. Same thread rules as locket_attempt_try().
 */
LOCKET_EXTERN(int) locket_attempt_fd(const locket_attempt_t *attempt);

/**
 * The longest the caller should wait before the next locket_attempt_try(),
 * in milliseconds: short (1 ms, doubling) right after a possible release,
 * longer (100 ms, doubling up to 500 ms) while nothing happens. It covers
 * releases that make no event, such as a holder on another NFS client.
 * 0 for NULL. Same thread rules as locket_attempt_try().
 */
LOCKET_EXTERN(int) locket_attempt_retry_ms(const locket_attempt_t *attempt);

/**
 * Try again (and consume the events that made the descriptor readable).
 * @return LOCKET_OK: the handle holds the lock; free the attempt.
 *         LOCKET_EWOULDBLOCK: still held elsewhere; wait again.
 *         LOCKET_EINVAL: NULL, or the attempt already succeeded.
 *         LOCKET_ENOENT: the lock file was removed. Other errors as
 *         locket_acquire(). After an error the attempt is finished.
 * An attempt may be used by one thread at a time (any thread); the handle
 * may meanwhile be used by others.
 */
LOCKET_EXTERN(int) locket_attempt_try(locket_attempt_t *attempt);

/**
 * End an attempt, successful or not (a lock it obtained stays held by the
 * handle). Does nothing for NULL. Must be called before locket_free() of
 * the handle.
 */
LOCKET_EXTERN(void) locket_attempt_free(locket_attempt_t *attempt);

/**
 * 1 if this handle holds its lock in the calling process, else 0 (also for
 * NULL, and in a forked child). Thread-safe.
 */
LOCKET_EXTERN(int) locket_locked(const locket_t *lock);

/**
 * Find a process that holds a lock on this handle's file.
 *
 * On Linux this reads /proc/locks (flock locks by device and inode); the pid
 * there is the process that took the lock, which may have forked since.
 * For LOCKET_KIND_OFD it looks at the record locks on bytes that overlap the
 * handle's range: a POSIX lock (lockf, fasteners) names its process; an OFD
 * lock names none (the kernel reports -1, as F_OFD_GETLK does), and then
 * *out_pid is -1: held, by a process nobody can name.
 * The portable engine (macOS, the BSDs) asks fcntl(F_GETLK): 0 for a free
 * file, and LOCKET_ENOTSUP for a file held through flock(), which those
 * systems see but name no process for (and which the portable engine built
 * on Linux cannot see at all: always LOCKET_ENOTSUP there).
 * The answer may be stale by the time it returns: use it for messages, not
 * for decisions.
 *
 * @param out_pid  receives the pid, or 0 when no holder is seen, or -1
 *                 (LOCKET_KIND_OFD only) for a holder without a pid. It may
 *                 be the calling process.
 * @return LOCKET_OK; LOCKET_EINVAL (NULL argument); LOCKET_ENOTSUP (the OS
 *         cannot tell, e.g. Windows); LOCKET_ENOENT (the file is gone);
 *         LOCKET_EIO.
 * Thread-safe.
 */
LOCKET_EXTERN(int) locket_holder_pid(locket_t *lock, int64_t *out_pid);

/**
 * The absolute path of the lock file as given to locket_new() (resolved
 * against the working directory at that time). Owned by the handle. NULL for
 * NULL. Thread-safe.
 */
LOCKET_EXTERN(const char *) locket_path(const locket_t *lock);

/**
 * Stable lower-case name of an error code ("ok", "would_block", "timeout",
 * "not_held", "interrupted", "invalid_argument", "not_found",
 * "permission_denied", "is_a_directory", "not_supported", "out_of_memory",
 * "io_error", "scope", "lock_lost"), or "unknown". Never allocates; the string is static.
 * Thread-safe.
 */
LOCKET_EXTERN(const char *) locket_error_name(int code);

/**
 * A short English description of an error code, such as "timed out waiting
 * for the lock". Never allocates; the string is static. Thread-safe.
 */
LOCKET_EXTERN(const char *) locket_strerror(int code);

/* The last error: kept per thread, so these are thread-safe and each thread
 * sees only its own failures. */

/** The code of the last failure on this thread (LOCKET_OK if none yet). */
LOCKET_EXTERN(int) locket_last_error_code(void);

/**
 * The OS error behind the last failure on this thread: errno on POSIX,
 * GetLastError() on Windows; 0 when the failure did not come from the OS.
 */
LOCKET_EXTERN(int) locket_last_os_error(void);

/**
 * A message describing the last failure on this thread, naming the path and
 * the OS's reason, e.g. "cannot open lock file '/x/y': No such file or
 * directory". "" if none yet. The string belongs to the thread and stays
 * valid until its next failing locket call.
 */
LOCKET_EXTERN(const char *) locket_last_error_message(void);

/** The library's version string, e.g. "1.0.0" (may differ from the header's).
 *  Static; thread-safe. */
LOCKET_EXTERN(const char *) locket_version(void);

/** The library's version as MAJOR * 10000 + MINOR * 100 + PATCH. Thread-safe. */
LOCKET_EXTERN(int) locket_version_number(void);

/*
 * Locks on the caller's own descriptor, as flock(1) takes them on a
 * descriptor that a shell opened ("exec 9>file; flock 9").
 *
 * The lock is the same kernel lock as a handle's (flock(2) on Linux,
 * LockFileEx on byte 0 on Windows), so it excludes locket handles, flock(1)
 * and other descriptors, and is waited for the same way. Unlike a handle's,
 * it belongs to the descriptor: on POSIX to its open file description, which
 * it shares with every dup() of it and every copy inherited through fork()
 * or exec(), so it lasts until it is unlocked or the last of those copies is
 * closed. locket never opens, closes or checks the file behind it (it may
 * have been renamed or removed), and keeps nothing about it.
 */

/**
 * Lock the file open on fd, waiting as locket_acquire() does.
 *
 * @param fd          an open descriptor: an int on POSIX, a HANDLE (opened
 *                    without FILE_FLAG_OVERLAPPED) on Windows. Any access
 *                    mode; a directory works on Linux.
 * @param timeout_ms  negative: wait forever; 0: try once; positive: the
 *                    longest wait in milliseconds.
 * @param flags       bitwise OR of LOCKET_SHARED and LOCKET_INTERRUPTIBLE.
 * @return LOCKET_OK; LOCKET_EWOULDBLOCK (timeout 0 and held elsewhere);
 *         LOCKET_ETIMEDOUT; LOCKET_EINTR (only with LOCKET_INTERRUPTIBLE);
 *         LOCKET_EINVAL (fd negative or beyond int on POSIX, NULL or
 *         INVALID_HANDLE_VALUE on Windows; unknown flags); LOCKET_ENOTSUP;
 *         LOCKET_ENOMEM; LOCKET_EIO (also for a descriptor that is not open:
 *         locket_last_os_error() is then EBADF). Messages name the file as
 *         /proc/self/fd/N on Linux.
 *
 * Locking a descriptor that already holds the lock: on POSIX it succeeds at
 * once in the same mode and converts between shared and exclusive otherwise,
 * and a conversion is not atomic (flock(2) drops the old lock first, and it
 * stays dropped when the new one is not granted). On Windows the second lock
 * conflicts with the first (it waits for the timeout; forever without one).
 *
 * Thread-safe; it keeps no state. Threads that lock one descriptor do not
 * exclude each other (the lock is the descriptor's): give each thread its
 * own descriptor or a locket handle.
 */
LOCKET_EXTERN(int) locket_fd_lock(intptr_t fd, int64_t timeout_ms, unsigned int flags);

/**
 * locket_fd_lock() with options (NULL: the defaults, a wait forever).
 * Version 2 options choose the kind and range (flock(1) --fcntl --start
 * --length): LOCKET_KIND_OFD locks the range of fd's open file description;
 * an exclusive one needs fd open for writing (else LOCKET_EIO with
 * locket_last_os_error() EBADF), a shared one for reading. Relocking a range
 * that the description already holds converts it, atomically for OFD locks
 * (unlike flock(2)). Unlock with locket_fd_unlock_with() and the same kind
 * and range. Thread-safe; it keeps no state.
 */
LOCKET_EXTERN(int) locket_fd_lock_with(intptr_t fd, const locket_wait_options *opts);

/**
 * Unlock the file open on fd (without closing fd). On POSIX this releases
 * the lock of the open file description, for every copy of the descriptor.
 *
 * @return LOCKET_OK (also on POSIX when fd held no lock: flock(2) cannot
 *         tell); LOCKET_ENOTHELD (Windows: this handle holds no lock);
 *         LOCKET_EINVAL (as locket_fd_lock()); LOCKET_EIO (e.g. EBADF).
 * Thread-safe.
 */
LOCKET_EXTERN(int) locket_fd_unlock(intptr_t fd);

/**
 * Unlock what locket_fd_lock_with() locked: opts' kind and range (NULL: the
 * defaults, as locket_fd_unlock()); its other fields are ignored. With
 * LOCKET_KIND_OFD only that range of fd's open file description is
 * unlocked (other ranges it holds stay locked). Errors as
 * locket_fd_unlock(), and LOCKET_EINVAL for bad options. Thread-safe.
 */
LOCKET_EXTERN(int) locket_fd_unlock_with(intptr_t fd, const locket_wait_options *opts);

/*
 * What a lock can exclude: the truth about the filesystem (docs/filesystems.md).
 */

/* Kinds of scope (locket_scope_info.kind). */
/** The table does not know this filesystem (never reported as local). */
#define LOCKET_SCOPE_UNKNOWN 0
/** A filesystem of this kernel whose files have one inode however they are
 *  reached (ext4, xfs, btrfs, tmpfs, bind mounts of them): the lock
 *  excludes every process that can open the file. */
#define LOCKET_SCOPE_LOCAL 1
/** A network filesystem whose lock manager excludes across its clients
 *  (NFS with locking, SMB with byte-range locks, cluster filesystems). */
#define LOCKET_SCOPE_NETWORK 2
/** Locks that reach neither other clients nor other views of the same
 *  files: NFS nolock or local_lock=, CIFS nobrl, 9p, virtiofs, overlay,
 *  every FUSE filesystem, WSL's \\wsl$ share. */
#define LOCKET_SCOPE_THIS_HOST 3

#define LOCKET_SCOPE_INFO_VERSION 1

/*
 * The answer of locket_scope(). Set version to LOCKET_SCOPE_INFO_VERSION
 * (or use LOCKET_SCOPE_INFO_INIT); later versions add fields at the end.
 */
typedef struct locket_scope_info {
	/** LOCKET_SCOPE_INFO_VERSION of the header the caller compiled against. */
	unsigned int version;
	/** LOCKET_SCOPE_UNKNOWN, _LOCAL, _NETWORK or _THIS_HOST. */
	int kind;
	/** The filesystem's type as the OS names it ("ext4", "nfs4",
	 *  "fuse.bindfs"; Windows: "NTFS", "9P"), "" when unknown. */
	const char *fs_type;
	/** One line saying why (the mount point, the options that decided). */
	const char *reason;
} locket_scope_info;

#define LOCKET_SCOPE_INFO_INIT { LOCKET_SCOPE_INFO_VERSION, LOCKET_SCOPE_UNKNOWN, "", "" }

/**
 * Which processes a lock on path can exclude: the scope of the filesystem
 * that holds path (its own mount, found through an open of path, or of its
 * directory when path does not exist yet). On Linux: the mount's type and
 * options from /proc/self/mountinfo (by mount id, so bind mounts and nested
 * mounts are the path's own), statfs(2) when that cannot be read. On
 * Windows: GetDriveType and GetVolumeInformation of the volume. Elsewhere:
 * statfs's f_fstypename and MNT_LOCAL (macOS, FreeBSD), else unknown.
 *
 * @param path       UTF-8 path of a lock file (it need not exist; its
 *                   directory must).
 * @param lock_kind  the kind of lock asked about: LOCKET_KIND_FLOCK or
 *                   LOCKET_KIND_OFD (the scopes differ on NFS mounted with
 *                   local_lock=flock or =posix: one kind stays on this host,
 *                   the other reaches the server; other values:
 *                   LOCKET_EINVAL). Windows has one kind: both answer alike.
 * @param out        receives the answer; out->version must be set. Its
 *                   strings belong to the calling thread and stay valid
 *                   until its next locket_scope() call.
 * @return LOCKET_OK; LOCKET_EINVAL (NULL argument, empty path, unknown
 *         version or lock kind); LOCKET_ENOENT (the directory is missing);
 *         LOCKET_EACCES; LOCKET_EIO.
 * Thread-safe. Costs an open, a statx and a read of the mount table.
 */
LOCKET_EXTERN(int) locket_scope(const char *path, unsigned int lock_kind, locket_scope_info *out);

/**
 * The stable name of a scope kind: "unknown", "local", "network",
 * "this-host"; "unknown" for any other value. Static; thread-safe.
 */
LOCKET_EXTERN(const char *) locket_scope_name(int kind);

/**
 * Is the lock this handle holds still the lock of the file its path names?
 * (What PostgreSQL's RecheckDataDirLockFile asks of its lock file.)
 *
 * @return LOCKET_OK (held, and the path names the locked file);
 *         LOCKET_ELOST (held, but the file was removed, replaced or renamed
 *         away, or a directory of the path was, or a symlink of it now
 *         loops: the lock stays held, and excludes only those that still
 *         reach the old file; release it when you are done); LOCKET_ENOTHELD (not held by this handle in this
 *         process); LOCKET_EINVAL (NULL); LOCKET_EACCES, LOCKET_EIO (the
 *         path could not be looked at).
 * Thread-safe; costs an fstat and a stat (under a microsecond on a local
 * filesystem), made with the handle's internal mutex held.
 */
LOCKET_EXTERN(int) locket_check(locket_t *lock);

/*
 * Process-wide state. Besides the per-thread last error, the library keeps:
 *
 * - a list of the descriptors its handles have open, under one mutex that
 *   is held only for list operations (never across I/O), and fork handlers
 *   (pthread_atfork, registered by the first locket_new()): a child created
 *   by fork() closes every lock descriptor it inherited, without unlocking
 *   (see locket_free() and locket_release()); a fork costs in proportion to
 *   those descriptors, not to the number of handles;
 * - on POSIX, one page caching the process id (MADV_WIPEONFORK: wiped in
 *   every forked child), so that acquire and release need no getpid();
 * - on Linux, one shared mapping of the user's wake-up table
 *   (/dev/shm/locket-wake2-<uid>, 128 KiB, mode 0600, allocated in full
 *   before it is mapped: a full /dev/shm never raises SIGBUS). It is mapped
 *   at the first acquisition and kept for the life of the process; if it
 *   cannot be used, locks work without it (waits then rely on timers) and the
 *   process tries again at most once a second. The file itself is never
 *   removed (one per user);
 * - on Linux, at most one inotify instance, created by a wait behind a
 *   holder that is not locket and given back when the process is idle: the
 *   first release or free after the wait removes its watch, one at least
 *   20 ms later closes it;
 * - with the portable engine (macOS, the BSDs), a table of the process's
 *   current timed or interruptible waits, each with a pipe of its own that
 *   a release by another thread of the process writes to: the pipe is
 *   created when the wait starts sleeping and closed when it ends, and fork
 *   handlers (registered by the first such wait) keep the table whole in a
 *   child, which closes the pipes of its parent's other threads;
 * - on Windows, for each lock the process holds, a named marker semaphore
 *   (Local\locket-held-<file index>) and the file's named wake-up event,
 *   closed at release (see docs/windows.md). A descriptor locked with
 *   locket_fd_lock() is released with locket_fd_unlock() before it is closed,
 *   or its marker stays until the process exits and waiters fall back to
 *   tries every few seconds.
 *
 * It never installs signal handlers, changes signal masks, changes the
 * umask, or starts threads.
 */

#ifdef __cplusplus
}
#endif

#endif /* LOCKET_H */
