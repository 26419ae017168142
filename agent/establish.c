/* SPDX-License-Identifier: Apache-2.0 */
/* Node side of the establishment exchange with the MAS, as a non-blocking state machine. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/establish.h"
#include "common/secret.h"

enum op_state {
	OP_CONNECTING,
	OP_HANDSHAKE,
	OP_SEND_HELLO,
	OP_WAIT_CHALLENGE,
	OP_SEND_PROOF,
	OP_WAIT_ESTABLISHED,
	_OP_STATE_MAX,
};

struct establish_op {
	enum op_state state;
	short events;
	int fd;
	WOLFSSL_CTX *ctx;
	WOLFSSL *ssl;
	const struct kdf_prf *km;
	const struct kdf_prf *gba_km;
	char btid[WIRE_BTID_MAX + 1];
	uint64_t gba_expiry;
	char mas_address[256];
	char server_name[256];
	char node_id[WIRE_ID_MAX + 1];
	uint8_t methods[WIRE_METHODS_MAX];
	size_t n_methods;
	uint8_t method;
	struct key32 nn, nm;
	struct key32 pki_kc; /* method pki: Kc = X[16..47], also the confirmation key */
	struct sa_binding binding;
	bool peer;		      /* an end-to-end request instead of an establishment */
	struct wire_msg peer_request; /* PEER_REGISTER or PEER_RESOLVE (no key bytes) */
	/* The frame being written (wolfSSL wants the same buffer again after WANT_WRITE). */
	uint8_t out[WIRE_PREFIX_LEN + WIRE_FRAME_MAX];
	size_t out_len;
	/* The frame being read: prefix, then body. */
	uint8_t in[WIRE_PREFIX_LEN + WIRE_FRAME_MAX];
	size_t in_len, in_need;
};

int establish_errno_from_wire(uint32_t code)
{
	switch (code) {
	case WIRE_ERR_UNKNOWN_NODE:
		return -ENOENT;
	case WIRE_ERR_REVOKED:
		return -EKEYREVOKED;
	case WIRE_ERR_AUTH_FAILED:
		return -EKEYREJECTED;
	case WIRE_ERR_NO_METHOD:
	case WIRE_ERR_VERSION:
		return -EPROTONOSUPPORT;
	case WIRE_ERR_RATE_LIMITED:
		return -EBUSY;
	case WIRE_ERR_MALFORMED:
		return -EBADMSG;
	case WIRE_ERR_UNKNOWN_KEY:
		return -ENOKEY;
	case WIRE_ERR_EXPIRED:
		return -EKEYEXPIRED;
	case WIRE_ERR_NOT_AUTHORISED:
		return -EACCES;
	default:
		return -EIO;
	}
}

bool establish_gba_refused(const struct m2msa_err *err)
{
	/* For an establishment "expired" is its B-TID's (a MAS before the decoys said
	 * so); not for end-to-end requests, where it is the pairwise key's. */
	if (err->wire_code == WIRE_ERR_EXPIRED)
		return true;
	return err->method == WIRE_METHOD_GBA && (err->wire_code == WIRE_ERR_AUTH_FAILED ||
						  err->wire_code == WIRE_ERR_RATE_LIMITED);
}

void establish_result_clear(struct establish_result *r)
{
	if (!r)
		return;
	secret_free(r->kc);
	secret_free(r->ae_root);
	secret_wipe(r, sizeof(*r));
}

/* Turn a wolfSSL result into -EAGAIN (with the events to wait for) or an error. */
static int tls_wait_or_fail(struct establish_op *op, int ret, const char *what,
			    struct m2msa_err *err)
{
	char why[TLS_ERR_MAX];
	int e = wolfSSL_get_error(op->ssl, ret);

	if (e == WOLFSSL_ERROR_WANT_READ) {
		op->events = POLLIN;
		return -EAGAIN;
	}
	if (e == WOLFSSL_ERROR_WANT_WRITE) {
		op->events = POLLOUT;
		return -EAGAIN;
	}
	/* In TLS 1.3 the MAS's verdict on our certificate arrives after our handshake ended. */
	if (tls_peer_refused_cert(op->ssl, why, sizeof(why)))
		return err_set(err, -EKEYREJECTED,
			    "the MAS at %s refused this node's certificate (%s)",
			    op->mas_address, why);
	return err_set(err, tls_error(op->ssl, ret, why, sizeof(why)), "%s with the MAS at %s failed: %s",
		    what, op->mas_address, why);
}

int establish_op_new(WOLFSSL_CTX *ctx, const struct establish_params *p, const struct kdf_prf *km,
		     struct establish_op **ret, struct m2msa_err *err)
{
	struct establish_op *op;
	char host[256];
	uint16_t port;
	int fd;

	memset(err, 0, sizeof(*err));
	for (size_t i = 0; i < p->n_methods && i < WIRE_METHODS_MAX; i++)
		if ((p->methods[i] == WIRE_METHOD_PSK && !km) ||
		    (p->methods[i] == WIRE_METHOD_GBA && (!p->gba_km || !wire_btid_valid(p->btid))))
			return err_set(err, -EINVAL, "method %s offered without its long-term key%s",
				       wire_method_to_string(p->methods[i]),
				       p->methods[i] == WIRE_METHOD_GBA ? " (Ks_NAF) and B-TID" : " Km");
	if (p->peer_request && p->peer_request->type != WIRE_MSG_PEER_REGISTER &&
	    p->peer_request->type != WIRE_MSG_PEER_RESOLVE)
		return err_set(err, -EINVAL, "an end-to-end request must be peer-register or "
					     "peer-resolve");
	if (!wire_id_valid(p->node_id) || p->n_methods == 0 || p->n_methods > WIRE_METHODS_MAX ||
	    strlen(p->server_name) >= sizeof(op->server_name) ||
	    strlen(p->mas_address) >= sizeof(op->mas_address))
		return err_set(err, -EINVAL, "invalid node ID, method list, server name or address");
	if (tcp_parse_hostport(p->mas_address, host, sizeof(host), &port) < 0)
		return err_set(err, -EINVAL, "MAS address '%s' is not host:port", p->mas_address);
	fd = tcp_connect_start(host, port);
	if (fd < 0)
		return err_set(err, fd, "cannot reach the MAS at %s: %s", p->mas_address, strerror(-fd));
	op = calloc(1, sizeof(*op));
	if (!op) {
		close(fd);
		return err_set(err, -ENOMEM, "out of memory");
	}
	op->state = OP_CONNECTING;
	op->events = POLLOUT;
	op->fd = fd;
	op->ctx = ctx;
	op->km = km;
	op->gba_km = p->gba_km;
	op->gba_expiry = p->gba_expiry;
	for (size_t i = 0; i < p->n_methods; i++)
		if (p->methods[i] == WIRE_METHOD_GBA)
			snprintf(op->btid, sizeof(op->btid), "%s", p->btid);
	snprintf(op->mas_address, sizeof(op->mas_address), "%s", p->mas_address);
	snprintf(op->server_name, sizeof(op->server_name), "%s", p->server_name);
	snprintf(op->node_id, sizeof(op->node_id), "%s", p->node_id);
	memcpy(op->methods, p->methods, p->n_methods);
	op->n_methods = p->n_methods;
	if (p->peer_request) {
		op->peer = true;
		op->peer_request = *p->peer_request;
	}
	*ret = op;
	return 0;
}

int establish_op_fd(const struct establish_op *op)
{
	return op->fd;
}

short establish_op_events(const struct establish_op *op)
{
	return op->events;
}

void establish_op_free(struct establish_op *op)
{
	if (!op)
		return;
	if (op->ssl)
		wolfSSL_free(op->ssl);
	if (op->fd >= 0)
		close(op->fd);
	secret_wipe(op, sizeof(*op));
	free(op);
}

static int queue_msg(struct establish_op *op, const struct wire_msg *m, enum op_state next,
		     struct m2msa_err *err)
{
	int r = wire_encode(m, op->out, sizeof(op->out), &op->out_len);

	if (r < 0)
		return err_set(err, r, "cannot encode %s message", wire_msg_type_to_string(m->type));
	op->state = next;
	op->events = POLLOUT;
	return 0;
}

/* Write the queued frame; 0 when all of it went out. */
static int flush_out(struct establish_op *op, struct m2msa_err *err)
{
	int n = wolfSSL_write(op->ssl, op->out, (int)op->out_len);

	if (n <= 0)
		return tls_wait_or_fail(op, n, "sending", err);
	secret_wipe(op->out, op->out_len);
	op->out_len = 0;
	op->in_len = 0;
	op->in_need = WIRE_PREFIX_LEN;
	op->events = POLLIN;
	return 0;
}

/* Read towards one whole frame; 0 with *ret decoded when it is complete. */
static int read_frame(struct establish_op *op, struct wire_msg *ret, struct m2msa_err *err)
{
	int n, len, r;

	while (op->in_len < op->in_need) {
		n = wolfSSL_read(op->ssl, op->in + op->in_len, (int)(op->in_need - op->in_len));
		if (n <= 0)
			return tls_wait_or_fail(op, n, "reading", err);
		op->in_len += (size_t)n;
		if (op->in_len == WIRE_PREFIX_LEN && op->in_need == WIRE_PREFIX_LEN) {
			len = wire_frame_length(op->in);
			if (len < 0)
				return err_set(err, -EBADMSG, "the MAS sent a frame of invalid length");
			op->in_need = WIRE_PREFIX_LEN + (size_t)len;
		}
	}
	r = wire_decode(op->in + WIRE_PREFIX_LEN, op->in_len - WIRE_PREFIX_LEN, ret);
	secret_wipe(op->in, op->in_len);
	if (r < 0)
		return err_set(err, r == -EPROTONOSUPPORT ? r : -EBADMSG,
			    "the MAS sent a malformed message");
	return 0;
}

/* Expect a message of type want; turn a MAS Error into -errno with its reason. */
static int check_type(const struct wire_msg *m, enum wire_msg_type want,
		      struct m2msa_err *err)
{
	if (m->type == WIRE_MSG_ERROR) {
		err->wire_code = m->error.code;
		return err_set(err, establish_errno_from_wire(m->error.code), "MAS refused: %s: %s",
			    wire_error_code_to_string(m->error.code), m->error.reason);
	}
	if (m->type != want)
		return err_set(err, -EBADMSG, "MAS sent %s where %s was expected",
			    wire_msg_type_to_string(m->type), wire_msg_type_to_string(want));
	return 0;
}

/* The PROOF, or the end-to-end request carrying the same proof. */
static int queue_proof(struct establish_op *op, struct wire_msg *proof, struct m2msa_err *err)
{
	int r;

	if (op->peer) {
		uint8_t *dst = op->peer_request.type == WIRE_MSG_PEER_REGISTER
				       ? op->peer_request.peer_register.proof
				       : op->peer_request.peer_resolve.proof;

		memcpy(dst, proof->proof.proof, WIRE_PROOF_LEN);
		r = queue_msg(op, &op->peer_request, OP_SEND_PROOF, err);
	} else {
		r = queue_msg(op, proof, OP_SEND_PROOF, err);
	}
	wire_msg_wipe(proof);
	return r;
}

static int on_challenge(struct establish_op *op, const struct wire_msg *m,
			struct m2msa_err *err)
{
	struct wire_msg proof = { .type = WIRE_MSG_PROOF };
	bool offered = false;
	int r;

	for (size_t i = 0; i < op->n_methods; i++)
		offered |= op->methods[i] == m->challenge.method;
	if (!offered)
		return err_set(err, -EBADMSG, "MAS chose method %s, which this node did not offer",
			    wire_method_to_string(m->challenge.method));
	op->method = m->challenge.method;
	/* Method gba is the psk exchange keyed with Km = Ks_NAF (TS-0003 §8.3.2.3). */
	if (op->method == WIRE_METHOD_GBA)
		op->km = op->gba_km;
	memcpy(op->nm.b, m->challenge.nonce, WIRE_NONCE_LEN);
	/* The proof is bound to this TLS channel through the exporters. */
	r = sa_binding_from_tls(op->ssl, &op->binding);
	if (r < 0)
		return err_set(err, r, "TLS exporter failed");
	if (op->method == WIRE_METHOD_PKI) {
		struct kdf_prf prf;
		struct kdf_sw_key sw = { op->pki_kc.b, sizeof(op->pki_kc.b) };

		/* TS-0003 10.3.1: Kc is X[16..47]; the confirmation is keyed with it. */
		sa_pki_kc(&op->binding, op->pki_kc.b);
		kdf_prf_software(&sw, &prf);
		r = sa_proof(&prf, SA_PROOF_NODE, &op->binding, op->nn.b, op->nm.b, op->node_id,
			     proof.proof.proof);
		if (r < 0)
			return err_set(err, r, "cannot compute the pki confirmation: %s", strerror(-r));
		return queue_proof(op, &proof, err);
	}
	r = sa_proof(op->km, SA_PROOF_NODE, &op->binding, op->nn.b, op->nm.b, op->node_id,
		     proof.proof.proof);
	if (r < 0) {
		const char *why = op->km->last_error ? op->km->last_error(op->km->ctx) : NULL;

		return err_set(err, r, "cannot compute the node proof with Km: %s",
			       why && why[0] ? why : strerror(-r));
	}
	return queue_proof(op, &proof, err);
}

/* The MAS proof of ESTABLISHED or PEER_KEY, checked in constant time. */
static int check_mas_proof(struct establish_op *op, const uint8_t *proof, struct m2msa_err *err)
{
	_cleanup_key32_ struct key32 mas_proof = { 0 };
	struct kdf_sw_key sw = { op->pki_kc.b, sizeof(op->pki_kc.b) };
	struct kdf_prf pki_prf;
	bool pki = op->method == WIRE_METHOD_PKI;
	int r;

	kdf_prf_software(&sw, &pki_prf);
	r = sa_proof(pki ? &pki_prf : op->km, SA_PROOF_MAS, &op->binding, op->nn.b, op->nm.b,
		     op->node_id, mas_proof.b);
	if (r < 0)
		return err_set(err, r, "cannot compute the MAS proof with %s: %s", pki ? "Kc" : "Km",
			       strerror(-r));
	if (!secret_equal(mas_proof.b, proof, WIRE_PROOF_LEN))
		return err_set(err, -EBADMSG,
			       pki ? "the MAS confirmation did not verify: the MAS does not share "
				     "this TLS session's keys"
				   : "the MAS proof did not verify: this MAS does not hold the node's "
				     "Km");
	return 0;
}

/* PEER_KEY: the MAS proof first, then that it answers what was asked. */
static int on_peer_key(struct establish_op *op, const struct wire_msg *m,
		       struct establish_result *ret, struct m2msa_err *err)
{
	const struct wire_peer_key *k = &m->peer_key;
	const struct wire_msg *q = &op->peer_request;
	struct establish_result res = { .method = op->method };
	bool match;
	int r;

	r = check_mas_proof(op, k->proof, err);
	if (r < 0)
		return r;
	if (q->type == WIRE_MSG_PEER_REGISTER)
		match = strcmp(k->node_id, op->node_id) == 0 &&
			strcmp(k->ae_id, q->peer_register.ae_id) == 0 &&
			strcmp(k->target, q->peer_register.target) == 0;
	else
		match = strcmp(k->key_id, q->peer_resolve.key_id) == 0;
	if (!match || k->suid != WIRE_SUID_PEER)
		return err_set(err, -EBADMSG, "the MAS answered another pairwise key than asked for");
	if (k->expiry <= (uint64_t)time(NULL))
		return err_set(err, -EBADMSG, "the MAS sent an expiry in the past (check both clocks)");
	r = secret_new(WIRE_KEY_LEN, &res.kc);
	if (r < 0)
		return err_set(err, r, "out of memory");
	memcpy(res.kc->data, k->key, WIRE_KEY_LEN);
	memcpy(res.key_id, k->key_id, sizeof(res.key_id));
	res.expiry = k->expiry;
	memcpy(res.peer_node_id, k->node_id, sizeof(res.peer_node_id));
	memcpy(res.peer_ae_id, k->ae_id, sizeof(res.peer_ae_id));
	memcpy(res.peer_target, k->target, sizeof(res.peer_target));
	*ret = res;
	return 0;
}

static int on_established(struct establish_op *op, const struct wire_msg *m,
			  struct establish_result *ret, struct m2msa_err *err)
{
	struct establish_result res = { .method = op->method };
	bool pki = op->method == WIRE_METHOD_PKI;
	uint8_t id_kcid[SA_KCID_LEN];
	char ae[WIRE_ID_MAX + 1], fqdn[WIRE_KEY_ID_MAX + 1];
	int r;

	/* Check the MAS proof before any key is derived. */
	r = check_mas_proof(op, m->established.proof, err);
	if (r < 0)
		return r;
	sa_kcid(&op->binding, res.kcid);
	r = sa_key_id_parse(m->established.key_id, id_kcid, ae, fqdn);
	if (r < 0 || ae[0] || memcmp(id_kcid, res.kcid, SA_KCID_LEN) != 0)
		return err_set(err, -EBADMSG,
			    "the MAS sent key ID '%s', which does not match this session's KcID",
			    m->established.key_id);
	if (m->established.method != op->method)
		return err_set(err, -EBADMSG, "the MAS confirmed another method than it chose");
	if (m->established.expiry <= (uint64_t)time(NULL))
		return err_set(err, -EBADMSG, "the MAS sent an expiry in the past (check both clocks)");
	memcpy(res.key_id, m->established.key_id, sizeof(res.key_id));
	memcpy(res.suite, m->established.suite, sizeof(res.suite));
	res.expiry = m->established.expiry;
	/* Method gba: never a Kc that outlives its Ks_NAF, whatever the MAS says. */
	if (op->method == WIRE_METHOD_GBA && op->gba_expiry && res.expiry > op->gba_expiry)
		res.expiry = op->gba_expiry;
	r = secret_new(KDF_OUT_LEN, &res.kc);
	if (r == 0)
		r = secret_new(KDF_OUT_LEN, &res.ae_root);
	if (r == 0 && pki) {
		memcpy(res.kc->data, op->pki_kc.b, KDF_OUT_LEN);
		r = sa_pki_ae_root(op->ssl, res.ae_root->data);
	} else if (r == 0) {
		r = sa_kc(op->km, &op->binding, op->nn.b, op->nm.b, res.kc->data);
		if (r == 0)
			r = sa_ae_root(op->km, &op->binding, op->nn.b, op->nm.b, res.ae_root->data);
	}
	if (r < 0) {
		establish_result_clear(&res);
		return err_set(err, r, "cannot derive Kc%s: %s", pki ? "" : " with Km", strerror(-r));
	}
	*ret = res;
	return 0;
}

int establish_op_step(struct establish_op *op, struct establish_result *ret,
		      struct m2msa_err *err)
{
	struct wire_msg m;
	int r;

	memset(err, 0, sizeof(*err));
	switch (op->state) {
	case OP_CONNECTING:
		r = tcp_connect_result(op->fd);
		if (r < 0)
			return err_set(err, r, "cannot reach the MAS at %s: %s", op->mas_address,
				    strerror(-r));
		op->ssl = tls_client_new(op->ctx, op->fd, op->server_name, err->msg,
					 sizeof(err->msg));
		if (!op->ssl)
			return -ENOMEM;
		op->state = OP_HANDSHAKE;
		/* fall through */
	case OP_HANDSHAKE:
		r = wolfSSL_connect(op->ssl);
		if (r != WOLFSSL_SUCCESS)
			return tls_wait_or_fail(op, r, "TLS handshake", err);
		r = crypto_random(op->nn.b, sizeof(op->nn.b));
		if (r < 0)
			return err_set(err, r, "cannot get random bytes: %s", strerror(-r));
		memset(&m, 0, sizeof(m));
		m.type = WIRE_MSG_HELLO;
		snprintf(m.hello.node_id, sizeof(m.hello.node_id), "%s", op->node_id);
		snprintf(m.hello.btid, sizeof(m.hello.btid), "%s", op->btid);
		memcpy(m.hello.methods, op->methods, op->n_methods);
		m.hello.n_methods = op->n_methods;
		memcpy(m.hello.nonce, op->nn.b, WIRE_NONCE_LEN);
		r = queue_msg(op, &m, OP_SEND_HELLO, err);
		if (r < 0)
			return r;
		/* fall through */
	case OP_SEND_HELLO:
		r = flush_out(op, err);
		if (r < 0)
			return r;
		op->state = OP_WAIT_CHALLENGE;
		/* fall through */
	case OP_WAIT_CHALLENGE:
		r = read_frame(op, &m, err);
		if (r < 0)
			return r;
		r = check_type(&m, WIRE_MSG_CHALLENGE, err);
		if (r == 0)
			r = on_challenge(op, &m, err);
		wire_msg_wipe(&m);
		if (r < 0)
			return r;
		/* fall through */
	case OP_SEND_PROOF:
		r = flush_out(op, err);
		if (r < 0)
			return r;
		op->state = OP_WAIT_ESTABLISHED;
		/* fall through */
	case OP_WAIT_ESTABLISHED:
		r = read_frame(op, &m, err);
		if (r < 0)
			return r;
		err->method = op->method; /* e.g. a refused gba proof: bootstrap again */
		r = check_type(&m, op->peer ? WIRE_MSG_PEER_KEY : WIRE_MSG_ESTABLISHED, err);
		if (r == 0)
			r = op->peer ? on_peer_key(op, &m, ret, err) : on_established(op, &m, ret, err);
		wire_msg_wipe(&m);
		if (r == 0)
			(void)wolfSSL_shutdown(op->ssl); /* best effort close_notify */
		return r;
	default:
		return err_set(err, -EINVAL, "establishment already finished");
	}
}

int establish_run(WOLFSSL_CTX *ctx, const struct establish_params *p, const struct kdf_prf *km,
		  struct establish_result *ret, struct m2msa_err *err)
{
	struct establish_op *op = NULL;
	int r;

	r = establish_op_new(ctx, p, km, &op, err);
	if (r < 0)
		return r;
	for (;;) {
		struct pollfd pfd = { .fd = establish_op_fd(op), .events = establish_op_events(op) };

		r = poll(&pfd, 1, p->timeout_ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			r = err_set(err, r == 0 ? -ETIMEDOUT : -errno,
				 "no answer from the MAS at %s within %d ms", p->mas_address,
				 p->timeout_ms);
			break;
		}
		r = establish_op_step(op, ret, err);
		if (r != -EAGAIN)
			break;
	}
	establish_op_free(op);
	return r;
}
