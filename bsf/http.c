/* SPDX-License-Identifier: Apache-2.0 */
/* HTTP helpers of m2msa-bsf on libmicrohttpd: replies, peer addresses, clocks (see bsf.h). */
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "bsf/bsf.h"
#include "common/secret.h"

uint64_t bsf_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int64_t bsf_now(void)
{
	return (int64_t)time(NULL);
}

void bsf_peer_address(struct MHD_Connection *c, char out[static BSF_ADDR_MAX])
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;
	socklen_t len;

	strcpy(out, "?");
	if (!sa)
		return;
	len = sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	if (getnameinfo(sa, len, out, BSF_ADDR_MAX, NULL, 0, NI_NUMERICHOST) != 0)
		strcpy(out, "?");
}

static void free_body(void *p)
{
	if (p)
		secret_free_buf(p, strlen(p));
}

enum MHD_Result bsf_reply(struct MHD_Connection *c, unsigned status, const char *content_type,
			  char *body, const char *hdr, const char *value)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (body)
		resp = MHD_create_response_from_buffer_with_free_callback(strlen(body), body,
									   free_body);
	else
		resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		free_body(body);
		return MHD_NO;
	}
	if ((content_type && MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
						     content_type) != MHD_YES) ||
	    (hdr && MHD_add_response_header(resp, hdr, value) != MHD_YES) ||
	    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") != MHD_YES) {
		MHD_destroy_response(resp);
		return MHD_NO;
	}
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

enum MHD_Result bsf_reply_text(struct MHD_Connection *c, unsigned status, const char *fmt, ...)
{
	char *body = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&body, fmt, ap);
	va_end(ap);
	if (n < 0)
		return MHD_NO;
	return bsf_reply(c, status, "text/plain; charset=utf-8", body, NULL, NULL);
}
