/* SPDX-License-Identifier: Apache-2.0 */
/*
 * m2masd's counters and histograms, and their Prometheus text exposition (mas/metrics.h).
 * Every worker thread counts into the one set; a mutex keeps a histogram's buckets,
 * count and sum consistent with each other (a scrape never sees half an update).
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "common/wire.h"
#include "mas/metrics.h"

/* Seconds; the last bucket is +Inf. */
static const double bucket_le[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
				    0.1,    0.25,  0.5,    1,     2.5,  5,     10 };
#define N_BUCKETS ARRAY_SIZE(bucket_le)

struct histogram {
	uint64_t buckets[N_BUCKETS]; /* not cumulative here; summed at render */
	uint64_t count;
	double sum;
};

/* Index 0: ok; 1.._WIRE_ERR_MAX-1: the error codes; the last: other. */
#define N_OUTCOMES (_WIRE_ERR_MAX + 1)

struct mas_metrics {
	uint64_t est[N_OUTCOMES], ret[N_OUTCOMES], pw[N_OUTCOMES];
	struct histogram est_lat, ret_lat, pw_lat, store_lat;
	uint64_t store_errors;
	uint64_t rate_limited;
	size_t (*conns)(void *userdata);
	void *conns_userdata;
	pthread_mutex_t lock;
};

static const char *const code_names[_WIRE_ERR_MAX] = {
	[0] = "none",
	[WIRE_ERR_MALFORMED] = "malformed",
	[WIRE_ERR_VERSION] = "version",
	[WIRE_ERR_UNKNOWN_NODE] = "unknown_node",
	[WIRE_ERR_REVOKED] = "revoked",
	[WIRE_ERR_NO_METHOD] = "no_method",
	[WIRE_ERR_AUTH_FAILED] = "auth_failed",
	[WIRE_ERR_RATE_LIMITED] = "rate_limited",
	[WIRE_ERR_UNKNOWN_KEY] = "unknown_key",
	[WIRE_ERR_EXPIRED] = "expired",
	[WIRE_ERR_NOT_AUTHORISED] = "not_authorised",
	[WIRE_ERR_INTERNAL] = "internal",
};

int mas_metrics_new(struct mas_metrics **ret)
{
	struct mas_metrics *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	pthread_mutex_init(&m->lock, NULL);
	*ret = m;
	return 0;
}

void mas_metrics_free(struct mas_metrics *m)
{
	if (m)
		pthread_mutex_destroy(&m->lock);
	free(m);
}

static void observe(struct histogram *h, double seconds)
{
	size_t i = 0;

	while (i < N_BUCKETS && seconds > bucket_le[i])
		i++;
	if (i < N_BUCKETS)
		h->buckets[i]++;
	h->count++;
	h->sum += seconds;
}

void mas_metrics_exchange(struct mas_metrics *m, enum mas_metrics_kind kind,
			  const struct wire_msg *reply, uint64_t elapsed_ms)
{
	uint64_t *counts;
	struct histogram *lat;
	size_t idx;

	if (!m)
		return;
	if (reply->type == WIRE_MSG_ERROR)
		idx = reply->error.code > 0 && reply->error.code < _WIRE_ERR_MAX ?
			      reply->error.code :
			      N_OUTCOMES - 1;
	else if (reply->type == WIRE_MSG_ESTABLISHED || reply->type == WIRE_MSG_KEY_RESPONSE ||
		 reply->type == WIRE_MSG_PEER_KEY)
		idx = 0;
	else
		return; /* not a final reply (CHALLENGE) */
	pthread_mutex_lock(&m->lock);
	switch (kind) {
	case MAS_METRICS_RETRIEVAL:
		counts = m->ret;
		lat = &m->ret_lat;
		break;
	case MAS_METRICS_PAIRWISE:
		counts = m->pw;
		lat = &m->pw_lat;
		break;
	default:
		counts = m->est;
		lat = &m->est_lat;
		break;
	}
	if (idx == WIRE_ERR_RATE_LIMITED)
		m->rate_limited++;
	counts[idx]++;
	observe(lat, (double)elapsed_ms / 1000.0);
	pthread_mutex_unlock(&m->lock);
}

void mas_metrics_store(struct mas_metrics *m, uint64_t ns, bool failed)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	observe(&m->store_lat, (double)ns / 1e9);
	if (failed)
		m->store_errors++;
	pthread_mutex_unlock(&m->lock);
}

void mas_metrics_set_conns(struct mas_metrics *m, size_t (*fn)(void *userdata), void *userdata)
{
	m->conns = fn;
	m->conns_userdata = userdata;
}

/* A growing text buffer; a failed append leaves err set. */
struct out {
	char *buf;
	size_t len, cap;
	int err;
};

static void out_printf(struct out *o, const char *fmt, ...) _printf_(2, 3);
static void out_printf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->err)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			o->err = -EINVAL;
			return;
		}
		if ((size_t)n < o->cap - o->len) {
			o->len += (size_t)n;
			return;
		}
		char *nb = realloc(o->buf, o->cap * 2 + (size_t)n);

		if (!nb) {
			o->err = -ENOMEM;
			return;
		}
		o->buf = nb;
		o->cap = o->cap * 2 + (size_t)n;
	}
}

static void render_outcomes(struct out *o, const char *name, const char *help, const uint64_t *v)
{
	out_printf(o, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
	out_printf(o, "%s{outcome=\"ok\",code=\"none\"} %llu\n", name, (unsigned long long)v[0]);
	for (size_t i = 1; i < _WIRE_ERR_MAX; i++)
		out_printf(o, "%s{outcome=\"error\",code=\"%s\"} %llu\n", name, code_names[i],
			   (unsigned long long)v[i]);
	out_printf(o, "%s{outcome=\"error\",code=\"other\"} %llu\n", name,
		   (unsigned long long)v[N_OUTCOMES - 1]);
}

static void render_histogram(struct out *o, const char *name, const char *help,
			     const struct histogram *h)
{
	uint64_t cum = 0;

	out_printf(o, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
	for (size_t i = 0; i < N_BUCKETS; i++) {
		cum += h->buckets[i];
		out_printf(o, "%s_bucket{le=\"%g\"} %llu\n", name, bucket_le[i],
			   (unsigned long long)cum);
	}
	out_printf(o, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)h->count);
	out_printf(o, "%s_sum %.6f\n%s_count %llu\n", name, h->sum, name,
		   (unsigned long long)h->count);
}

int mas_metrics_render(struct mas_metrics *m, char **ret)
{
	struct out o = { .cap = 8192 };
	size_t conns = m->conns ? m->conns(m->conns_userdata) : 0;

	o.buf = malloc(o.cap);
	if (!o.buf)
		return -ENOMEM;
	pthread_mutex_lock(&m->lock);
	render_outcomes(&o, "m2masd_establishments_total",
			"Finished establishments by outcome and MAS error code.", m->est);
	render_outcomes(&o, "m2masd_retrievals_total",
			"Finished key retrievals by outcome and MAS error code.", m->ret);
	render_outcomes(&o, "m2masd_pairwise_keys_total",
			"Finished pairwise key requests by outcome and MAS error code.", m->pw);
	render_histogram(&o, "m2masd_establishment_seconds",
			 "Establishment latency: connection accepted to final reply.", &m->est_lat);
	render_histogram(&o, "m2masd_retrieval_seconds",
			 "Key retrieval latency: connection accepted to final reply.", &m->ret_lat);
	render_histogram(&o, "m2masd_pairwise_key_seconds",
			 "Pairwise key request latency: connection accepted to final reply.",
			 &m->pw_lat);
	render_histogram(&o, "m2masd_store_seconds", "Latency of one node store operation.",
			 &m->store_lat);
	out_printf(&o, "# HELP m2masd_store_errors_total Node store operations that failed.\n"
		       "# TYPE m2masd_store_errors_total counter\nm2masd_store_errors_total %llu\n",
		   (unsigned long long)m->store_errors);
	out_printf(&o, "# HELP m2masd_open_connections Connections open now.\n"
		       "# TYPE m2masd_open_connections gauge\nm2masd_open_connections %zu\n",
		   conns);
	out_printf(&o, "# HELP m2masd_rate_limited_total Exchanges refused as rate limited.\n"
		       "# TYPE m2masd_rate_limited_total counter\nm2masd_rate_limited_total %llu\n",
		   (unsigned long long)m->rate_limited);
	pthread_mutex_unlock(&m->lock);
	if (o.err) {
		free(o.buf);
		return o.err;
	}
	*ret = o.buf;
	return (int)o.len;
}
