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
 * leaves nothing held on failure). Otherwise the caller sees LOCKET_EINTR
 * and waits on with the time that remains.
 */
%exception locket_box::acquire {
	$action
	if (result == LOCKET_EINTR && PyErr_CheckSignals() != 0)
		SWIG_fail;
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
