/*
 * How one call waits: its deadline, the one rule for timeouts in seconds,
 * and the check that decides whether a wait ends early.
 *
 * Why here and only here: an entry point that keeps its own clock (a binding
 * retrying after EINTR with the time it thinks is left, a CLI with its own
 * timer) drifts from the core's and misses its fixes. Every call makes one
 * locket__wait from its options, and the OS layer's waits consult it.
 */
#include "internal.h"

#include <math.h>

void locket_wait_options_init(locket_wait_options *opts)
{
	static const locket_wait_options defaults = LOCKET_WAIT_OPTIONS_INIT;
	if (opts != NULL)
		*opts = defaults;
}

int64_t locket__deadline_after(int64_t timeout_ms)
{
	int64_t now;
	if (timeout_ms < 0)
		return LOCKET__FOREVER;
	if (timeout_ms == 0)
		return 0;
	/* The clock counts whole milliseconds: the call began somewhere inside
	 * the current one, so one more keeps the wait from ending early. */
	now = locket__now_ms() + 1;
	if (timeout_ms >= LOCKET__FOREVER - now)
		return LOCKET__FOREVER;
	return now + timeout_ms;
}

int locket_timeout_ms(double seconds, int64_t *out_ms)
{
	double ms;
	if (out_ms == NULL)
		return locket__fail(LOCKET_EINVAL, "locket_timeout_ms: out_ms is NULL");
	*out_ms = 0;
	/* Not isnan(): mingw-w64's macro converts to float (-Wfloat-conversion). */
	if (seconds != seconds)
		return locket__fail(LOCKET_EINVAL, "timeout is not a number");
	if (seconds < 0)
		return locket__fail(LOCKET_EINVAL, "timeout %g is negative", seconds);
	ms = ceil(seconds * 1000.0);
	/* 2^63 is exactly representable; anything at or above it (and +inf)
	 * cannot be a deadline: it is forever, as flock(1) -w and locket.py do. */
	if (ms >= 9223372036854775808.0) {
		*out_ms = -1;
		return LOCKET_OK;
	}
	*out_ms = (int64_t)ms;
	return LOCKET_OK;
}

int locket__span_is_default(const locket__span *s)
{
	return s == NULL || (s->kind == LOCKET_KIND_FLOCK && s->start == 0 && s->length == 0);
}

int locket__span_check(const locket__span *s, const char *caller)
{
	if (s->kind != LOCKET_KIND_FLOCK && s->kind != LOCKET_KIND_OFD)
		return locket__fail(LOCKET_EINVAL, "%s: unknown lock kind %u", caller, s->kind);
	if (s->start < 0 || s->length < 0)
		return locket__fail(LOCKET_EINVAL, "%s: negative byte range start or length",
				    caller);
	if (s->length > INT64_MAX - s->start)
		return locket__fail(LOCKET_EINVAL, "%s: byte range beyond the largest offset",
				    caller);
	if (s->kind == LOCKET_KIND_FLOCK && (s->start != 0 || s->length != 0))
		return locket__fail(LOCKET_EINVAL,
				    "%s: a flock lock covers the whole file (a byte range needs "
				    "LOCKET_KIND_OFD)",
				    caller);
	return LOCKET_OK;
}

int locket__wait_init(locket__wait *w, unsigned int *flags, const locket_wait_options *opts,
		      const char *caller, locket__span *span)
{
	locket_wait_options o = LOCKET_WAIT_OPTIONS_INIT;
	locket__span sp = { LOCKET_KIND_FLOCK, 0, 0 };
	if (opts != NULL) {
		if (opts->version < 1 || opts->version > LOCKET_WAIT_OPTIONS_VERSION)
			return locket__fail(LOCKET_EINVAL,
					    "%s: unknown locket_wait_options version %u", caller,
					    opts->version);
		/* Only the fields the caller's version has. */
		o.flags = opts->flags;
		o.timeout_ms = opts->timeout_ms;
		o.interrupted = opts->interrupted;
		o.interrupted_arg = opts->interrupted_arg;
		if (opts->version >= 2) {
			sp.kind = opts->kind;
			sp.start = opts->start;
			sp.length = opts->length;
		}
	}
	if (o.flags & ~(LOCKET_SHARED | LOCKET_INTERRUPTIBLE))
		return locket__fail(LOCKET_EINVAL, "%s: unknown flags 0x%x", caller, o.flags);
	if (span == NULL && !locket__span_is_default(&sp))
		return locket__fail(LOCKET_EINVAL,
				    "%s: a handle's lock kind and range are set by locket_new() "
				    "(locket_options), not per call",
				    caller);
	if (span != NULL) {
		int rc = locket__span_check(&sp, caller);
		if (rc != LOCKET_OK)
			return rc;
		*span = sp;
	}
	*flags = o.flags;
	w->deadline = locket__deadline_after(o.timeout_ms);
	w->interrupted = o.interrupted;
	w->interrupted_arg = o.interrupted_arg;
	w->interruptible = (o.flags & LOCKET_INTERRUPTIBLE) != 0 || o.interrupted != NULL;
	w->next_check = 0;
	return LOCKET_OK;
}

int locket__wait_should_end(locket__wait *w, int signalled)
{
	int64_t now;
	if (!w->interruptible)
		return 0;
	if (w->interrupted == NULL)
		return signalled;
	now = locket__now_ms();
	if (!signalled && now < w->next_check)
		return 0;
	w->next_check = now + LOCKET_INTERRUPT_CHECK_MS;
	return w->interrupted(w->interrupted_arg) != 0;
}

int64_t locket__wait_cap_ms(const locket__wait *w, int64_t ms)
{
	int64_t now = -1;
	if (w->interrupted != NULL) {
		now = locket__now_ms();
		if (w->next_check <= now)
			return 0;
		if (w->next_check - now < ms)
			ms = w->next_check - now;
	}
	if (w->deadline != LOCKET__FOREVER) {
		if (now < 0)
			now = locket__now_ms();
		if (w->deadline - now < ms)
			ms = w->deadline - now;
	}
	return ms < 0 ? 0 : ms;
}
