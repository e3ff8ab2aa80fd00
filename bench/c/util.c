/* Clocks, statistics and the JSON results of the C suite. */
#include "bench.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void sleep_us(int64_t us)
{
	struct timespec ts = { (time_t)(us / 1000000), (long)(us % 1000000) * 1000 };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

void sort_doubles(double *v, size_t n)
{
	qsort(v, n, sizeof *v, cmp_double);
}

double percentile(const double *sorted, size_t n, double q)
{
	if (n == 0)
		return NAN;
	size_t rank = (size_t)ceil(q * (double)n);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return sorted[rank - 1];
}

double median_of(double *v, size_t n)
{
	sort_doubles(v, n);
	return percentile(v, n, 0.5);
}

/* ---- results ---- */
enum {
	MAX_METRICS = 128,
	MAX_HANDOFF = 16,
	MAX_NOTES = 64
};

static struct metric {
	char name[64], impl[64], unit[8];
	double value;
	int reference, context;
} metrics[MAX_METRICS];
static size_t n_metrics;

static struct handoff {
	char impl[64];
	double *us;
	size_t n;
} handoffs[MAX_HANDOFF];
static size_t n_handoffs;

static char *notes[MAX_NOTES];
static size_t n_notes;

static void copy(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src);
}

void res_metric(const char *name, const char *impl, double value, const char *unit, int reference,
		int context)
{
	if (n_metrics == MAX_METRICS)
		return;
	struct metric *m = &metrics[n_metrics++];
	copy(m->name, sizeof m->name, name);
	copy(m->impl, sizeof m->impl, impl);
	copy(m->unit, sizeof m->unit, unit);
	m->value = value;
	m->reference = reference;
	m->context = context;
}

void res_handoff(const char *impl, const double *us, size_t n)
{
	if (n_handoffs == MAX_HANDOFF)
		return;
	struct handoff *h = &handoffs[n_handoffs];
	h->us = malloc((n ? n : 1) * sizeof *us);
	if (!h->us)
		return;
	memcpy(h->us, us, n * sizeof *us);
	h->n = n;
	copy(h->impl, sizeof h->impl, impl);
	n_handoffs++;
}

void res_note(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	fprintf(stderr, "note: %s\n", buf);
	if (n_notes < MAX_NOTES)
		notes[n_notes++] = strdup(buf);
}

static void put_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* JSON has no NaN or infinity: a failed measurement becomes null. */
static void put_number(FILE *f, double v)
{
	if (isfinite(v))
		fprintf(f, "%.4g", v);
	else
		fputs("null", f);
}

int res_write(const char *path)
{
	FILE *f = path ? fopen(path, "w") : stdout;
	if (!f) {
		fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
		return -1;
	}
	fputs("{\"suite\": \"c\",\n \"metrics\": [", f);
	for (size_t i = 0; i < n_metrics; i++) {
		const struct metric *m = &metrics[i];
		fputs(i ? ",\n  {\"name\": " : "\n  {\"name\": ", f);
		put_string(f, m->name);
		fputs(", \"impl\": ", f);
		put_string(f, m->impl);
		fputs(", \"value\": ", f);
		put_number(f, m->value);
		fputs(", \"unit\": ", f);
		put_string(f, m->unit);
		fprintf(f, ", \"reference\": %s, \"lower_is_better\": true%s}",
			m->reference ? "true" : "false", m->context ? ", \"context\": true" : "");
	}
	fputs("],\n \"handoff\": {", f);
	for (size_t i = 0; i < n_handoffs; i++) {
		fputs(i ? ",\n  " : "\n  ", f);
		put_string(f, handoffs[i].impl);
		fputs(": [", f);
		for (size_t j = 0; j < handoffs[i].n; j++) {
			if (j)
				fputs(", ", f);
			fprintf(f, "%.1f", handoffs[i].us[j]);
		}
		fputc(']', f);
	}
	fputs("},\n \"notes\": [", f);
	for (size_t i = 0; i < n_notes; i++) {
		fputs(i ? ",\n  " : "\n  ", f);
		put_string(f, notes[i]);
	}
	fputs("]}\n", f);
	int failed = ferror(f);
	if (path && fclose(f) != 0)
		failed = 1;
	if (failed) {
		fprintf(stderr, "cannot write %s\n", path ? path : "stdout");
		return -1;
	}
	return 0;
}
