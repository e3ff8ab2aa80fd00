/*
 * Python entry of the SWIG interface: the generated module locket._core.
 * The idiomatic layer (errors, timeouts, context managers, asyncio) is the
 * hand-written package locket/__init__.py on top of it.
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
%thread locket_box::acquire;
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
		buf = PyBytes_AS_STRING(utf8);
		len = PyBytes_GET_SIZE(utf8);
	} else if (PyBytes_Check($input)) {
		buf = PyBytes_AS_STRING($input);
		len = PyBytes_GET_SIZE($input);
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

/*
 * An interruptible wait that a signal ended: run the Python signal handlers
 * now, with the GIL held again. If one raises (KeyboardInterrupt for
 * SIGINT), the call raises it; the lock is not held (locket_acquire()
 * leaves nothing held on failure). Otherwise wait on, here, with the time
 * that remains: one deadline for the call, and LOCKET_EINTR never reaches
 * Python.
 */
%{
#ifdef _WIN32
#include <windows.h>
static int64_t locket_py_now_us(void)
{
	return (int64_t)GetTickCount64() * 1000;
}
#else
#include <time.h>
static int64_t locket_py_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
#endif
%}
%exception locket_box::acquire {
	/* arg2 is the timeout in ms (a vDSO clock read costs ~25 ns). */
	int64_t timeout_us = arg2 > 0 ? arg2 * 1000 : 0;
	int64_t start_us = arg2 > 0 ? locket_py_now_us() : 0;
	int retried = 0;
	for (;;) {
		$action
		if (result != LOCKET_EINTR)
			break;
		if (PyErr_CheckSignals() != 0)
			SWIG_fail;
		if (timeout_us > 0) {
			int64_t left_us = timeout_us - (locket_py_now_us() - start_us);
			arg2 = left_us > 0 ? (left_us + 999) / 1000 : 0;
		}
		retried = 1;
	}
	/* The deadline passed during a handler: a timeout, not a failed try. */
	if (retried && arg2 == 0 && timeout_us > 0 && result == LOCKET_EWOULDBLOCK)
		result = LOCKET_ETIMEDOUT;
}

/* Module functions without the C prefix: locket._core.error_name(), ... */
%rename(error_name) locket_error_name;
%rename(strerror) locket_strerror;
%rename(last_error_code) locket_last_error_code;
%rename(last_os_error) locket_last_os_error;
%rename(last_error_message) locket_last_error_message;
%rename(version) locket_version;
%rename(version_number) locket_version_number;

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
 * AsyncWait (POSIX): one acquire for asyncio, waited for on a C thread that
 * never takes the GIL. When the wait ends, the thread sends one byte on
 * notify_fd (a socket it then closes: it owns it from the constructor on)
 * and the event loop, watching the other end with loop.add_reader, wakes:
 * the hand-over costs one wake-up of the loop and no GIL hand-off between
 * threads. The
 * wait runs in slices so that cancel() ends it within one slice; a grant
 * that meets a cancellation is released by the thread itself.
 *
 * Lifetime: the Python object and the thread each hold a reference; the
 * last to let go frees it. The Python side keeps the Handle open until
 * done() (locket/__init__.py waits for the byte even after a cancellation).
 */
%{
#include "pythread.h"
#ifndef _WIN32
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#endif

#define LOCKET_PY_SLICE_MS 100

typedef struct locket_async_wait {
	locket_t *handle;
	PyObject *owner; /* the Handle object: kept alive while the thread may use handle */
	int64_t timeout_ms;
	unsigned int flags;
	int notify_fd;
	int refs;      /* atomic */
	int cancelled; /* atomic */
	int done;      /* atomic; the fields below are valid once set */
	int rc, os_error;
	char message[512];
} locket_async_wait;

#ifndef _WIN32

static void locket_py_async_unref(locket_async_wait *w)
{
	if (__atomic_sub_fetch(&w->refs, 1, __ATOMIC_ACQ_REL) == 0)
		free(w);
}

static void locket_py_async_run(void *arg)
{
	locket_async_wait *w = (locket_async_wait *)arg;
	/* In microseconds: a wait never ends before the deadline, whatever the
	 * rounding of each slice. */
	int64_t deadline = w->timeout_ms < 0 ? -1 : locket_py_now_us() + w->timeout_ms * 1000;
	int rc;
	char byte = 1;

	for (;;) {
		int64_t slice = LOCKET_PY_SLICE_MS;
		if (deadline >= 0) {
			int64_t left_us = deadline - locket_py_now_us();
			int64_t left = left_us <= 0 ? 0 : (left_us + 999) / 1000;
			if (left < slice)
				slice = left;
		}
		rc = locket_acquire(w->handle, slice, w->flags);
		if (rc == LOCKET_OK || (rc != LOCKET_ETIMEDOUT && rc != LOCKET_EWOULDBLOCK))
			break;
		if (__atomic_load_n(&w->cancelled, __ATOMIC_ACQUIRE))
			break;
		if (deadline >= 0 && locket_py_now_us() >= deadline) {
			rc = LOCKET_ETIMEDOUT;
			break;
		}
	}
	if (rc == LOCKET_OK && __atomic_load_n(&w->cancelled, __ATOMIC_ACQUIRE)) {
		locket_release(w->handle);
		rc = LOCKET_ETIMEDOUT;
	}
	if (rc != LOCKET_OK) {
		const char *msg = locket_last_error_message();
		w->os_error = locket_last_os_error();
		strncpy(w->message, msg, sizeof w->message - 1);
	}
	w->rc = rc == LOCKET_EWOULDBLOCK ? LOCKET_ETIMEDOUT : rc;
	__atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
	/* MSG_NOSIGNAL: a reader that went away must not raise SIGPIPE. */
	while (send(w->notify_fd, &byte, 1, MSG_NOSIGNAL) < 0 && errno == EINTR)
		;
	close(w->notify_fd);
	locket_py_async_unref(w);
}
#endif
%}

%rename(AsyncWait) locket_async_wait;
typedef struct locket_async_wait {
} locket_async_wait;

%extend locket_async_wait {
	/* Start waiting, taking over notify_fd; NULL (an exception in Python,
	 * notify_fd not taken) on Windows, for a closed handle or without memory
	 * or a thread. */
	locket_async_wait(PyObject *handle, int64_t timeout_ms, unsigned int flags, int notify_fd) {
		locket_async_wait *w;
		locket_box *box = NULL;
#ifdef _WIN32
		return NULL;
#endif
		if (!SWIG_IsOK(SWIG_ConvertPtr(handle, (void **)&box, SWIGTYPE_p_locket_box, 0)) ||
		    box == NULL || box->handle == NULL)
			return NULL;
		w = (locket_async_wait *)calloc(1, sizeof *w);
		if (w == NULL)
			return NULL;
		w->handle = box->handle;
		w->owner = handle;
		w->timeout_ms = timeout_ms;
		w->flags = flags;
		w->notify_fd = notify_fd;
		w->refs = 2;
		Py_INCREF(handle);
#ifndef _WIN32
		if (PyThread_start_new_thread(locket_py_async_run, w) == PYTHREAD_INVALID_THREAD_ID) {
			Py_DECREF(handle);
			free(w);
			return NULL;
		}
#endif
		return w;
	}
	/* Normally the thread is done by now (the Python side waits for its
	 * byte). If not (a task dropped with its loop), tell it to stop and
	 * leave the Handle referenced for good: the thread may still use it,
	 * and dropping the reference would need the GIL on that thread. */
	~locket_async_wait() {
		if (__atomic_load_n(&$self->done, __ATOMIC_ACQUIRE))
			Py_DECREF($self->owner);
		else
			__atomic_store_n(&$self->cancelled, 1, __ATOMIC_RELEASE);
		locket_py_async_unref($self);
	}
	/* End the wait within one slice; a grant after this is released. */
	void cancel() { __atomic_store_n(&$self->cancelled, 1, __ATOMIC_RELEASE); }
	int done() { return __atomic_load_n(&$self->done, __ATOMIC_ACQUIRE); }
	/* (code, os_error, message) once done(): code OK means the lock is held. */
	PyObject *result() {
		if (!__atomic_load_n(&$self->done, __ATOMIC_ACQUIRE))
			Py_RETURN_NONE;
		return Py_BuildValue("(iiN)", $self->rc, $self->os_error,
				     PyUnicode_DecodeUTF8($self->message, (Py_ssize_t)strlen($self->message),
							  "surrogateescape"));
	}
}
