// SPDX-License-Identifier: MIT
/*
 * report.c - the result forms, all expanded from REPORT_FIELDS so the CSV
 * header, the CSV row and the JSON keys can never disagree. No I/O.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "report.h"

/* Appends to a bounded buffer and remembers the length it needed. */
struct report_out {
	char *buf;
	size_t len;
	size_t need;
};

static void report_put(struct report_out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void report_put(struct report_out *o, const char *fmt, ...)
{
	size_t room = o->need < o->len ? o->len - o->need : 0;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(room ? o->buf + o->need : NULL, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->need += (size_t)n;
}

static int report_done(struct report_out *o)
{
	if (o->len)
		o->buf[o->need < o->len ? o->need : o->len - 1u] = '\0';
	return (int)o->need;
}

/* A CSV field: quoted (quotes doubled) only if it needs to be. */
static void report_csv_str(struct report_out *o, const char *s)
{
	const char *p;

	s = s ? s : "";
	if (!strpbrk(s, ",\"\r\n")) {
		report_put(o, "%s", s);
		return;
	}
	report_put(o, "\"");
	for (p = s; *p; p++) {
		if (*p == '"')
			report_put(o, "\"\"");
		else
			report_put(o, "%c", *p);
	}
	report_put(o, "\"");
}

/* A JSON string with quotes, backslashes and control bytes escaped. */
static void report_json_str(struct report_out *o, const char *s)
{
	const unsigned char *p;

	report_put(o, "\"");
	for (p = (const unsigned char *)(s ? s : ""); *p; p++) {
		if (*p == '"' || *p == '\\')
			report_put(o, "\\%c", *p);
		else if (*p < 0x20)
			report_put(o, "\\u%04x", *p);
		else
			report_put(o, "%c", *p);
	}
	report_put(o, "\"");
}

void report_fill(struct report *r, const struct hist *h)
{
	double d = r->duration_s > 0 ? r->duration_s : 1.0;

	r->msgs_per_s = (double)r->msgs / d;
	r->mib_per_s = (double)r->bytes / d / (1024.0 * 1024.0);
	r->p50_us = (double)hist_value_at(h, 0.50) / 1e3;
	r->p90_us = (double)hist_value_at(h, 0.90) / 1e3;
	r->p99_us = (double)hist_value_at(h, 0.99) / 1e3;
	r->p999_us = (double)hist_value_at(h, 0.999) / 1e3;
	r->max_us = (double)h->max / 1e3;
	r->mean_us = hist_mean(h) / 1e3;
	r->gen_saturated =
	    r->gen_thread_max_pct >= REPORT_SATURATED_PCT ||
	    r->gen_cpu_pct >= REPORT_SATURATED_PCT * (double)r->threads;
}

int report_csv_header(char *buf, size_t len)
{
	struct report_out o = { buf, len, 0 };
	const char *sep = "";

#define REPORT_NAME(name)                           \
	do {                                        \
		report_put(&o, "%s%s", sep, #name); \
		sep = ",";                          \
	} while (0);
#define REPORT_NAME_F(name, dec) REPORT_NAME(name)
	REPORT_FIELDS(REPORT_NAME, REPORT_NAME, REPORT_NAME_F)
#undef REPORT_NAME_F
#undef REPORT_NAME
	report_put(&o, "\n");
	return report_done(&o);
}

int report_csv_row(const struct report *r, char *buf, size_t len)
{
	struct report_out o = { buf, len, 0 };
	const char *sep = "";

#define REPORT_S(name)                       \
	do {                                 \
		report_put(&o, "%s", sep);   \
		report_csv_str(&o, r->name); \
		sep = ",";                   \
	} while (0);
#define REPORT_U(name)                                                      \
	do {                                                                \
		report_put(&o, "%s%llu", sep, (unsigned long long)r->name); \
		sep = ",";                                                  \
	} while (0);
#define REPORT_F(name, dec)                                  \
	do {                                                 \
		report_put(&o, "%s%.*f", sep, dec, r->name); \
		sep = ",";                                   \
	} while (0);
	REPORT_FIELDS(REPORT_S, REPORT_U, REPORT_F)
#undef REPORT_S
#undef REPORT_U
#undef REPORT_F
	report_put(&o, "\n");
	return report_done(&o);
}

int report_json(const struct report *r, char *buf, size_t len)
{
	struct report_out o = { buf, len, 0 };
	const char *sep = "{";

#define REPORT_S(name)                                   \
	do {                                             \
		report_put(&o, "%s\"%s\":", sep, #name); \
		report_json_str(&o, r->name);            \
		sep = ",";                               \
	} while (0);
#define REPORT_U(name)                                      \
	do {                                                \
		report_put(&o, "%s\"%s\":%llu", sep, #name, \
			   (unsigned long long)r->name);    \
		sep = ",";                                  \
	} while (0);
#define REPORT_F(name, dec)                                                \
	do {                                                               \
		report_put(&o, "%s\"%s\":%.*f", sep, #name, dec, r->name); \
		sep = ",";                                                 \
	} while (0);
	REPORT_FIELDS(REPORT_S, REPORT_U, REPORT_F)
#undef REPORT_S
#undef REPORT_U
#undef REPORT_F
	report_put(&o, "}\n");
	return report_done(&o);
}

int report_text(const struct report *r, char *buf, size_t len)
{
	struct report_out o = { buf, len, 0 };

	report_put(&o,
		   "echo-load %s%s%s: %llu conns (+%llu idle), %llu threads, "
		   "size %llu, depth %llu, rate %llu/s, %.3f s measured\n",
		   r->mode, r->label && *r->label ? " " : "",
		   r->label ? r->label : "", (unsigned long long)r->conns,
		   (unsigned long long)r->idle, (unsigned long long)r->threads,
		   (unsigned long long)r->size, (unsigned long long)r->depth,
		   (unsigned long long)r->rate, r->duration_s);
	report_put(&o, "  %-12s %llu  (%.1f msg/s, %.3f MiB/s echoed)\n",
		   "messages", (unsigned long long)r->msgs, r->msgs_per_s,
		   r->mib_per_s);
	report_put(&o,
		   "  %-12s p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  "
		   "max %.2f  mean %.2f\n",
		   "latency us", r->p50_us, r->p90_us, r->p99_us, r->p999_us,
		   r->max_us, r->mean_us);
	report_put(&o, "  %-12s %llu  (verify %llu, connection %llu)\n",
		   "errors", (unsigned long long)r->errors,
		   (unsigned long long)r->verify_errors,
		   (unsigned long long)r->conn_errors);
	report_put(&o, "  %-12s %.1f%% of one core, busiest thread %.1f%%%s\n",
		   "gen cpu", r->gen_cpu_pct, r->gen_thread_max_pct,
		   r->gen_saturated ? "  SATURATED: the generator may be "
				      "the bottleneck"
				    : "");
	return report_done(&o);
}

/* One HdrHistogram percentile line; the 100% line has no 1/(1-p). */
static void report_hgrm_line(struct report_out *o, double value, double level,
			     uint64_t total)
{
	if (level < 100.0)
		report_put(o, "%12.3f %2.12f %10llu %14.2f\n", value,
			   level / 100.0, (unsigned long long)total,
			   1.0 / (1.0 - level / 100.0));
	else
		report_put(o, "%12.3f %2.12f %10llu\n", value, 1.0,
			   (unsigned long long)total);
}

/*
 * The walk is HdrHistogram's percentile iterator: a line at every level
 * reached, 5 levels per halving of the distance to 100%, the first level
 * a bucket reaches reported at that bucket's highest value (within
 * [min, max], as hist_value_at), then one last line at 100% (max).
 */
int report_hgrm(const struct hist *h, double unit_ns, char *buf, size_t len)
{
	struct report_out o = { buf, len, 0 };
	double level = 0.0, cur, mid, var = 0.0, mean = hist_mean(h);
	uint64_t total = 0, v;
	unsigned i, halvings;

	report_put(&o, "%12s %14s %10s %14s\n\n", "Value", "Percentile",
		   "TotalCount", "1/(1-Percentile)");
	for (i = 0; i < HIST_BUCKETS && h->count; i++) {
		if (!h->b[i])
			continue;
		total += h->b[i];
		mid =
		    ((double)hist_bucket_low(i) + (double)hist_bucket_high(i)) /
		    2.0;
		var += (double)h->b[i] * (mid - mean) * (mid - mean);
		v = hist_bucket_high(i);
		v = v > h->max ? h->max : v < h->min ? h->min : v;
		for (;;) {
			cur = 100.0 * (double)total / (double)h->count;
			if (cur < level)
				break;
			report_hgrm_line(&o, (double)v / unit_ns, level, total);
			halvings = 0;
			while (halvings < 60 &&
			       100.0 - level <=
				   100.0 / (double)(2ull << halvings))
				halvings++;
			level += 100.0 / (5.0 * (double)(2ull << halvings));
			/* The last bucket: its one line, then the 100% line. */
			if (total == h->count)
				break;
		}
	}
	if (h->count)
		report_hgrm_line(&o, (double)h->max / unit_ns, 100.0, h->count);
	report_put(&o, "#[Mean    = %12.3f, StdDeviation   = %12.3f]\n",
		   mean / unit_ns,
		   h->count ? sqrt(var / (double)h->count) / unit_ns : 0.0);
	report_put(&o, "#[Max     = %12.3f, Total count    = %12llu]\n",
		   (double)h->max / unit_ns, (unsigned long long)h->count);
	report_put(&o, "#[Buckets = %12u, SubBuckets     = %12u]\n",
		   (HIST_BUCKETS + HIST_SUB - 1u) / HIST_SUB, HIST_SUB);
	return report_done(&o);
}
