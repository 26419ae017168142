/* SPDX-License-Identifier: Apache-2.0 */
/* The key retrieval client library: KEY_REQUEST / KEY_RESPONSE with the MAS over mutual TLS 1.3. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/frame.h"
#include "common/sa.h"
#include "common/secret.h"
#include "common/tls.h"
#include "mas/retrieve-client.h"

struct retrieve_client {
	WOLFSSL_CTX *ctx;
	char host[256];
	uint16_t port;
	char *mas_name;
	int timeout_ms;
};

bool retrieve_conf_option(struct retrieve_conf *conf, int opt, const char *arg)
{
	switch (opt) {
	case 'm': conf->mas = arg; return true;
	case 'A': conf->mas_ca = arg; return true;
	case 'N': conf->mas_name = arg; return true;
	case 'c': conf->cert = arg; return true;
	case 'k': conf->key = arg; return true;
	default: return false;
	}
}

bool retrieve_conf_complete(const struct retrieve_conf *conf)
{
	return conf->mas && conf->mas_ca && conf->mas_name && conf->cert && conf->key;
}

int retrieve_client_new(const struct retrieve_conf *conf, struct retrieve_client **ret,
			char *err, size_t err_len)
{
	struct retrieve_client *c;
	int r;

	if (!retrieve_conf_complete(conf)) {
		snprintf(err, err_len,
			 "key retrieval needs the MAS address, its CA, its name, and our "
			 "certificate and key");
		return -EINVAL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	r = tcp_parse_hostport(conf->mas, c->host, sizeof(c->host), &c->port);
	if (r < 0 || c->port == 0) {
		snprintf(err, err_len, "invalid MAS address '%s' (expected HOST:PORT)", conf->mas);
		r = -EINVAL;
		goto fail;
	}
	c->mas_name = strdup(conf->mas_name);
	if (!c->mas_name) {
		snprintf(err, err_len, "out of memory");
		r = -ENOMEM;
		goto fail;
	}
	c->timeout_ms = conf->timeout_ms > 0 ? conf->timeout_ms : RETRIEVE_TIMEOUT_MS_DEFAULT;
	c->ctx = tls_client_ctx_new(conf->mas_ca, conf->cert, conf->key, err, err_len);
	if (!c->ctx) {
		r = -EINVAL;
		goto fail;
	}
	*ret = c;
	return 0;
fail:
	retrieve_client_free(c);
	return r;
}

void retrieve_client_free(struct retrieve_client *c)
{
	if (!c)
		return;
	if (c->ctx)
		wolfSSL_CTX_free(c->ctx);
	free(c->mas_name);
	free(c);
}

/* The ID must have the key ID structure before it goes anywhere. */
static int check_key_id(const char *key_id)
{
	uint8_t kcid[SA_KCID_LEN];
	char ae_id[WIRE_ID_MAX + 1], fqdn[WIRE_KEY_ID_MAX + 1];

	if (!key_id || strlen(key_id) > WIRE_KEY_ID_MAX)
		return -EINVAL;
	return sa_key_id_parse(key_id, kcid, ae_id, fqdn) < 0 ? -EINVAL : 0;
}

int retrieve_key(struct retrieve_client *c, const char *key_id, struct wire_key_response *ret,
		 struct retrieve_refusal *refusal, char *err, size_t err_len)
{
	struct wire_msg req = { .type = WIRE_MSG_KEY_REQUEST };
	struct wire_msg resp = { 0 };
	char terr[TLS_ERR_MAX] = "";
	WOLFSSL *ssl = NULL;
	int fd = -1, r;

	if (check_key_id(key_id) < 0) {
		snprintf(err, err_len, "not a key ID (hex(KcID)[-AE-ID]@FQDN, at most %d octets)",
			 WIRE_KEY_ID_MAX);
		return -EINVAL;
	}
	snprintf(req.key_request.key_id, sizeof(req.key_request.key_id), "%s", key_id);

	fd = tcp_connect(c->host, c->port, c->timeout_ms);
	if (fd < 0) {
		r = fd;
		snprintf(err, err_len, "cannot connect to the MAS at %s:%u: %s", c->host, c->port,
			 strerror(-r));
		goto out;
	}
	r = frame_set_timeouts(fd, c->timeout_ms);
	if (r < 0) {
		snprintf(err, err_len, "cannot set socket timeouts: %s", strerror(-r));
		goto out;
	}
	ssl = tls_client_new(c->ctx, fd, c->mas_name, terr, sizeof(terr));
	if (!ssl) {
		r = -ENOMEM;
		snprintf(err, err_len, "%s", terr);
		goto out;
	}
	r = wolfSSL_connect(ssl);
	if (r != WOLFSSL_SUCCESS) {
		r = tls_error(ssl, r, terr, sizeof(terr));
		snprintf(err, err_len, "TLS handshake with the MAS (%s) failed: %s", c->mas_name,
			 terr);
		goto out;
	}
	r = frame_send(ssl, &req, terr, sizeof(terr));
	if (r < 0) {
		snprintf(err, err_len, "cannot send the key request to the MAS: %s", terr);
		goto out;
	}
	r = frame_recv(ssl, &resp, terr, sizeof(terr));
	if (r < 0) {
		snprintf(err, err_len, "no valid answer from the MAS: %s", terr);
		goto out;
	}
	switch (resp.type) {
	case WIRE_MSG_KEY_RESPONSE:
		*ret = resp.key_response;
		r = 0;
		break;
	case WIRE_MSG_ERROR:
		if (refusal) {
			refusal->code = resp.error.code;
			snprintf(refusal->reason, sizeof(refusal->reason), "%s", resp.error.reason);
		}
		snprintf(err, err_len, "%s: %s", wire_error_code_to_string(resp.error.code),
			 resp.error.reason);
		r = -EACCES;
		break;
	default:
		snprintf(err, err_len, "the MAS answered a key request with a %s message",
			 wire_msg_type_to_string(resp.type));
		r = -EPROTO;
		break;
	}
out:
	wire_msg_wipe(&resp);
	if (ssl) {
		(void)wolfSSL_shutdown(ssl);
		wolfSSL_free(ssl);
	}
	if (fd >= 0)
		close(fd);
	return r;
}
