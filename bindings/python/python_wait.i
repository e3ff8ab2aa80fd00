/* Part of locket_python.i: waits, interrupts, timeouts (%include'd there). */

/*
 * Waiting: one call to locket_acquire_with(), with the core's deadline.
 *
 * CPython runs signal handlers only in its main thread. A wait there passes
 * an interrupt callback that the core calls on this thread after a signal
 * handler interrupted its sleep and at least every LOCKET_INTERRUPT_CHECK_MS
 * (50 ms): it takes the GIL back, runs the Python handlers
 * (PyErr_CheckSignals()) and ends the wait when one raised, leaving the
 * exception set for the caller. A handler that returns normally lets the
 * wait go on to the same deadline. Waits in other threads pass no callback:
 * Python would not run a handler there, so nothing could end them early.
 *
 * Only the limited API of CPython 3.8 is used here (abi3 wheels).
 */
%{
/* PyThread_get_thread_ident() of the main thread; set by the package at
 * import and in a forked child (locket/_lock.py). 0: unknown. */
static unsigned long locket_py_main_ident;

typedef struct locket_py_wait_state {
	PyThreadState *save;
} locket_py_wait_state;

static int locket_py_interrupted(void *arg)
{
	locket_py_wait_state *w = (locket_py_wait_state *)arg;
	int raised;
	PyEval_RestoreThread(w->save);
	raised = PyErr_CheckSignals() != 0;
	w->save = PyEval_SaveThread();
	return raised;
}

/* Wait for box's lock with the GIL released. flags: LOCKET_SHARED, and
 * LOCKET_INTERRUPTIBLE to let the main thread's signal handlers end the
 * wait. Returns the core's code; LOCKET_EINTR comes with a Python
 * exception set (a handler raised), nothing held. */
static int locket_py_wait(struct locket_box *box, int64_t timeout_ms, unsigned int flags)
{
	locket_wait_options o;
	locket_py_wait_state w;
	int rc;
	locket_wait_options_init(&o);
	o.flags = flags & LOCKET_SHARED;
	o.timeout_ms = timeout_ms;
	if ((flags & LOCKET_INTERRUPTIBLE) && timeout_ms != 0 &&
	    PyThread_get_thread_ident() == locket_py_main_ident) {
		o.interrupted = locket_py_interrupted;
		o.interrupted_arg = &w;
	}
	w.save = PyEval_SaveThread();
	rc = locket_acquire_with(box == NULL ? NULL : box->handle, &o);
	PyEval_RestoreThread(w.save);
	if (rc == LOCKET_EINTR && !PyErr_Occurred() && PyErr_CheckSignals() == 0) {
		/* Not the contract (the callback decides), but never report an
		 * interruption without an exception. */
		PyErr_SetString(PyExc_InterruptedError, locket_last_error_message());
	}
	return rc;
}

static PyObject *locket_py_set_main_thread(PyObject *self, PyObject *args)
{
	unsigned long ident;
	(void)self;
	if (!PyArg_ParseTuple(args, "k", &ident))
		return NULL;
	locket_py_main_ident = ident;
	Py_RETURN_NONE;
}

/* Seconds (None: forever) to the core's milliseconds, by locket_timeout_ms():
 * int and float here; other numbers (Fraction, Decimal, numpy) through the
 * package's check, which returns a float. bool is not a number of seconds. */
static PyObject *locket_py_real_seconds; /* the package's fallback */

static int locket_py_timeout_ms(PyObject *t, int64_t *ms)
{
	double s;
	if (t == Py_None) {
		*ms = -1;
		return 0;
	}
	if (PyBool_Check(t)) {
		PyErr_SetString(PyExc_TypeError, "timeout must be a number of seconds or None, not bool");
		return -1;
	}
	if (PyFloat_Check(t)) {
		s = PyFloat_AsDouble(t);
	} else if (PyLong_Check(t)) {
		s = PyLong_AsDouble(t);
		if (s == -1.0 && PyErr_Occurred()) {
			/* Beyond a double: forever if positive, refused if negative. */
			if (!PyErr_ExceptionMatches(PyExc_OverflowError))
				return -1;
			PyErr_Clear();
			s = PyObject_RichCompareBool(t, Py_False, Py_GT) == 1 ? Py_HUGE_VAL : -1.0;
		}
	} else {
		PyObject *f;
		if (locket_py_real_seconds == NULL) {
			PyErr_SetString(PyExc_TypeError, "timeout must be a number of seconds or None");
			return -1;
		}
		f = PyObject_CallFunctionObjArgs(locket_py_real_seconds, t, NULL);
		if (f == NULL)
			return -1;
		s = PyFloat_AsDouble(f);
		Py_DECREF(f);
		if (s == -1.0 && PyErr_Occurred())
			return -1;
	}
	if (s != s) {
		PyErr_SetString(PyExc_ValueError, "timeout must not be NaN");
		return -1;
	}
	if (locket_timeout_ms(s, ms) != LOCKET_OK) {
		PyErr_SetString(PyExc_ValueError, "timeout must not be negative (None waits forever)");
		return -1;
	}
	return 0;
}

static PyObject *locket_py_timeout_ms_fn(PyObject *self, PyObject *t)
{
	int64_t ms;
	(void)self;
	if (locket_py_timeout_ms(t, &ms) != 0)
		return NULL;
	return PyLong_FromLongLong((long long)ms);
}
%}
%native(_set_main_thread) PyObject *locket_py_set_main_thread(PyObject *self, PyObject *args);

/* timeout_ms(seconds) -> int: None -> -1 (forever), 0 -> 0 (try), rounded up. */
%{
static PyObject *locket_py_timeout_ms_native(PyObject *self, PyObject *args)
{
	PyObject *t;
	if (!PyArg_ParseTuple(args, "O", &t))
		return NULL;
	return locket_py_timeout_ms_fn(self, t);
}
%}
%native(timeout_ms) PyObject *locket_py_timeout_ms_native(PyObject *self, PyObject *args);

/* Handle.acquire(timeout_ms, flags): the low-level wait (see locket_py_wait). */
%nothread locket_box::acquire;
%exception locket_box::acquire {
	$action
	if (result == LOCKET_EINTR)
		SWIG_fail;
}
%extend locket_box {
	int acquire(int64_t timeout_ms, unsigned int flags) {
		return locket_py_wait($self, timeout_ms, flags);
	}
}
