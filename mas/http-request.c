/* SPDX-License-Identifier: Apache-2.0 */
/* Classifying an HTTP/1.x request head for the metrics responder (mas/http-request.h). */
#include <stdbool.h>
#include <string.h>

#include "mas/http-request.h"

/* The end of the head: "\r\n\r\n" or "\n\n" within len bytes. */
static bool head_complete(const char *req, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (req[i] == '\n' && req[i + 1] == '\n')
			return true;
		if (i + 3 < len && memcmp(req + i, "\r\n\r\n", 4) == 0)
			return true;
	}
	return false;
}

/* The next space-separated token of the request line at *p (< end): its length, 0 if none. */
static size_t token(const char **p, const char *end, const char **ret)
{
	const char *s = *p, *t;

	if (s >= end || *s == ' ')
		return 0;
	t = s;
	while (t < end && *t != ' ' && *t != '\r' && *t != '\n')
		t++;
	*ret = s;
	*p = t < end && *t == ' ' ? t + 1 : t;
	return (size_t)(t - s);
}

static bool tok_is(const char *tok, size_t n, const char *word)
{
	return n == strlen(word) && memcmp(tok, word, n) == 0;
}

enum http_route http_request_route(const char *req, size_t len)
{
	const char *end, *p = req, *method, *target, *version;
	size_t nm, nt, nv;

	if (memchr(req, '\0', len))
		return HTTP_ROUTE_BAD_REQUEST;
	if (!head_complete(req, len))
		return HTTP_ROUTE_INCOMPLETE;
	end = memchr(req, '\n', len); /* the request line, without its line end */
	if (end > req && end[-1] == '\r')
		end--;
	nm = token(&p, end, &method);
	nt = nm ? token(&p, end, &target) : 0;
	nv = nt ? token(&p, end, &version) : 0;
	if (!nv || p != end || nv != 8 || memcmp(version, "HTTP/1.", 7) != 0)
		return HTTP_ROUTE_BAD_REQUEST;
	if (!tok_is(method, nm, "GET") && !tok_is(method, nm, "HEAD"))
		return HTTP_ROUTE_BAD_METHOD;
	if (!tok_is(target, nt, "/metrics"))
		return HTTP_ROUTE_NOT_FOUND;
	return tok_is(method, nm, "HEAD") ? HTTP_ROUTE_METRICS_HEAD : HTTP_ROUTE_METRICS;
}
