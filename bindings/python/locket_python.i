/*
 * Python entry of the SWIG interface: the generated module locket._core.
 * The idiomatic layer (errors, timeouts, context managers, asyncio) is the
 * hand-written package locket/ on top of it. Its waits (python_wait.i) and
 * Lock's methods in C (python_lock.i) are parts of this file.
 */
%module(threads="1", package="locket") _core

/*
 * The GIL is released around calls that may block or touch the file system
 * (acquire, release, the constructor, close, holder_pid); calls that only
 * read memory keep it, which is cheaper than a release/re-acquire.
 */
%nothread;
%thread locket_box::locket_box;
%thread locket_box::~locket_box;
%thread locket_box::close;
%thread locket_box::release;
%thread locket_box::holder_pid;

/*
 * Paths are bytes (os.fsencode() of the caller's path, so that any name the
 * OS accepts works) or str (encoded as UTF-8). An embedded NUL would cut
 * the path short in C: refuse it.
 */
%typemap(in) const char *path (PyObject *utf8 = NULL) {
	char *buf;
	Py_ssize_t len;
	if (PyUnicode_Check($input)) {
		utf8 = PyUnicode_AsUTF8String($input);
		if (utf8 == NULL)
			SWIG_fail;
		if (PyBytes_AsStringAndSize(utf8, &buf, &len) != 0)
			SWIG_fail;
	} else if (PyBytes_Check($input)) {
		if (PyBytes_AsStringAndSize($input, &buf, &len) != 0)
			SWIG_fail;
	} else {
		PyErr_SetString(PyExc_TypeError, "path must be str or bytes");
		SWIG_fail;
	}
	if ((size_t)len != strlen(buf)) {
		PyErr_SetString(PyExc_ValueError, "embedded null byte in path");
		SWIG_fail;
	}
	$1 = buf;
}
%typemap(freearg) const char *path {
	Py_XDECREF(utf8$argnum);
}
%typemap(typecheck, precedence=SWIG_TYPECHECK_STRING) const char *path {
	$1 = PyUnicode_Check($input) || PyBytes_Check($input);
}

/* The handle's path comes back as bytes: the layer on top applies os.fsdecode(). */
%typemap(out) const char *path {
	if ($1 == NULL) {
		$result = Py_None;
		Py_INCREF(Py_None);
	} else {
		$result = PyBytes_FromString($1);
	}
}

/* Attempts on the handle end before it is freed (see Attempt below). */
%exception locket_box::close {
	locket_py_finish_attempts(arg1);
	$action
}

/* Defined below; Handle.acquire (which SWIG emits with the class) calls it. */
%{
struct locket_box;
static int locket_py_wait(struct locket_box *box, int64_t timeout_ms, unsigned int flags);
%}

%include "../swig/locket.i"

/*
 * The detail of the last failure on this thread in one call:
 * (code, os_error, message). One call leaves less room between the failing
 * call and the read than three would.
 */
%native(last_error) PyObject *locket_py_last_error(PyObject *self, PyObject *args);
%{
static PyObject *locket_py_last_error(PyObject *self, PyObject *args)
{
	(void)self;
	(void)args;
	const char *msg = locket_last_error_message();
	/* The message holds the path's bytes, which need not be UTF-8. */
	return Py_BuildValue("(iiN)", locket_last_error_code(), locket_last_os_error(),
			     PyUnicode_DecodeUTF8(msg, (Py_ssize_t)strlen(msg), "surrogateescape"));
}
%}

/*
 * Attempt: an acquisition that the asyncio loop drives (locket_attempt_*):
 * the loop watches fd() and tries again when it is readable or after
 * retry_ms(). Every call is non-blocking and keeps the GIL.
 *
 * The object holds a reference to its Handle, so the handle outlives it
 * unless Handle.close() frees it first: close() finishes every attempt on
 * its handle before freeing it (locket_attempt_free() must come first), and
 * try_() of a finished attempt returns EINVAL. The live attempts are a list
 * that only GIL holders touch.
 */
%{
typedef struct locket_py_attempt {
	locket_attempt_t *attempt; /* NULL once finished */
	locket_box *box;
	PyObject *owner; /* the Handle object */
	int status;      /* locket_attempt_start()'s result */
	struct locket_py_attempt *prev, *next;
} locket_py_attempt;

static locket_py_attempt *locket_py_attempts;

static void locket_py_attempt_finish(locket_py_attempt *a)
{
	locket_attempt_free(a->attempt);
	a->attempt = NULL;
}

/* Before Handle.close() frees the handle (with the GIL held). */
static void locket_py_finish_attempts(locket_box *box)
{
	locket_py_attempt *a;
	for (a = locket_py_attempts; a != NULL; a = a->next)
		if (a->box == box)
			locket_py_attempt_finish(a);
}
%}

%rename(Attempt) locket_py_attempt;
typedef struct locket_py_attempt {
	%immutable;
	/* locket_attempt_start()'s result: OK (held at once), EWOULDBLOCK
	 * (drive this attempt) or an error (read last_error() now). */
	int status;
	%mutable;
} locket_py_attempt;

%extend locket_py_attempt {
	locket_py_attempt(PyObject *handle, unsigned int flags) {
		locket_py_attempt *a;
		locket_box *box = NULL;
		if (!SWIG_IsOK(SWIG_ConvertPtr(handle, (void **)&box, SWIGTYPE_p_locket_box, 0)) || box == NULL) {
			PyErr_SetString(PyExc_TypeError, "Attempt needs a Handle");
			return NULL;
		}
		a = (locket_py_attempt *)calloc(1, sizeof *a);
		if (a == NULL) {
			PyErr_NoMemory();
			return NULL;
		}
		a->status = locket_attempt_start(&a->attempt, box->handle, flags);
		a->box = box;
		a->owner = handle;
		Py_INCREF(handle);
		a->next = locket_py_attempts;
		if (a->next != NULL)
			a->next->prev = a;
		locket_py_attempts = a;
		return a;
	}
	~locket_py_attempt() {
		locket_py_attempt_finish($self);
		if ($self->prev != NULL)
			$self->prev->next = $self->next;
		else
			locket_py_attempts = $self->next;
		if ($self->next != NULL)
			$self->next->prev = $self->prev;
		Py_DECREF($self->owner);
		free($self);
	}
	/* Readable when a release may have happened; -1: none (poll by retry_ms()). */
	int fd() { return locket_attempt_fd($self->attempt); }
	int retry_ms() { return locket_attempt_retry_ms($self->attempt); }
	/* OK: the handle holds the lock. EWOULDBLOCK: wait again. Else an error
	 * (EINVAL also when finished). Anything but EWOULDBLOCK finishes it. */
	int try_() {
		int rc = locket_attempt_try($self->attempt);
		if (rc != LOCKET_EWOULDBLOCK)
			locket_py_attempt_finish($self);
		return rc;
	}
	/* End the attempt now (a lock it obtained stays held). Idempotent. */
	void close() { locket_py_attempt_finish($self); }
}

%include "python_wait.i"
%include "python_lock.i"
