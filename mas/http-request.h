/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What an HTTP/1.x request head asks of the metrics responder (mas/metrics-http.c):
 * a pure function over the bytes received so far, fuzzed by tests/fuzz/fuzz-http-request.c.
 */
#pragma once

#include <stddef.h>

enum http_route {
	HTTP_ROUTE_INCOMPLETE, /* no empty line yet: read more (if room is left) */
	HTTP_ROUTE_METRICS,    /* GET /metrics */
	HTTP_ROUTE_METRICS_HEAD,
	HTTP_ROUTE_NOT_FOUND,   /* another path: 404 */
	HTTP_ROUTE_BAD_METHOD,  /* not GET/HEAD: 405 */
	HTTP_ROUTE_BAD_REQUEST, /* no request line, or not HTTP/1.x: 400 */
	_HTTP_ROUTE_MAX,
};

/* req: the bytes so far (need not be NUL-terminated; NULs make it a bad request). */
enum http_route http_request_route(const char *req, size_t len);
