/*
 * The part of the SWIG interface that every language shares. Each language
 * has an entry file (bindings/python/locket_python.i,
 * bindings/lua/locket_lua.i) that sets %module and its own typemaps and then
 * %includes this file. Nothing here is language-specific.
 *
 * The generated module is deliberately low-level: methods return locket's
 * int codes and the hand-written layer on top (locket/__init__.py,
 * locket/init.lua) turns them into the language's errors. The wrapped object
 * is a small box around the handle so that close() can free the handle while
 * the language object lives on: every later call returns LOCKET_EINVAL
 * instead of touching freed memory.
 */

%{
#include "locket.h"

typedef struct locket_box {
	locket_t *handle;
	int open_error; /* the locket_new() result, LOCKET_OK on success */
} locket_box;
%}

%include <stdint.i>

/* The error codes and flags, without the LOCKET_ prefix. */
%rename("%(strip:[LOCKET_])s") "";
/* The codes, from locket_errors.h's one table: constants OK, EWOULDBLOCK, ... */
%include "locket_errors.h"
#define LOCKET__SWIG_ERROR(suffix, value, name, text) %constant int suffix = value;
LOCKET_ERROR_MAP(LOCKET__SWIG_ERROR)
#undef LOCKET__SWIG_ERROR
#define LOCKET_NO_CREATE 0x1
#define LOCKET_SHARED 0x1
#define LOCKET_INTERRUPTIBLE 0x2
#define LOCKET_KIND_FLOCK 0
#define LOCKET_KIND_OFD 1
#define LOCKET_ACROSS_HOSTS 0x4
#define LOCKET_SCOPE_UNKNOWN 0
#define LOCKET_SCOPE_LOCAL 1
#define LOCKET_SCOPE_NETWORK 2
#define LOCKET_SCOPE_THIS_HOST 3

/* Module functions without the C prefix: error_name(), strerror(), ... (every language). */
%rename(error_name) locket_error_name;
%rename(strerror) locket_strerror;
%rename(last_error_code) locket_last_error_code;
%rename(last_os_error) locket_last_os_error;
%rename(last_error_message) locket_last_error_message;
%rename(version) locket_version;
%rename(version_number) locket_version_number;

const char *locket_error_name(int code);
const char *locket_strerror(int code);
int locket_last_error_code(void);
int locket_last_os_error(void);
const char *locket_last_error_message(void);
const char *locket_version(void);
int locket_version_number(void);

/*
 * The handle. The constructor never fails in the language: it records
 * locket_new()'s result in open_error (0 = LOCKET_OK) and the layer on top
 * checks it and reads locket_last_error_*() for the detail, on the same
 * thread, before any other call.
 */
%rename(Handle) locket_box;
typedef struct locket_box {
	%immutable;
	int open_error;
	%mutable;
} locket_box;

%extend locket_box {
	/* kind, start, length: locket_options version 2 (LOCKET_KIND_FLOCK, 0, 0
	 * by default: the whole-file flock lock). */
	locket_box(const char *path, unsigned int file_mode, unsigned int flags,
		   unsigned int kind = 0, int64_t start = 0, int64_t length = 0) {
		locket_box *b = (locket_box *)calloc(1, sizeof *b);
		locket_options o = LOCKET_OPTIONS_INIT;
		if (b == NULL)
			return NULL;
		o.file_mode = file_mode;
		o.flags = flags;
		o.kind = kind;
		o.start = start;
		o.length = length;
		b->open_error = locket_new(&b->handle, path, &o);
		return b;
	}
	~locket_box() {
		locket_free($self->handle);
		free($self);
	}
	/* Free the handle now (releasing the lock if held). Idempotent. */
	void close() {
		locket_t *h = $self->handle;
		$self->handle = NULL;
		locket_free(h);
	}
	int closed() { return $self->handle == NULL; }
	/* acquire(timeout_ms, flags) is each language's own (its entry file
	 * %extends the box): how a wait asks its interpreter whether a signal
	 * ends it differs. */
	int release() { return locket_release($self->handle); }
	int locked() { return locket_locked($self->handle); }
	/* locket_check(): OK, ELOST, ENOTHELD or another code. */
	int check() { return locket_check($self->handle); }
	/* The holder's pid (0: none seen), or a negative locket code. An OFD
	 * holder, which the kernel names no pid for (-1 from the core), is 0
	 * here too: the languages give a pid only where the kernel gives one. */
	int64_t holder_pid() {
		int64_t pid = 0;
		int rc = locket_holder_pid($self->handle, &pid);
		return rc == LOCKET_OK ? (pid > 0 ? pid : 0) : (int64_t)rc;
	}
	const char *path() { return locket_path($self->handle); }
}

/*
 * locket_scope() for the bindings: scope_kind(path) returns the kind (>= 0)
 * or a negative locket code; scope_fs_type() and scope_reason() then give
 * the strings of that answer (the calling thread's last one).
 */
%{
#if defined(_MSC_VER)
static __declspec(thread) locket_scope_info locket_swig_scope;
#else
static _Thread_local locket_scope_info locket_swig_scope;
#endif
static int locket_swig_scope_kind(const char *path, unsigned int lock_kind)
{
	int rc;
	locket_swig_scope.version = LOCKET_SCOPE_INFO_VERSION;
	rc = locket_scope(path, lock_kind, &locket_swig_scope);
	return rc == LOCKET_OK ? locket_swig_scope.kind : rc;
}
static const char *locket_swig_scope_fs_type(void)
{
	return locket_swig_scope.fs_type != NULL ? locket_swig_scope.fs_type : "";
}
static const char *locket_swig_scope_reason(void)
{
	return locket_swig_scope.reason != NULL ? locket_swig_scope.reason : "";
}
%}
%rename(scope_kind) locket_swig_scope_kind;
%rename(scope_fs_type) locket_swig_scope_fs_type;
%rename(scope_reason) locket_swig_scope_reason;
%rename(scope_name) locket_scope_name;
int locket_swig_scope_kind(const char *path, unsigned int lock_kind);
const char *locket_swig_scope_fs_type(void);
const char *locket_swig_scope_reason(void);
const char *locket_scope_name(int kind);
