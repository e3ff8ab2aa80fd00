/*
 * The internal interface between the portable core (core/locket.c,
 * core/error.c) and one OS layer (core/posix/ plus one wait engine, core/linux/ or
 * core/portable/ as CMake's LOCKET_ENGINE says; or core/win/). Each OS layer
 * implements every locket__os_* function below; CMake compiles exactly one.
 *
 * Names with the locket__ prefix are internal: they are not exported from
 * the shared library (hidden visibility) and may change at any time.
 *
 * Error convention: every function that can fail returns a locket_error code
 * and, on failure, has already recorded the detail with locket__fail() or
 * locket__fail_os(). Errors are translated from the OS's numbers to
 * locket's codes in one place per OS (locket__os_translate).
 */
#ifndef LOCKET_INTERNAL_H
#define LOCKET_INTERNAL_H

#include "locket.h"

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define LOCKET__PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define LOCKET__PRINTF(f, a)
#endif

/* An open lock file: an int descriptor on POSIX, a HANDLE on Windows. */
typedef intptr_t locket__fd;
#define LOCKET__NO_FD ((locket__fd) - 1)

/* Run fn(arg) if the thread is cancelled (pthread_cancel) at a cancellation
 * point between PUSH and POP (a wait's ppoll, pselect, fcntl F_SETLKW or
 * condition variable). Cancelling a wait is not in the contract, but it
 * must not leave the process-wide descriptor list pointing into the dead
 * thread's stack, nor a handle's mutex locked. PUSH and POP pair up in one
 * block, as pthread_cleanup_push/pop do. Nothing on Windows. */
#if defined(_WIN32)
#define LOCKET__ON_CANCEL_PUSH(fn, arg) \
	{                               \
		(void)(fn);             \
		(void)(arg);
#define LOCKET__ON_CANCEL_POP() }
#else
#include <pthread.h>
#define LOCKET__ON_CANCEL_PUSH(fn, arg) pthread_cleanup_push((fn), (arg))
#define LOCKET__ON_CANCEL_POP() pthread_cleanup_pop(0)
#endif

/* A deadline in milliseconds of locket__now_ms(), or LOCKET__FOREVER. */
#define LOCKET__FOREVER INT64_MAX

/* A lock file's identity for the wait engine (a hash of device and inode on
 * POSIX), or 0 when unknown. */
typedef uint64_t locket__key;

/* What a lock covers: its kind (LOCKET_KIND_FLOCK, LOCKET_KIND_OFD) and byte
 * range (length 0: to the end), checked by locket__span_check. The OS layer
 * gets it with every lock, unlock and hold; NULL means the default (flock,
 * whole file). */
typedef struct locket__span {
	unsigned int kind;
	int64_t start, length;
} locket__span;

/* LOCKET_OK, or LOCKET_EINVAL (recorded, naming caller) for an unknown kind,
 * a negative start or length, a range beyond int64, or a range on a flock. */
int locket__span_check(const locket__span *s, const char *caller);
/* 1 for a span that is the default (flock, the whole file). */
int locket__span_is_default(const locket__span *s);

/* ---- wait.c: how one call waits ---- */

/* One call's wait: its single deadline and what may end it early. Made once
 * per call (locket__wait_init) and passed down to the OS layer. */
typedef struct locket__wait {
	int64_t deadline;                /* locket__now_ms() value; 0: a try; LOCKET__FOREVER */
	int interruptible;               /* a signal handler may end it (flag or callback) */
	locket_interrupt_fn interrupted; /* NULL, or decides whether it ends (locket.h) */
	void *interrupted_arg;
	int64_t next_check; /* when interrupted is due again (locket__now_ms) */
} locket__wait;

/* The deadline timeout_ms from now (negative: forever, 0: a try). */
int64_t locket__deadline_after(int64_t timeout_ms);
/* Check and copy opts (NULL: defaults) into *w and *flags, and its kind and
 * range into *span; LOCKET_EINVAL (recorded) for a bad version, unknown
 * flags or a bad span, or, when span is NULL (a call on a handle, whose span
 * is fixed), a span other than the default. */
int locket__wait_init(locket__wait *w, unsigned int *flags, const locket_wait_options *opts,
		      const char *caller, locket__span *span);
/* For OS layers, while waiting: 1 if the wait must end now with
 * LOCKET_EINTR (the caller records it). signalled: a signal handler just
 * interrupted the sleep. Calls the callback when one is set and either a
 * handler ran or its check is due. */
int locket__wait_should_end(locket__wait *w, int signalled);
/* The longest an OS layer may sleep, capped by the callback's next check
 * and the deadline (ms >= 0; ms itself when nothing caps it). */
int64_t locket__wait_cap_ms(const locket__wait *w, int64_t ms);

/* ---- error.c: the per-thread last error ---- */

/* Record code with a printf-style message; returns code. */
int locket__fail(int code, const char *fmt, ...) LOCKET__PRINTF(2, 3);
/* Record an OS error: code comes from locket__os_translate(os_error), the
 * message is "<what> '<path>': <OS text>". Returns the code. */
int locket__fail_os(int os_error, const char *what, const char *path);

/* ---- OS layer: time, identity, threads ---- */

/* Milliseconds on a monotonic clock. */
int64_t locket__now_ms(void);
/* The calling process's id. */
int64_t locket__os_pid(void);
/* The locket_error code for an OS error number. */
int locket__os_translate(int os_error);
/* The OS's text for an OS error number, into buf (always terminated). */
void locket__os_strerror(int os_error, char *buf, size_t size);

/* A mutex and a condition variable whose timed wait takes a
 * locket__now_ms() deadline. The storage is big enough for pthread and
 * Win32 SRWLOCK/CONDITION_VARIABLE objects alike. */
typedef struct locket__mutex {
	union {
		void *align;
		unsigned char bytes[64];
	} u;
} locket__mutex;
typedef struct locket__cond {
	union {
		void *align;
		unsigned char bytes[64];
	} u;
} locket__cond;
int locket__mutex_init(locket__mutex *m);
void locket__mutex_destroy(locket__mutex *m);
void locket__mutex_lock(locket__mutex *m);
void locket__mutex_unlock(locket__mutex *m);
int locket__cond_init(locket__cond *c);
void locket__cond_destroy(locket__cond *c);
void locket__cond_broadcast(locket__cond *c);
/* Returns 0 when signalled (or spuriously woken), LOCKET_ETIMEDOUT when the
 * deadline passed. */
int locket__cond_wait(locket__cond *c, locket__mutex *m, int64_t deadline_ms);

/* ---- OS layer: process-wide state (posix/process.c, win/process.c) ---- */

/* The lock that guards the core's process-wide list of open descriptors
 * (held only for list operations, never across I/O; the fork handlers take
 * it): a plain static mutex, usable before anything is initialised. */
void locket__registry_lock(void);
void locket__registry_unlock(void);

/* The core's fork handlers (core/locket.c): see the fork section there. */
void locket__fork_prepare(void);
void locket__fork_parent(void);
void locket__fork_child(void);

/* Register the core's fork handlers, once per process (pthread_atfork); a
 * no-op where there is no fork(). */
void locket__os_fork_handlers(void);

/* Make a condition variable new, whatever state it was left in (a forked
 * child's copy, on which the parent's other threads may have waited). */
void locket__cond_reinit(locket__cond *c);

/* Sleep for ms milliseconds without sleep-polling anything else. When how
 * is interruptible and locket__wait_should_end() says so (after a signal
 * handler, or at the callback's check), returns LOCKET_EINTR (unrecorded);
 * else LOCKET_OK. */
int locket__os_sleep_ms(int64_t ms, locket__wait *how);

/* ---- OS layer: files and locks ---- */

/* An internal locket_options flag for locket__os_open: open for writing
 * too (for filesystems whose locks need it; see locket__os_lock_needs_write). */
#define LOCKET__OPEN_WRITE 0x80000000u

/* 1 if a lock that failed with this OS error on a read-only descriptor may
 * succeed on a read-write one (Linux NFS emulates flock with byte-range
 * locks, which need write access for an exclusive lock: EBADF, or EIO
 * before Linux 3.4, as flock(1) knows). */
int locket__os_lock_needs_write(int os_error);

/* An absolute form of path (relative paths joined to the working
 * directory; nothing else resolved), malloc'd into *out. */
int locket__os_abspath(const char *path, char **out);

/* Open (and, unless LOCKET_NO_CREATE, create with opts->file_mode) the lock
 * file: never truncating, close-on-exec / not inheritable, refusing
 * directories with LOCKET_EISDIR. Read-only unless opts->flags has
 * LOCKET__OPEN_WRITE (where the OS distinguishes). Returns
 * LOCKET_EWOULDBLOCK (recorded) when the open would block on another
 * program's lease: the open has begun breaking it, so a later open may
 * succeed. */
int locket__os_open(const char *path, const locket_options *opts, locket__fd *out);

/* locket_new's check of an existing lock file without opening (and
 * closing) a descriptor whose close would drop the process's POSIX record
 * locks on it: 1 if path names a file that the ordinary probe would accept
 * (a readable regular file, or a directory with LOCKET_ALLOW_DIRECTORY);
 * 0 when unsure, and the caller probes with locket__os_open as before. Never
 * fails, records nothing. */
int locket__os_probe(const char *path, const locket_options *opts);

/* Release a lock held through fd (without closing it), and wake a waiter
 * of the file. key: the file's identity from locket__os_same_file(), or 0
 * when unknown (the OS layer then finds it itself if it needs it). span: the
 * kind and range that were locked (NULL: the default). */
int locket__os_unlock(locket__fd fd, locket__key key, const locket__span *span);

/* The lock on fd (file key) is now held by locket in this process: lets
 * waiters of the same user know that its release will wake them (Linux
 * wake table). Never fails; a no-op where nothing is kept. */
void locket__os_held(locket__fd fd, locket__key key, const locket__span *span);

/* Make fd inheritable by child processes (clear close-on-exec), for a
 * descriptor that leaves the handle (locket_acquire_detached). */
int locket__os_make_inheritable(locket__fd fd);

/* Is fd plausibly a descriptor (an int >= 0 on POSIX; a HANDLE other than
 * NULL and INVALID_HANDLE_VALUE on Windows)? For locket_fd_lock(). */
int locket__os_fd_is_plausible(intptr_t fd);

/* What the OS layer gets as a caller's descriptor's path: on Linux one that
 * names the descriptor's own file (/proc/self/fd/N, which inotify follows);
 * with the portable engine and on Windows a label for messages ("fd N";
 * macOS: F_GETPATH's path). */
void locket__os_fd_label(intptr_t fd, char *buf, size_t size);

/* 1 if a handle keeps its OS waiter between waits (Windows keeps its wake-up
 * event there), so that an attempt gives it back to the handle; 0 if waiters
 * are lent process-wide state that must go back at once (Linux). */
int locket__os_handle_keeps_waiter(void);

/* Close fd. Never unlocks explicitly: used alone only where the lock must
 * stay with another copy of the descriptor (a forked child). */
void locket__os_close(locket__fd fd);

/* OS state of a wait or an attempt, opaque to the core; may be NULL. On
 * Linux only attempts have one (it lends them the process's inotify
 * instance); on Windows a handle keeps one between waits (its wake-up event:
 * see locket__os_handle_keeps_waiter). */
typedef struct locket__waiter locket__waiter;
void locket__os_waiter_free(locket__waiter *w);

/* In a child created by fork(), from the core's atfork child handler: drop
 * the OS layer's per-process wait state inherited from the parent (on Linux
 * the copy of the inotify instance, whose queue is the parent's). Never
 * unlocks anything. */
void locket__os_wait_atfork_child(void);

/*
 * Lock span of fd (NULL: the default, flock on the whole file; an OS without
 * the span's kind fails with LOCKET_ENOTSUP, recorded): try once, then,
 * unless how->deadline is 0, wait until the lock is
 * granted or how->deadline (a locket__now_ms() value, or LOCKET__FOREVER)
 * passes, or locket__wait_should_end() says to stop (LOCKET_EINTR). A wait
 * sleeps until a release wakes it wherever a release can wake it, tries on
 * a timer only where nothing signals one (a holder that is not locket), and
 * must never report success without holding the lock.
 *
 * waiter is NULL for a try (deadline_ms 0). Otherwise *waiter is the
 * handle's kept waiter (Windows keeps its wake-up event there; Linux keeps
 * nothing per handle). The caller guarantees that no other thread uses the
 * same *waiter at the same time.
 *
 * Returns LOCKET_OK (held), LOCKET_EWOULDBLOCK (deadline_ms == 0 and held
 * elsewhere), LOCKET_ETIMEDOUT, LOCKET_EINTR (only when interruptible), or
 * an error. path is for messages and for waits that watch the file.
 */
int locket__os_lock(locket__fd fd, const char *path, int shared, const locket__span *span,
		    locket__wait *how, locket__waiter **waiter);

/* For attempts (event loops): make sure *waiter exists and watches path
 * (adding the watch when *watch_fd < 0 or the file was replaced), and drain
 * its queued events. *watch_fd becomes what the loop should poll for
 * readability, or -1 when the OS has nothing to poll (then only tries find
 * the release). Returns 1 if events were drained, else 0. Never fails: a
 * waiter that cannot watch degrades to tries. */
int locket__os_waiter_watch(locket__waiter **waiter, const char *path, int *watch_fd);

/* 1 if the last locket__os_lock() wait through w itself made sure, after
 * the grant, that the path still names the locked file (the check
 * locket__os_same_file() makes, whatever changed on the path), so that the
 * core need not repeat it. 0 whenever unsure. A watch on the file alone
 * cannot know this: a switched symlink or a renamed directory higher up the
 * path makes no event on the file. */
int locket__os_wait_verified(const locket__waiter *w);

/* Once fd is locked: is it still the file that path names? 1: yes; 0: the
 * file was replaced (path names another file now); or a negative
 * locket_error, recorded (LOCKET_ENOENT when the path is gone,
 * LOCKET_EISDIR when fd is a directory and !allow_dir). An OS that cannot
 * tell returns 1. *key receives the locked file's identity (0: unknown). */
int locket__os_same_file(locket__fd fd, const char *path, int allow_dir, locket__key *key);

/* See locket_holder_pid(). span: the handle's (NULL: the default). */
int locket__os_holder_pid(const char *path, const locket__span *span, int64_t *out_pid);

/* ---- scope.c and the OS layer: what a lock can exclude ---- */

/* A filesystem as the OS layer sees it, for the table in core/scope.c. */
typedef struct locket__fs {
	char type[64];        /* "ext4", "nfs4", "fuse.bindfs", "NTFS"; "" unknown */
	char options[1024];   /* Linux: the mount's and the superblock's options,
			     * comma-separated; "" when not known */
	char where[256];      /* the mount point or volume, for the reason */
	int os;               /* LOCKET__FS_LINUX, _STATFS or _WINDOWS */
	int local;            /* _STATFS: MNT_LOCAL set (1) or not (0) */
	int remote;           /* _WINDOWS: GetDriveType says DRIVE_REMOTE */
	int wsl;              /* _WINDOWS: a \\wsl$ or \\wsl.localhost share */
	int cifs_flock_local; /* _LINUX: a kernel before 5.5 (flock on CIFS stays local) */
} locket__fs;
#define LOCKET__FS_LINUX 1   /* type and options from /proc/self/mountinfo */
#define LOCKET__FS_MAGIC 2   /* Linux, from statfs(2)'s f_type alone (no options) */
#define LOCKET__FS_STATFS 3  /* macOS, FreeBSD: f_fstypename and MNT_LOCAL */
#define LOCKET__FS_WINDOWS 4 /* GetDriveType, GetVolumeInformation */
#define LOCKET__FS_NONE 5    /* the OS layer cannot tell */

/* The table (core/scope.c): the scope of a lock of lock_kind (LOCKET_KIND_FLOCK,
 * or LOCKET_KIND_OFD: a record lock, as POSIX locks are) on fs, and a
 * one-line reason into reason. Pure: no I/O. */
int locket__scope_classify(const locket__fs *fs, unsigned int lock_kind, char *reason, size_t size);
/* The filesystem holding the open file fd (path for messages), from the OS
 * layer; a recorded error on failure. May answer from a per-mount cache. */
int locket__os_fs_of_fd(locket__fd fd, const char *path, locket__fs *out);
/* The filesystem that holds path, or its directory when path is missing. */
int locket__os_fs_of_path(const char *path, locket__fs *out);
/* LOCKET_ACROSS_HOSTS: LOCKET_OK when a lock on fd excludes across hosts,
 * else LOCKET_ESCOPE (recorded, naming the filesystem and why). */
int locket__scope_refuse(locket__fd fd, const char *path, unsigned int lock_kind);
/* After a lock failed with LOCKET_ENOTSUP on fd: add the filesystem's name
 * to the recorded message (keeping its code and OS error). */
void locket__scope_note_unsupported(locket__fd fd);
/* Record code, os_error and message as the last error (error.c). */
void locket__fail_restore(int code, int os_error, const char *message);

#endif /* LOCKET_INTERNAL_H */
