/* SPDX-License-Identifier: Apache-2.0 */
/* The ESP agreement over a TLS 1.3 PSK session: node and target ends. */
#include <wolfssl/options.h>

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <wolfssl/ssl.h>

#include "common/esp-session.h"
#include "common/sa.h"
#include "common/secret.h"
#include "common/tls.h"
#include "common/util.h"

struct node_psk {
	const char *key_id;
	const uint8_t *kc;
};

struct target_psk {
	const struct esp_target_conf *conf;
	char key_id[ESP_WIRE_REASON_MAX + 1];
	char failure[ESP_SESSION_ERR_MAX / 2];
	uint64_t expiry;
	bool given;
};

void esp_pair_wipe(struct esp_pair *p)
{
	secret_wipe(p->key_in, sizeof(p->key_in));
	secret_wipe(p->key_out, sizeof(p->key_out));
}

int esp_lifetimes(uint64_t expiry, uint64_t now, uint64_t *ret_soft, uint64_t *ret_hard)
{
	uint64_t hard, soft;

	if (expiry <= now)
		return -ESTALE;
	hard = expiry - now;
	soft = hard - hard / 5;
	if (hard >= 2 && soft >= hard)
		soft = hard - 1;
	if (soft == 0)
		soft = 1;
	*ret_soft = soft;
	*ret_hard = hard;
	return 0;
}

static unsigned int node_psk_cb(WOLFSSL *ssl, const char *hint, char *identity,
				unsigned int id_max_len, unsigned char *key, unsigned int key_max_len,
				const char **ciphersuite)
{
	const struct node_psk *p = wolfSSL_get_psk_callback_ctx(ssl);
	size_t n;

	(void)hint;
	if (!p)
		return 0;
	n = strlen(p->key_id);
	if (n >= id_max_len || key_max_len < ESP_KC_LEN)
		return 0;
	memcpy(identity, p->key_id, n + 1);
	memcpy(key, p->kc, ESP_KC_LEN);
	*ciphersuite = SA_SUITE_PSK;
	return ESP_KC_LEN;
}

static unsigned int target_psk_cb(WOLFSSL *ssl, const char *identity, unsigned char *key,
				  unsigned int key_max_len, const char **ciphersuite)
{
	struct target_psk *t = wolfSSL_get_psk_callback_ctx(ssl);
	uint8_t kc[ESP_KC_LEN], kcid[SA_KCID_LEN];
	char ae_id[WIRE_ID_MAX + 1], fqdn[WIRE_KEY_ID_MAX + 1];
	uint64_t expiry = 0;
	int r;

	if (!t || !identity || key_max_len < ESP_KC_LEN)
		return 0;
	if (strlen(identity) > WIRE_KEY_ID_MAX ||
	    sa_key_id_parse(identity, kcid, ae_id, fqdn) < 0 || ae_id[0]) {
		snprintf(t->failure, sizeof(t->failure),
			 "PSK identity is not a node key ID (hex(KcID)@FQDN)");
		return 0;
	}
	snprintf(t->key_id, sizeof(t->key_id), "%s", identity);
	r = t->conf->lookup(t->conf->userdata, identity, kc, &expiry, t->failure,
			    sizeof(t->failure));
	if (r < 0) {
		secret_wipe(kc, sizeof(kc));
		return 0;
	}
	if (expiry <= (uint64_t)time(NULL)) {
		snprintf(t->failure, sizeof(t->failure), "key ID %s expired at %" PRIu64, identity,
			 expiry);
		secret_wipe(kc, sizeof(kc));
		return 0;
	}
	memcpy(key, kc, ESP_KC_LEN);
	secret_wipe(kc, sizeof(kc));
	t->expiry = expiry;
	t->given = true;
	*ciphersuite = SA_SUITE_PSK;
	return ESP_KC_LEN;
}

static WOLFSSL_CTX *ctx_new(bool server)
{
	int groups[] = { WOLFSSL_ECC_SECP256R1, WOLFSSL_ECC_X25519, WOLFSSL_ECC_SECP384R1 };
	WOLFSSL_CTX *ctx;

	if (tls_init() < 0)
		return NULL;
	ctx = wolfSSL_CTX_new(server ? wolfTLSv1_3_server_method() : wolfTLSv1_3_client_method());
	if (!ctx)
		return NULL;
	if (wolfSSL_CTX_set_groups(ctx, groups, (int)ARRAY_SIZE(groups)) != WOLFSSL_SUCCESS ||
	    wolfSSL_CTX_set_cipher_list(ctx, SA_SUITE_PSK) != WOLFSSL_SUCCESS) {
		wolfSSL_CTX_free(ctx);
		return NULL;
	}
	wolfSSL_CTX_no_ticket_TLSv13(ctx);
	if (server) {
		wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_NONE, NULL);
		wolfSSL_CTX_set_psk_server_tls13_callback(ctx, target_psk_cb);
	} else {
		/* No CA loaded: a server that offers a certificate instead of the PSK fails. */
		wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_PEER, NULL);
		wolfSSL_CTX_set_psk_client_tls13_callback(ctx, node_psk_cb);
	}
	return ctx;
}

WOLFSSL_CTX *esp_session_client_ctx_new(void)
{
	return ctx_new(false);
}

WOLFSSL_CTX *esp_session_server_ctx_new(void)
{
	return ctx_new(true);
}

static int io_fail(WOLFSSL *ssl, int ret, const char *what, char *err, size_t err_len)
{
	char terr[TLS_ERR_MAX] = "";
	int r = tls_error(ssl, ret, terr, sizeof(terr));

	snprintf(err, err_len, "%s: %s", what, terr);
	return r < 0 ? r : -EIO;
}

static int send_msg(WOLFSSL *ssl, const struct esp_msg *m, char *err, size_t err_len)
{
	uint8_t buf[ESP_WIRE_PREFIX_LEN + ESP_WIRE_BODY_MAX];
	size_t n = 0;
	int r = esp_wire_encode(m, buf, sizeof(buf), &n);

	if (r < 0) {
		snprintf(err, err_len, "cannot encode %s: %s", esp_msg_type_to_string(m->type),
			 strerror(-r));
		return r;
	}
	r = wolfSSL_write(ssl, buf, (int)n);
	if (r != (int)n)
		return io_fail(ssl, r, "cannot send", err, err_len);
	return 0;
}

static int read_full(WOLFSSL *ssl, uint8_t *p, size_t len, char *err, size_t err_len)
{
	while (len > 0) {
		int n = wolfSSL_read(ssl, p, (int)len);

		if (n <= 0)
			return io_fail(ssl, n, "cannot receive", err, err_len);
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int recv_msg(WOLFSSL *ssl, struct esp_msg *m, char *err, size_t err_len)
{
	uint8_t prefix[ESP_WIRE_PREFIX_LEN], body[ESP_WIRE_BODY_MAX];
	size_t len = 0;
	int r;

	r = read_full(ssl, prefix, sizeof(prefix), err, err_len);
	if (r < 0)
		return r;
	r = esp_wire_prefix_len(prefix, &len);
	if (r < 0) {
		snprintf(err, err_len, "message length out of range (1..%d)", ESP_WIRE_BODY_MAX);
		return -EBADMSG;
	}
	r = read_full(ssl, body, len, err, err_len);
	if (r < 0)
		return r;
	r = esp_wire_decode(body, len, m);
	if (r == -EPROTONOSUPPORT)
		snprintf(err, err_len, "message of version %" PRIu32 ", this end speaks %d",
			 m->version, ESP_WIRE_VERSION);
	else if (r < 0)
		snprintf(err, err_len, "malformed message (docs/protocol.md, ESP agreement)");
	return r;
}

/* Keys from the exporter: node->target, target->node; placed as in/out for this end. */
static int export_keys(WOLFSSL *ssl, struct esp_pair *p, char *err, size_t err_len)
{
	uint8_t keymat[ESP_WIRE_KEYMAT_LEN];
	int r = tls_exporter(ssl, ESP_WIRE_EXPORTER_LABEL, keymat, sizeof(keymat));

	if (r < 0) {
		snprintf(err, err_len, "TLS exporter failed");
		return r;
	}
	if (p->node_side)
		esp_wire_split_keys(keymat, p->key_out, p->key_in);
	else
		esp_wire_split_keys(keymat, p->key_in, p->key_out);
	secret_wipe(keymat, sizeof(keymat));
	return 0;
}

static bool ecdhe_used(WOLFSSL *ssl)
{
	return wolfSSL_get_curve_name(ssl) != NULL;
}

/* The node's handshake, or -EACCES with the reason in err. */
static int node_handshake(WOLFSSL *ssl, const struct esp_node_request *req, char *err,
			  size_t err_len)
{
	char terr[TLS_ERR_MAX] = "";
	int r = wolfSSL_connect(ssl);

	if (r != WOLFSSL_SUCCESS) {
		(void)tls_error(ssl, r, terr, sizeof(terr));
		snprintf(err, err_len,
			 "TLS 1.3 PSK handshake with m2msa-espd at %s failed: %s (it did not "
			 "accept key ID %s with this Kc: wrong or expired Kc, or a key ID the "
			 "MAS does not give it; see m2msa-espd's log)",
			 req->peer, terr, req->key_id);
		return -EACCES;
	}
	if (!ecdhe_used(ssl)) {
		snprintf(err, err_len, "m2msa-espd at %s completed the handshake without ECDHE "
			 "(psk_ke); refusing", req->peer);
		return -EPROTO;
	}
	return 0;
}

/* The target's answer to our offer: its SPI, or -EPROTO with its reason. */
static int node_agree(WOLFSSL *ssl, const struct esp_node_request *req, uint32_t spi_in,
		      uint32_t *ret_spi_out, char *err, size_t err_len)
{
	struct esp_msg m = { .type = ESP_MSG_OFFER, .spi = spi_in, .sel = req->sel };
	char why[ESP_SESSION_ERR_MAX / 2] = "";
	int r;

	r = send_msg(ssl, &m, err, err_len);
	if (r < 0)
		return r;
	r = recv_msg(ssl, &m, why, sizeof(why));
	if (r < 0) {
		snprintf(err, err_len, "no ESP_ACCEPT from m2msa-espd at %s: %s", req->peer, why);
		return r == -EBADMSG || r == -EPROTONOSUPPORT ? -EPROTO : r;
	}
	if (m.type == ESP_MSG_ERROR) {
		snprintf(err, err_len, "m2msa-espd at %s refused the ESP offer: %s: %s", req->peer,
			 esp_error_code_to_string(m.code) ? esp_error_code_to_string(m.code) : "?",
			 m.reason);
		return -EPROTO;
	}
	if (m.type != ESP_MSG_ACCEPT || !esp_selectors_equal(&m.sel, &req->sel)) {
		snprintf(err, err_len, "m2msa-espd at %s answered with %s and selectors that are "
			 "not the offered ones", req->peer,
			 esp_msg_type_to_string(m.type) ? esp_msg_type_to_string(m.type) : "?");
		return -EPROTO;
	}
	*ret_spi_out = m.spi;
	return 0;
}

int esp_session_node(WOLFSSL_CTX *ctx, int fd, const struct esp_node_request *req,
		     const struct esp_kernel_ops *ops, void *ops_userdata, struct esp_pair *ret,
		     char *err, size_t err_len)
{
	struct node_psk psk = { .key_id = req->key_id, .kc = req->kc };
	struct esp_pair p = { .node_side = true, .sel = req->sel, .reqid = req->reqid,
			      .expiry = req->expiry };
	WOLFSSL *ssl = NULL;
	int r;

	if (!esp_selectors_valid(&req->sel)) {
		snprintf(err, err_len, "invalid ESP selectors (mode, or ports without TCP/UDP/SCTP)");
		return -EINVAL;
	}
	r = esp_lifetimes(req->expiry, (uint64_t)time(NULL), &p.soft_s, &p.hard_s);
	if (r < 0) {
		snprintf(err, err_len, "Kc of key ID %s has expired", req->key_id);
		return r;
	}
	snprintf(p.local, sizeof(p.local), "%s", req->local);
	snprintf(p.peer, sizeof(p.peer), "%s", req->peer);
	ssl = wolfSSL_new(ctx);
	if (!ssl || wolfSSL_set_fd(ssl, fd) != WOLFSSL_SUCCESS ||
	    wolfSSL_set_psk_callback_ctx(ssl, &psk) != WOLFSSL_SUCCESS) {
		snprintf(err, err_len, "cannot set up a TLS session: out of memory");
		r = -ENOMEM;
		goto out;
	}
	r = node_handshake(ssl, req, err, err_len);
	if (r < 0)
		goto out;
	r = ops->alloc_spi(ops_userdata, req->peer, req->local, req->reqid, &p.spi_in);
	if (r < 0) {
		snprintf(err, err_len, "cannot allocate an inbound ESP SPI from %s: %s", req->peer,
			 strerror(-r));
		goto out;
	}
	r = node_agree(ssl, req, p.spi_in, &p.spi_out, err, err_len);
	if (r == 0)
		r = export_keys(ssl, &p, err, err_len);
	if (r < 0)
		goto out;
	r = ops->install(ops_userdata, &p);
	if (r < 0) {
		snprintf(err, err_len, "cannot install the ESP SAs with %s: %s", req->peer,
			 strerror(-r));
		goto out;
	}
	*ret = p;
	esp_pair_wipe(ret); /* installed: the kernel holds the keys now */
out:
	esp_pair_wipe(&p);
	if (ssl) {
		(void)wolfSSL_shutdown(ssl);
		wolfSSL_free(ssl);
	}
	return r;
}

/* Tell the node why, best effort; returns r. */
static int refuse(WOLFSSL *ssl, uint32_t code, int r, const char *reason)
{
	struct esp_msg m = { .type = ESP_MSG_ERROR, .code = code };
	char ignored[64];

	snprintf(m.reason, sizeof(m.reason), "%s", reason);
	(void)send_msg(ssl, &m, ignored, sizeof(ignored));
	return r;
}

static int target_handshake(WOLFSSL *ssl, struct target_psk *t, char *err, size_t err_len)
{
	char terr[TLS_ERR_MAX] = "";
	int r = wolfSSL_accept(ssl);

	if (r != WOLFSSL_SUCCESS) {
		(void)tls_error(ssl, r, terr, sizeof(terr));
		if (t->failure[0])
			snprintf(err, err_len, "PSK handshake with %s failed: %s", t->conf->peer,
				 t->failure);
		else if (t->given)
			snprintf(err, err_len, "PSK handshake with %s, key ID %s, failed: %s (the "
				 "node holds another Kc for this key ID?)", t->conf->peer,
				 t->key_id, terr);
		else
			snprintf(err, err_len, "PSK handshake with %s failed: %s", t->conf->peer,
				 terr);
		return -EACCES;
	}
	if (!t->given || !ecdhe_used(ssl)) {
		snprintf(err, err_len, "node %s completed a handshake without %s; refusing",
			 t->conf->peer, t->given ? "ECDHE (psk_ke only)" : "a PSK");
		return -EPROTO;
	}
	return 0;
}

static int target_agree(WOLFSSL *ssl, const struct esp_target_conf *conf, struct target_psk *t,
			const struct esp_kernel_ops *ops, void *ops_userdata, struct esp_pair *p,
			char *err, size_t err_len)
{
	struct esp_msg m;
	char why[ESP_SESSION_ERR_MAX / 2] = "";
	int r;

	r = recv_msg(ssl, &m, why, sizeof(why));
	if (r < 0) {
		snprintf(err, err_len, "no ESP_OFFER from %s (key ID %s): %s", conf->peer, t->key_id,
			 why);
		return refuse(ssl, r == -EPROTONOSUPPORT ? ESP_ERR_VERSION : ESP_ERR_MALFORMED,
			      -EPROTO, why);
	}
	if (m.type != ESP_MSG_OFFER) {
		snprintf(err, err_len, "%s sent %s where ESP_OFFER belongs", conf->peer,
			 esp_msg_type_to_string(m.type));
		return refuse(ssl, ESP_ERR_MALFORMED, -EPROTO, "expected ESP_OFFER");
	}
	if (conf->allowed && !conf->allowed(conf->userdata, t->key_id, &m.sel)) {
		snprintf(err, err_len, "key ID %s asked for %s ESP, protocol %u, ports %u/%u: not "
			 "allowed here", t->key_id, esp_mode_to_string(m.sel.mode), m.sel.proto,
			 m.sel.node_port, m.sel.target_port);
		return refuse(ssl, ESP_ERR_SELECTORS, -EPERM, "selectors not allowed for this node");
	}
	p->sel = m.sel;
	p->spi_out = m.spi;
	r = esp_lifetimes(t->expiry, (uint64_t)time(NULL), &p->soft_s, &p->hard_s);
	if (r == 0)
		r = ops->alloc_spi(ops_userdata, conf->peer, conf->local, conf->reqid, &p->spi_in);
	if (r == 0)
		r = export_keys(ssl, p, err, err_len);
	if (r == 0)
		r = ops->install(ops_userdata, p);
	if (r < 0) {
		snprintf(err, err_len, "cannot set up ESP with %s (key ID %s): %s", conf->peer,
			 t->key_id, strerror(-r));
		return refuse(ssl, ESP_ERR_KERNEL, r, "the target could not install the SAs");
	}
	m = (struct esp_msg){ .type = ESP_MSG_ACCEPT, .spi = p->spi_in, .sel = p->sel };
	return send_msg(ssl, &m, err, err_len);
}

int esp_session_target(WOLFSSL_CTX *ctx, int fd, const struct esp_target_conf *conf,
		       const struct esp_kernel_ops *ops, void *ops_userdata, struct esp_pair *ret,
		       char *key_id, char *err, size_t err_len)
{
	struct target_psk t = { .conf = conf };
	struct esp_pair p = { .node_side = false, .reqid = conf->reqid };
	WOLFSSL *ssl = NULL;
	int r;

	snprintf(p.local, sizeof(p.local), "%s", conf->local);
	snprintf(p.peer, sizeof(p.peer), "%s", conf->peer);
	ssl = wolfSSL_new(ctx);
	if (!ssl || wolfSSL_set_fd(ssl, fd) != WOLFSSL_SUCCESS ||
	    wolfSSL_set_psk_callback_ctx(ssl, &t) != WOLFSSL_SUCCESS) {
		snprintf(err, err_len, "cannot set up a TLS session: out of memory");
		r = -ENOMEM;
		goto out;
	}
	r = target_handshake(ssl, &t, err, err_len);
	if (r == 0) {
		p.expiry = t.expiry;
		r = target_agree(ssl, conf, &t, ops, ops_userdata, &p, err, err_len);
	}
	if (r == 0) {
		*ret = p;
		esp_pair_wipe(ret); /* installed: the kernel holds the keys now */
	}
out:
	if (key_id)
		snprintf(key_id, ESP_WIRE_REASON_MAX + 1, "%s", t.key_id);
	esp_pair_wipe(&p);
	if (ssl) {
		(void)wolfSSL_shutdown(ssl);
		wolfSSL_free(ssl);
	}
	return r;
}

/* Numeric address of a socket end; IPv4-mapped IPv6 addresses as plain IPv4. */
int esp_sock_addr(int fd, bool peer, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	const void *a;
	int family;

	if ((peer ? getpeername(fd, (struct sockaddr *)&ss, &sl)
		  : getsockname(fd, (struct sockaddr *)&ss, &sl)) < 0)
		return -errno;
	if (ss.ss_family == AF_INET) {
		family = AF_INET;
		a = &((struct sockaddr_in *)&ss)->sin_addr;
	} else if (ss.ss_family == AF_INET6) {
		const struct in6_addr *a6 = &((struct sockaddr_in6 *)&ss)->sin6_addr;

		family = IN6_IS_ADDR_V4MAPPED(a6) ? AF_INET : AF_INET6;
		a = family == AF_INET ? (const void *)&a6->s6_addr[12] : (const void *)a6;
	} else {
		return -EAFNOSUPPORT;
	}
	return inet_ntop(family, a, buf, (socklen_t)len) ? 0 : -errno;
}

