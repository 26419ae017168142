/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A tiny HTTP/1.1 responder for Prometheus on m2masd's event loop: GET /metrics
 * answers the exposition text (mas/metrics.h), anything else 404/405/400; one
 * request per connection, then close. Hostile clients cannot stall the loop:
 * every socket is non-blocking, a request may be at most METRICS_HTTP_REQ_MAX
 * bytes, a client has METRICS_HTTP_TIMEOUT_MS for the whole exchange, and at
 * most METRICS_HTTP_CLIENTS are served at once (more wait in the backlog).
 * Meant for a local or management address; it has no authentication.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "common/loop.h"
#include "mas/metrics.h"

#define METRICS_HTTP_REQ_MAX 2048
#define METRICS_HTTP_TIMEOUT_MS 5000
#define METRICS_HTTP_CLIENTS 8

struct metrics_http;

/* Listen on addr ("host:port", port 0: any) on loop l; err gets a message. */
int metrics_http_new(struct loop *l, const char *addr, struct mas_metrics *m,
		     struct metrics_http **ret, char *err, size_t err_len);
void metrics_http_free(struct metrics_http *h);
uint16_t metrics_http_port(const struct metrics_http *h);
