/* Part of locket_python.i: Lock's acquire, release and context methods in C
 * (%include'd there, after python_wait.i). */

%{
/*
 * Lock.acquire() and Lock.__enter__, in C.
 *
 * A Python method that calls a C wait has eval-breaker checks between the
 * C return and its own return: a SIGINT landing there raises
 * KeyboardInterrupt with the lock taken, and `with lock:` then skips
 * __exit__. So these are method descriptors of the package's Lock class:
 * after a successful wait they run the signal handlers themselves and, if
 * one raises, release before returning NULL. Between that check and the
 * return to the caller's frame no Python code runs (nothing here calls
 * Python once the lock is held). The rest of the bookkeeping follows
 * Lock's protocol in locket/_lock.py (the _calls list, Lock._leave, close() during a
 * call); failures are built by the package's Lock._failed().
 */
static PyObject *locket_py_str_calls, *locket_py_str_h, *locket_py_str_ms, *locket_py_str_flags,
	*locket_py_str_open, *locket_py_str_free, *locket_py_str_failed;
static PyObject *locket_py_default; /* the package's _DEFAULT sentinel */

static int locket_py_intern(void)
{
#define LOCKET_PY_INTERN(var, text) \
	if (var == NULL && (var = PyUnicode_InternFromString(text)) == NULL) \
		return -1;
	LOCKET_PY_INTERN(locket_py_str_calls, "_calls")
	LOCKET_PY_INTERN(locket_py_str_h, "_h")
	LOCKET_PY_INTERN(locket_py_str_ms, "_ms")
	LOCKET_PY_INTERN(locket_py_str_flags, "_flags")
	LOCKET_PY_INTERN(locket_py_str_open, "_open")
	LOCKET_PY_INTERN(locket_py_str_free, "_free")
	LOCKET_PY_INTERN(locket_py_str_failed, "_failed")
#undef LOCKET_PY_INTERN
	return 0;
}

static int locket_py_box_of(PyObject *h, locket_box **box)
{
	*box = NULL;
	if (!SWIG_IsOK(SWIG_ConvertPtr(h, (void **)box, SWIGTYPE_p_locket_box, 0)) || *box == NULL) {
		PyErr_SetString(PyExc_TypeError, "not a locket Handle");
		return -1;
	}
	return 0;
}

/* Take self's lock: Py_True, or NULL with the exception set and the lock not held. */
static PyObject *locket_py_lock_take(PyObject *self, int64_t ms, unsigned int flags)
{
	PyObject *calls, *h = NULL, *now, *result = NULL;
	locket_box *box = NULL;
	int rc, closed;
	calls = PyObject_GetAttr(self, locket_py_str_calls);
	if (calls == NULL)
		return NULL;
	if (PyList_Append(calls, Py_None) != 0) { /* before reading the handle: see close() */
		Py_DECREF(calls);
		return NULL;
	}
	h = PyObject_GetAttr(self, locket_py_str_h);
	if (h == Py_None) {
		Py_DECREF(h);
		h = PyObject_CallMethodObjArgs(self, locket_py_str_open, NULL);
	}
	if (h == NULL || locket_py_box_of(h, &box) != 0)
		goto done;
	rc = locket_py_wait(box, ms, flags);
	if (rc == LOCKET_EINTR)
		goto done; /* a handler raised: nothing held */
	now = PyObject_GetAttr(self, locket_py_str_h);
	if (now == NULL) {
		if (rc == LOCKET_OK)
			locket_release(box->handle);
		goto done;
	}
	closed = now != h;
	Py_DECREF(now);
	if (closed) { /* close() during the wait */
		if (rc == LOCKET_OK)
			locket_release(box->handle);
		PyErr_SetString(PyExc_ValueError, "lock closed during acquire(): the lock is not held");
		goto done;
	}
	if (rc == LOCKET_OK) {
		Py_INCREF(Py_True);
		result = Py_True; /* signals are checked at the very end */
		goto done;
	}
	{
		/* The detail first: it is per thread and the next call replaces it. */
		PyObject *exc, *detail;
		if (rc == LOCKET_ETIMEDOUT || rc == LOCKET_EWOULDBLOCK) {
			Py_INCREF(Py_None);
			detail = Py_None;
		} else {
			const char *msg = locket_last_error_message();
			detail = Py_BuildValue("(iiN)", locket_last_error_code(), locket_last_os_error(),
					       PyUnicode_DecodeUTF8(msg, (Py_ssize_t)strlen(msg),
								    "surrogateescape"));
			if (detail == NULL)
				goto done;
		}
		exc = PyObject_CallMethod(self, "_failed", "iO", rc, detail);
		Py_DECREF(detail);
		if (exc != NULL) {
			PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
			Py_DECREF(exc);
		}
	}
done:
	{
		/* calls.pop(); the last call out frees a handle close() left behind. */
		PyObject *et, *ev, *tb, *cur;
		Py_ssize_t n;
		PyErr_Fetch(&et, &ev, &tb);
		n = PyList_Size(calls);
		if (n > 0)
			PyList_SetSlice(calls, n - 1, n, NULL);
		if (h != NULL && h != Py_None && PyList_Size(calls) == 0) {
			cur = PyObject_GetAttr(self, locket_py_str_h);
			if (cur != NULL && cur != h) {
				/* Closed meanwhile: this call is never a success here. */
				PyObject *r = PyObject_CallMethodObjArgs(self, locket_py_str_free, h, NULL);
				Py_XDECREF(r);
			}
			Py_XDECREF(cur);
		}
		PyErr_Clear(); /* bookkeeping errors never replace the call's outcome */
		if (et != NULL)
			PyErr_Restore(et, ev, tb);
	}
	if (result != NULL && PyErr_CheckSignals() != 0) {
		/* Held, and a signal handler raised (KeyboardInterrupt): the call
		 * ends with the lock not held. The GIL stayed with this thread since
		 * the wait, so close() cannot have run: the handle is live. */
		locket_release(box->handle);
		Py_CLEAR(result);
	}
	Py_XDECREF(h);
	Py_DECREF(calls);
	return result;
}

static int locket_py_attr_ll(PyObject *self, PyObject *name, long long *out)
{
	PyObject *v = PyObject_GetAttr(self, name);
	if (v == NULL)
		return -1;
	*out = PyLong_AsLongLong(v);
	Py_DECREF(v);
	return *out == -1 && PyErr_Occurred() ? -1 : 0;
}

static PyObject *locket_py_lock_acquire(PyObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = { "timeout", "shared", "blocking", NULL };
	PyObject *timeout = NULL, *shared = Py_None, *blocking = Py_True;
	long long ms, flags;
	int64_t ms64;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "|O$OO:acquire", kwlist, &timeout, &shared, &blocking))
		return NULL;
	if (timeout == NULL || timeout == locket_py_default) {
		if (locket_py_attr_ll(self, locket_py_str_ms, &ms) != 0)
			return NULL;
	} else {
		if (locket_py_timeout_ms(timeout, &ms64) != 0)
			return NULL;
		ms = ms64;
	}
	if (locket_py_attr_ll(self, locket_py_str_flags, &flags) != 0)
		return NULL;
	if (shared != Py_None) {
		int s = PyObject_IsTrue(shared);
		if (s < 0)
			return NULL;
		flags = (flags & ~(long long)LOCKET_SHARED) | (s ? LOCKET_SHARED : 0);
	}
	if (blocking != Py_True) {
		int b = PyObject_IsTrue(blocking);
		if (b < 0)
			return NULL;
		if (!b)
			ms = 0;
	}
	return locket_py_lock_take(self, (int64_t)ms, (unsigned int)flags);
}

static PyObject *locket_py_lock_enter(PyObject *self, PyObject *unused)
{
	long long ms, flags;
	PyObject *r;
	(void)unused;
	if (locket_py_attr_ll(self, locket_py_str_ms, &ms) != 0 ||
	    locket_py_attr_ll(self, locket_py_str_flags, &flags) != 0)
		return NULL;
	r = locket_py_lock_take(self, (int64_t)ms, (unsigned int)flags);
	if (r == NULL)
		return NULL;
	Py_DECREF(r);
	Py_INCREF(self);
	return self;
}

/* Release self's lock: 0, or -1 with the exception set (built by the
 * package's Lock._release_failed()). No Python code runs before the lock is
 * released, so a signal cannot come between a release() call and the release. */
static int locket_py_lock_give(PyObject *self)
{
	PyObject *calls, *h, *et, *ev, *tb, *cur;
	locket_box *box;
	int rc = LOCKET_OK, failed = 0;
	Py_ssize_t n;
	calls = PyObject_GetAttr(self, locket_py_str_calls);
	if (calls == NULL)
		return -1;
	if (PyList_Append(calls, Py_None) != 0) { /* before reading the handle: see close() */
		Py_DECREF(calls);
		return -1;
	}
	h = PyObject_GetAttr(self, locket_py_str_h);
	if (h == NULL) {
		failed = 1;
	} else if (h == Py_None) {
		rc = LOCKET_ENOTHELD; /* never opened, or closed: _release_failed tells */
	} else if (locket_py_box_of(h, &box) != 0) {
		failed = 1;
	} else {
		Py_BEGIN_ALLOW_THREADS
		rc = locket_release(box->handle);
		Py_END_ALLOW_THREADS
	}
	if (!failed && rc != LOCKET_OK) {
		PyObject *exc, *detail;
		const char *msg = locket_last_error_message();
		detail = Py_BuildValue("(iiN)", h == Py_None ? rc : locket_last_error_code(),
				       h == Py_None ? 0 : locket_last_os_error(),
				       PyUnicode_DecodeUTF8(msg, (Py_ssize_t)strlen(msg), "surrogateescape"));
		exc = detail == NULL ? NULL
				     : PyObject_CallMethod(self, "_release_failed", "iO", rc, detail);
		Py_XDECREF(detail);
		if (exc != NULL) {
			PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
			Py_DECREF(exc);
		}
		failed = 1;
	}
	/* calls.pop(); the last call out frees a handle close() left behind. */
	PyErr_Fetch(&et, &ev, &tb);
	n = PyList_Size(calls);
	if (n > 0)
		PyList_SetSlice(calls, n - 1, n, NULL);
	if (h != NULL && h != Py_None && PyList_Size(calls) == 0) {
		cur = PyObject_GetAttr(self, locket_py_str_h);
		if (cur != NULL && cur != h) {
			PyObject *r = PyObject_CallMethodObjArgs(self, locket_py_str_free, h, NULL);
			if (r == NULL && !failed) {
				Py_XDECREF(cur);
				Py_DECREF(h);
				Py_DECREF(calls);
				return -1;
			}
			Py_XDECREF(r);
		}
		Py_XDECREF(cur);
		PyErr_Clear();
	}
	if (et != NULL)
		PyErr_Restore(et, ev, tb);
	Py_XDECREF(h);
	Py_DECREF(calls);
	return failed ? -1 : 0;
}

static PyObject *locket_py_lock_release(PyObject *self, PyObject *unused)
{
	(void)unused;
	if (locket_py_lock_give(self) != 0)
		return NULL;
	Py_RETURN_NONE;
}

static PyObject *locket_py_lock_exit(PyObject *self, PyObject *args)
{
	PyObject *et, *exc, *tb;
	if (!PyArg_ParseTuple(args, "OOO:__exit__", &et, &exc, &tb))
		return NULL;
	if (locket_py_lock_give(self) == 0)
		Py_RETURN_NONE;
	if (exc == Py_None)
		return NULL; /* no exception in the body: the failed release raises */
	{
		/* The body's exception goes on; the failed release is noted on it. */
		PyObject *ft, *fv, *ftb, *r;
		PyErr_Fetch(&ft, &fv, &ftb);
		PyErr_NormalizeException(&ft, &fv, &ftb);
		r = PyObject_CallMethod(self, "_note_release_failure", "OO", exc, fv ? fv : Py_None);
		Py_XDECREF(ft);
		Py_XDECREF(fv);
		Py_XDECREF(ftb);
		if (r == NULL)
			return NULL;
		Py_DECREF(r);
	}
	Py_RETURN_NONE;
}

static PyMethodDef locket_py_lock_methods[] = {
	{ "acquire", (PyCFunction)(void (*)(void))locket_py_lock_acquire, METH_VARARGS | METH_KEYWORDS,
	  "acquire($self, /, timeout=\"<the lock's timeout>\", *, shared=None, blocking=True)\n--\n\n"
	  "Take the lock and return True, or raise (never returns False).\n\n"
	  "timeout: seconds for this call (default: the lock's timeout); None\n"
	  "  waits forever, 0 tries once. blocking=False is the same as 0.\n"
	  "shared: True for a shared (reader) lock, False for an exclusive one\n"
	  "  (default: the lock's mode).\n\n"
	  "Raises LockTimeout (a LockError and a TimeoutError) when the timeout\n"
	  "passes, LockBusy (a LockError) when a try finds the lock held; both\n"
	  "carry .path and .holder_pid. OSError subclasses when the file cannot\n"
	  "be locked.\n\n"
	  "Signals: in the main thread, a signal handler that raises during the\n"
	  "wait (KeyboardInterrupt on Ctrl-C) ends it within 50 ms, and one that\n"
	  "raises anywhere in this call ends it with the lock not held; handlers\n"
	  "that return let the wait go on to the same deadline. Waits in other\n"
	  "threads are not interrupted (Python runs handlers in the main thread\n"
	  "only). Linux waits are event-driven (woken by the release); Windows\n"
	  "waits are the Windows engine's (see docs/windows.md)." },
	{ "__enter__", (PyCFunction)(void (*)(void))locket_py_lock_enter, METH_NOARGS,
	  "__enter__($self, /)\n--\n\n"
	  "acquire() with the lock's timeout and mode; returns the lock. An\n"
	  "interrupt never leaves the lock held when this raises, so `with lock:`\n"
	  "never skips __exit__ once the lock is taken." },
	{ "release", (PyCFunction)(void (*)(void))locket_py_lock_release, METH_NOARGS,
	  "release($self, /)\n--\n\n"
	  "Release the lock. Any thread may call it.\n\n"
	  "Raises NotHeldError (a LockError and a RuntimeError) with the message\n"
	  "\"cannot release unlocked lock\" if this object does not hold the lock\n"
	  "in this process (including in a forked child of the holder)." },
	{ "__exit__", (PyCFunction)(void (*)(void))locket_py_lock_exit, METH_VARARGS,
	  "__exit__($self, exc_type, exc, tb, /)\n--\n\n"
	  "Release the lock. An exception of the body goes on (a failed release\n"
	  "is noted on it); without one, a failed release raises." },
	{ NULL, NULL, 0, NULL }
};

/* _lock_methods(Lock, DEFAULT, real_seconds): installs acquire and
 * __enter__ on the package's Lock class. */
static PyObject *locket_py_lock_methods_fn(PyObject *self, PyObject *args)
{
	PyObject *cls, *dflt, *real;
	PyMethodDef *m;
	(void)self;
	if (!PyArg_ParseTuple(args, "O!OO", &PyType_Type, &cls, &dflt, &real))
		return NULL;
	if (locket_py_intern() != 0)
		return NULL;
	Py_INCREF(dflt);
	Py_XDECREF(locket_py_default);
	locket_py_default = dflt;
	Py_INCREF(real);
	Py_XDECREF(locket_py_real_seconds);
	locket_py_real_seconds = real;
	for (m = locket_py_lock_methods; m->ml_name != NULL; m++) {
		PyObject *d = PyDescr_NewMethod((PyTypeObject *)cls, m);
		if (d == NULL || PyObject_SetAttrString(cls, m->ml_name, d) != 0) {
			Py_XDECREF(d);
			return NULL;
		}
		Py_DECREF(d);
	}
	Py_RETURN_NONE;
}
%}
%native(_lock_methods) PyObject *locket_py_lock_methods_fn(PyObject *self, PyObject *args);
