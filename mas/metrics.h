/* SPDX-License-Identifier: Apache-2.0 */
/*
 * m2masd's metrics for operators, in the Prometheus text exposition format
 * (version 0.0.4), served by mas/metrics-http.c on [metrics] listen. Every
 * metric is documented in docs/metrics.md. Counters only grow; the histograms
 * are cumulative (le buckets, _sum, _count). Nothing here holds key bytes.
 *
 *   m2masd_establishments_total{outcome, code}  finished establishments
 *   m2masd_retrievals_total{outcome, code}      finished key retrievals
 *   m2masd_pairwise_keys_total{outcome, code}   finished pairwise key requests
 *   m2masd_establishment_seconds                connection accepted -> final reply
 *   m2masd_retrieval_seconds                    connection accepted -> final reply
 *   m2masd_pairwise_key_seconds                 connection accepted -> final reply
 *   m2masd_store_seconds                        one store operation (mas/store.h)
 *   m2masd_store_errors_total                   store operations that failed
 *   m2masd_open_connections                     connections open now
 *   m2masd_rate_limited_total                   replies RATE_LIMITED
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/wire.h"

struct mas_metrics;

int mas_metrics_new(struct mas_metrics **ret);
void mas_metrics_free(struct mas_metrics *m);

/* What a finished exchange was, by the request its final reply answers. */
enum mas_metrics_kind {
	MAS_METRICS_ESTABLISHMENT, /* HELLO or PROOF: also every refusal at HELLO */
	MAS_METRICS_RETRIEVAL,	   /* KEY_REQUEST from an IN-CSE */
	MAS_METRICS_PAIRWISE,	   /* PEER_REGISTER or PEER_RESOLVE (after the node's HELLO) */
};

/*
 * One exchange of kind finished with reply (ESTABLISHED / KEY_RESPONSE / PEER_KEY:
 * ok; ERROR: its code) after elapsed_ms since its connection was accepted. A reply
 * that is not final (CHALLENGE) is not counted. m may be NULL.
 */
void mas_metrics_exchange(struct mas_metrics *m, enum mas_metrics_kind kind,
			  const struct wire_msg *reply, uint64_t elapsed_ms);
/* One store operation took ns nanoseconds; failed: it returned an error. m may be NULL. */
void mas_metrics_store(struct mas_metrics *m, uint64_t ns, bool failed);
/* Where the open-connections gauge comes from (read at each scrape). */
void mas_metrics_set_conns(struct mas_metrics *m, size_t (*fn)(void *userdata), void *userdata);

/* The exposition text into a new buffer (free()); returns its length or -errno. */
int mas_metrics_render(struct mas_metrics *m, char **ret);
