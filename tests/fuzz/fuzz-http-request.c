/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for the metrics responder's request classification
 * (mas/http-request.c http_request_route): m2masd reads these bytes from any
 * client of [metrics] listen. A request routed to /metrics must start with
 * "GET /metrics HTTP/1." or "HEAD /metrics HTTP/1.".
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mas/http-request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *req = (const char *)data;
	enum http_route r = http_request_route(req, size);

	if ((unsigned)r >= _HTTP_ROUTE_MAX)
		abort();
	if (r == HTTP_ROUTE_METRICS && (size < 21 || memcmp(req, "GET /metrics HTTP/1.", 20) != 0))
		abort();
	if (r == HTTP_ROUTE_METRICS_HEAD &&
	    (size < 22 || memcmp(req, "HEAD /metrics HTTP/1.", 21) != 0))
		abort();
	return 0;
}
