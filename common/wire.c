/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The CBOR wire codec (docs/protocol.md). Encoding writes the map with libcbor's
 * low-level cbor_encode_* head encoders straight into the caller's buffer, and
 * decoding walks the body with libcbor's streaming decoder (cbor_stream_decode),
 * one data item at a time (both through common/cbor-util.h): neither direction
 * allocates, so no copy of a key ever sits in a libcbor heap item, and nothing
 * has to be freed on the error paths. What a well-formed identifier is, and
 * the names of methods, errors and types: common/wire-names.c.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "common/cbor-util.h"
#include "common/secret.h"
#include "common/wire-int.h"
#include "common/wire.h"

/* Map keys (docs/protocol.md "Map keys"). One key always carries one CBOR type. */
enum wire_key {
	WIRE_KEY_TYPE = 0,     /* uint */
	WIRE_KEY_VERSION = 1,  /* uint */
	WIRE_KEY_NODE_ID = 2,  /* tstr */
	WIRE_KEY_METHODS = 3,  /* [1*4 uint] */
	WIRE_KEY_NONCE = 4,    /* bstr .size 32 */
	WIRE_KEY_METHOD = 5,   /* uint */
	WIRE_KEY_PROOF = 6,    /* bstr .size 32 */
	WIRE_KEY_KEY_ID = 7,   /* tstr */
	WIRE_KEY_EXPIRY = 8,   /* uint */
	WIRE_KEY_SUITE = 9,    /* tstr */
	WIRE_KEY_CODE = 10,    /* uint */
	WIRE_KEY_REASON = 11,  /* tstr */
	WIRE_KEY_KEY = 12,     /* bstr .size 32 */
	WIRE_KEY_AE_ID = 13,   /* tstr */
	WIRE_KEY_SUID = 14,    /* uint */
	WIRE_KEY_BTID = 15,    /* tstr, version 2 */
	WIRE_KEY_TARGET = 16,  /* tstr, version 3 */
	WIRE_KEY_CHECK = 17,   /* uint, always 1, version 4 */
	_WIRE_KEY_MAX,
};

#define BIT(k) (1u << (k))
#define COMMON_KEYS (BIT(WIRE_KEY_TYPE) | BIT(WIRE_KEY_VERSION))

/* The keys each message type carries: all of them, exactly once, and no others. */
static const uint32_t type_keys[_WIRE_MSG_MAX] = {
	[WIRE_MSG_HELLO] = COMMON_KEYS | BIT(WIRE_KEY_NODE_ID) | BIT(WIRE_KEY_METHODS) |
			   BIT(WIRE_KEY_NONCE),
	[WIRE_MSG_CHALLENGE] = COMMON_KEYS | BIT(WIRE_KEY_METHOD) | BIT(WIRE_KEY_NONCE),
	[WIRE_MSG_PROOF] = COMMON_KEYS | BIT(WIRE_KEY_PROOF),
	[WIRE_MSG_ESTABLISHED] = COMMON_KEYS | BIT(WIRE_KEY_PROOF) | BIT(WIRE_KEY_KEY_ID) |
				 BIT(WIRE_KEY_EXPIRY) | BIT(WIRE_KEY_METHOD) |
				 BIT(WIRE_KEY_SUITE),
	[WIRE_MSG_ERROR] = COMMON_KEYS | BIT(WIRE_KEY_CODE) | BIT(WIRE_KEY_REASON),
	[WIRE_MSG_KEY_REQUEST] = COMMON_KEYS | BIT(WIRE_KEY_KEY_ID),
	[WIRE_MSG_KEY_RESPONSE] = COMMON_KEYS | BIT(WIRE_KEY_KEY) | BIT(WIRE_KEY_EXPIRY) |
				  BIT(WIRE_KEY_NODE_ID) | BIT(WIRE_KEY_AE_ID) |
				  BIT(WIRE_KEY_SUID),
	[WIRE_MSG_PEER_REGISTER] = COMMON_KEYS | BIT(WIRE_KEY_PROOF) | BIT(WIRE_KEY_AE_ID) |
				   BIT(WIRE_KEY_TARGET),
	[WIRE_MSG_PEER_RESOLVE] = COMMON_KEYS | BIT(WIRE_KEY_PROOF) | BIT(WIRE_KEY_KEY_ID),
	[WIRE_MSG_PEER_KEY] = COMMON_KEYS | BIT(WIRE_KEY_NODE_ID) | BIT(WIRE_KEY_PROOF) |
			      BIT(WIRE_KEY_KEY_ID) | BIT(WIRE_KEY_EXPIRY) | BIT(WIRE_KEY_KEY) |
			      BIT(WIRE_KEY_AE_ID) | BIT(WIRE_KEY_SUID) | BIT(WIRE_KEY_TARGET),
};

/* Keys a message type may carry from version 2 on (each at most once). */
static const uint32_t type_keys_v2_optional[_WIRE_MSG_MAX] = {
	[WIRE_MSG_HELLO] = BIT(WIRE_KEY_BTID),
};

/* Keys a message type may carry at version 4. */
static const uint32_t type_keys_v4_optional[_WIRE_MSG_MAX] = {
	[WIRE_MSG_PEER_RESOLVE] = BIT(WIRE_KEY_CHECK),
};

/* The version one message is written at: its form's lowest. */
static uint32_t msg_version(const struct wire_msg *m)
{
	if (m->type == WIRE_MSG_HELLO && m->hello.btid[0])
		return WIRE_VERSION_BTID;
	if (m->type == WIRE_MSG_PEER_RESOLVE && m->peer_resolve.check)
		return WIRE_VERSION_CHECK;
	return wire_type_version(m->type);
}

uint32_t wire_type_version(enum wire_msg_type t)
{
	return t >= WIRE_MSG_PEER_REGISTER && t <= WIRE_MSG_PEER_KEY ? WIRE_VERSION_PEER
								       : WIRE_VERSION;
}


void wire_msg_wipe(struct wire_msg *m)
{
	secret_wipe(m, sizeof(*m));
}

static bool str_eq(const char *a, const char *b, size_t cap)
{
	return strncmp(a, b, cap) == 0;
}

static bool peer_key_equal(const struct wire_peer_key *a, const struct wire_peer_key *b)
{
	return secret_equal(a->key, b->key, WIRE_KEY_LEN) &&
	       memcmp(a->proof, b->proof, WIRE_PROOF_LEN) == 0 &&
	       str_eq(a->key_id, b->key_id, sizeof(a->key_id)) && a->expiry == b->expiry &&
	       str_eq(a->node_id, b->node_id, sizeof(a->node_id)) &&
	       str_eq(a->ae_id, b->ae_id, sizeof(a->ae_id)) &&
	       str_eq(a->target, b->target, sizeof(a->target)) && a->suid == b->suid;
}

int wire_msg_equal(const struct wire_msg *a, const struct wire_msg *b)
{
	if (a->type != b->type || a->version != b->version)
		return 0;
	switch (a->type) {
	case WIRE_MSG_HELLO:
		return str_eq(a->hello.node_id, b->hello.node_id, sizeof(a->hello.node_id)) &&
		       a->hello.n_methods == b->hello.n_methods &&
		       a->hello.n_methods <= WIRE_METHODS_MAX &&
		       memcmp(a->hello.methods, b->hello.methods, a->hello.n_methods) == 0 &&
		       memcmp(a->hello.nonce, b->hello.nonce, WIRE_NONCE_LEN) == 0 &&
		       str_eq(a->hello.btid, b->hello.btid, sizeof(a->hello.btid));
	case WIRE_MSG_CHALLENGE:
		return a->challenge.method == b->challenge.method &&
		       memcmp(a->challenge.nonce, b->challenge.nonce, WIRE_NONCE_LEN) == 0;
	case WIRE_MSG_PROOF:
		return memcmp(a->proof.proof, b->proof.proof, WIRE_PROOF_LEN) == 0;
	case WIRE_MSG_ESTABLISHED:
		return memcmp(a->established.proof, b->established.proof, WIRE_PROOF_LEN) == 0 &&
		       str_eq(a->established.key_id, b->established.key_id,
			      sizeof(a->established.key_id)) &&
		       a->established.expiry == b->established.expiry &&
		       a->established.method == b->established.method &&
		       str_eq(a->established.suite, b->established.suite,
			      sizeof(a->established.suite));
	case WIRE_MSG_ERROR:
		return a->error.code == b->error.code &&
		       str_eq(a->error.reason, b->error.reason, sizeof(a->error.reason));
	case WIRE_MSG_KEY_REQUEST:
		return str_eq(a->key_request.key_id, b->key_request.key_id,
			      sizeof(a->key_request.key_id));
	case WIRE_MSG_KEY_RESPONSE:
		return secret_equal(a->key_response.key, b->key_response.key, WIRE_KEY_LEN) &&
		       a->key_response.expiry == b->key_response.expiry &&
		       str_eq(a->key_response.node_id, b->key_response.node_id,
			      sizeof(a->key_response.node_id)) &&
		       str_eq(a->key_response.ae_id, b->key_response.ae_id,
			      sizeof(a->key_response.ae_id)) &&
		       a->key_response.suid == b->key_response.suid;
	case WIRE_MSG_PEER_REGISTER:
		return memcmp(a->peer_register.proof, b->peer_register.proof, WIRE_PROOF_LEN) == 0 &&
		       str_eq(a->peer_register.ae_id, b->peer_register.ae_id, WIRE_ID_MAX + 1) &&
		       str_eq(a->peer_register.target, b->peer_register.target,
			      WIRE_TARGET_MAX + 1);
	case WIRE_MSG_PEER_RESOLVE:
		return memcmp(a->peer_resolve.proof, b->peer_resolve.proof, WIRE_PROOF_LEN) == 0 &&
		       str_eq(a->peer_resolve.key_id, b->peer_resolve.key_id, WIRE_KEY_ID_MAX + 1) &&
		       a->peer_resolve.check == b->peer_resolve.check;
	case WIRE_MSG_PEER_KEY:
		return peer_key_equal(&a->peer_key, &b->peer_key);
	default:
		return 1; /* no fields beyond type and version */
	}
}

int wire_frame_length(const uint8_t prefix[static WIRE_PREFIX_LEN])
{
	uint32_t n = (uint32_t)prefix[0] << 24 | (uint32_t)prefix[1] << 16 |
		     (uint32_t)prefix[2] << 8 | (uint32_t)prefix[3];

	if (n == 0)
		return -EBADMSG;
	if (n > WIRE_FRAME_MAX)
		return -EMSGSIZE;
	return (int)n;
}

/* ---- field checks shared by encoder and decoder ------------------------- */

/* Text of 0..max octets without NUL; with want_id, 1..max identifier octets. */
static bool text_valid(const char *s, size_t len, size_t max, bool want_id)
{
	if (want_id)
		return wire_id_bytes_valid(s, len, max);
	return len <= max && !memchr(s, '\0', len);
}

/* Methods offered: 1..WIRE_METHODS_MAX known methods, none twice. */
static bool methods_valid(const uint64_t *methods, size_t n)
{
	if (n == 0 || n > WIRE_METHODS_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!wire_method_known(methods[i]))
			return false;
		for (size_t j = 0; j < i; j++)
			if (methods[j] == methods[i])
				return false;
	}
	return true;
}

/* ---- encoder ------------------------------------------------------------- */

/* Text field from a fixed char array of size cap: must be terminated inside it. */
static int w_key_text(struct cbor_util_writer *w, enum wire_key k, const char *s, size_t cap, size_t max,
		      bool want_id)
{
	size_t n = strnlen(s, cap);

	if (n == cap || !text_valid(s, n, max, want_id))
		return -EINVAL;
	cbor_util_put_key_bytes(w, k, true, s, n);
	return 0;
}

/* A target field: an absolute AE-ID. */
static int w_key_target(struct cbor_util_writer *w, const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);

	if (n == cap || !wire_target_bytes_valid(s, n))
		return -EINVAL;
	cbor_util_put_key_bytes(w, WIRE_KEY_TARGET, true, s, n);
	return 0;
}

/* The version 3 messages' fields, after type and version, keys ascending. */
static int encode_peer(const struct wire_msg *m, struct cbor_util_writer *w)
{
	const struct wire_peer_register *g = &m->peer_register;
	const struct wire_peer_resolve *v = &m->peer_resolve;
	const struct wire_peer_key *k = &m->peer_key;
	int r;

	switch (m->type) {
	case WIRE_MSG_PEER_REGISTER:
		cbor_util_put_key_bytes(w, WIRE_KEY_PROOF, false, g->proof, WIRE_PROOF_LEN);
		if (!wire_ae_part_valid(g->ae_id, strnlen(g->ae_id, sizeof(g->ae_id))))
			return -EINVAL;
		r = w_key_text(w, WIRE_KEY_AE_ID, g->ae_id, sizeof(g->ae_id), WIRE_ID_MAX, true);
		return r < 0 ? r : w_key_target(w, g->target, sizeof(g->target));
	case WIRE_MSG_PEER_RESOLVE:
		cbor_util_put_key_bytes(w, WIRE_KEY_PROOF, false, v->proof, WIRE_PROOF_LEN);
		r = w_key_text(w, WIRE_KEY_KEY_ID, v->key_id, sizeof(v->key_id), WIRE_KEY_ID_MAX,
			       true);
		if (r == 0 && v->check)
			cbor_util_put_key_uint(w, WIRE_KEY_CHECK, 1);
		return r;
	default: /* WIRE_MSG_PEER_KEY */
		r = w_key_text(w, WIRE_KEY_NODE_ID, k->node_id, sizeof(k->node_id), WIRE_ID_MAX,
			       true);
		if (r < 0)
			return r;
		cbor_util_put_key_bytes(w, WIRE_KEY_PROOF, false, k->proof, WIRE_PROOF_LEN);
		r = w_key_text(w, WIRE_KEY_KEY_ID, k->key_id, sizeof(k->key_id), WIRE_KEY_ID_MAX,
			       true);
		if (r < 0)
			return r;
		cbor_util_put_key_uint(w, WIRE_KEY_EXPIRY, k->expiry);
		cbor_util_put_key_bytes(w, WIRE_KEY_KEY, false, k->key, WIRE_KEY_LEN);
		if (!wire_ae_part_valid(k->ae_id, strnlen(k->ae_id, sizeof(k->ae_id))))
			return -EINVAL;
		r = w_key_text(w, WIRE_KEY_AE_ID, k->ae_id, sizeof(k->ae_id), WIRE_ID_MAX, true);
		if (r < 0)
			return r;
		cbor_util_put_key_uint(w, WIRE_KEY_SUID, k->suid);
		return w_key_target(w, k->target, sizeof(k->target));
	}
}

static int encode_body(const struct wire_msg *m, struct cbor_util_writer *w)
{
	uint32_t keys = type_keys[m->type];
	bool btid = m->type == WIRE_MSG_HELLO && m->hello.btid[0];
	bool check = m->type == WIRE_MSG_PEER_RESOLVE && m->peer_resolve.check;
	size_t n_keys = (size_t)__builtin_popcount(keys) + btid + check;
	int r = 0;

	cbor_util_put_map(w, n_keys);
	/* Keys in ascending order: the RFC 8949 §4.2.1 deterministic order for small uints. */
	cbor_util_put_key_uint(w, WIRE_KEY_TYPE, (uint64_t)m->type);
	/* The lowest version that carries the message (docs/protocol.md §10). */
	cbor_util_put_key_uint(w, WIRE_KEY_VERSION, msg_version(m));

	switch (m->type) {
	case WIRE_MSG_HELLO: {
		const struct wire_hello *h = &m->hello;
		uint64_t methods[WIRE_METHODS_MAX];

		if (h->n_methods == 0 || h->n_methods > WIRE_METHODS_MAX)
			return -EINVAL;
		for (size_t i = 0; i < h->n_methods; i++)
			methods[i] = h->methods[i];
		if (!methods_valid(methods, h->n_methods))
			return -EINVAL;
		r = w_key_text(w, WIRE_KEY_NODE_ID, h->node_id, sizeof(h->node_id), WIRE_ID_MAX, true);
		if (r < 0)
			return r;
		cbor_util_put_uint(w, WIRE_KEY_METHODS);
		cbor_util_put_array(w, h->n_methods);
		for (size_t i = 0; i < h->n_methods; i++)
			cbor_util_put_uint(w, h->methods[i]);
		cbor_util_put_key_bytes(w, WIRE_KEY_NONCE, false, h->nonce, WIRE_NONCE_LEN);
		if (btid) {
			size_t n = strnlen(h->btid, sizeof(h->btid));

			if (n == sizeof(h->btid) || !wire_btid_bytes_valid(h->btid, n))
				return -EINVAL;
			cbor_util_put_key_bytes(w, WIRE_KEY_BTID, true, h->btid, n);
		}
		break;
	}
	case WIRE_MSG_CHALLENGE:
		if (!wire_method_known(m->challenge.method))
			return -EINVAL;
		cbor_util_put_key_bytes(w, WIRE_KEY_NONCE, false, m->challenge.nonce, WIRE_NONCE_LEN);
		cbor_util_put_key_uint(w, WIRE_KEY_METHOD, m->challenge.method);
		break;
	case WIRE_MSG_PROOF:
		cbor_util_put_key_bytes(w, WIRE_KEY_PROOF, false, m->proof.proof, WIRE_PROOF_LEN);
		break;
	case WIRE_MSG_ESTABLISHED: {
		const struct wire_established *e = &m->established;

		if (!wire_method_known(e->method))
			return -EINVAL;
		cbor_util_put_key_uint(w, WIRE_KEY_METHOD, e->method);
		cbor_util_put_key_bytes(w, WIRE_KEY_PROOF, false, e->proof, WIRE_PROOF_LEN);
		r = w_key_text(w, WIRE_KEY_KEY_ID, e->key_id, sizeof(e->key_id), WIRE_KEY_ID_MAX,
			       true);
		if (r < 0)
			return r;
		cbor_util_put_key_uint(w, WIRE_KEY_EXPIRY, e->expiry);
		r = w_key_text(w, WIRE_KEY_SUITE, e->suite, sizeof(e->suite), WIRE_SUITE_MAX, true);
		break;
	}
	case WIRE_MSG_ERROR:
		cbor_util_put_key_uint(w, WIRE_KEY_CODE, m->error.code);
		r = w_key_text(w, WIRE_KEY_REASON, m->error.reason, sizeof(m->error.reason),
			       WIRE_REASON_MAX, false);
		break;
	case WIRE_MSG_KEY_REQUEST:
		r = w_key_text(w, WIRE_KEY_KEY_ID, m->key_request.key_id,
			       sizeof(m->key_request.key_id), WIRE_KEY_ID_MAX, true);
		break;
	case WIRE_MSG_KEY_RESPONSE: {
		const struct wire_key_response *k = &m->key_response;

		r = w_key_text(w, WIRE_KEY_NODE_ID, k->node_id, sizeof(k->node_id), WIRE_ID_MAX,
			       true);
		if (r < 0)
			return r;
		cbor_util_put_key_uint(w, WIRE_KEY_EXPIRY, k->expiry);
		cbor_util_put_key_bytes(w, WIRE_KEY_KEY, false, k->key, WIRE_KEY_LEN);
		/* The AE-ID is empty for the node's own Kc, else an identifier. */
		r = w_key_text(w, WIRE_KEY_AE_ID, k->ae_id, sizeof(k->ae_id), WIRE_ID_MAX,
			       k->ae_id[0] != '\0');
		if (r < 0)
			return r;
		cbor_util_put_key_uint(w, WIRE_KEY_SUID, k->suid);
		break;
	}
	case WIRE_MSG_PEER_REGISTER:
	case WIRE_MSG_PEER_RESOLVE:
	case WIRE_MSG_PEER_KEY:
		r = encode_peer(m, w);
		break;
	default:
		return -EINVAL;
	}
	if (r < 0)
		return r;
	return w->error;
}

int wire_encode(const struct wire_msg *m, uint8_t *buf, size_t buf_len, size_t *ret_len)
{
	struct cbor_util_writer w;
	size_t body;
	int r;

	if (!m || !buf || !ret_len || !wire_type_known((uint64_t)m->type))
		return -EINVAL;
	if (buf_len < WIRE_PREFIX_LEN)
		return -EMSGSIZE;
	w = (struct cbor_util_writer){ .p = buf + WIRE_PREFIX_LEN, .len = buf_len - WIRE_PREFIX_LEN };
	r = encode_body(m, &w);
	if (r < 0) {
		/* The buffer may hold a partial KEY_RESPONSE key: do not leave it there. */
		secret_wipe(buf, buf_len);
		return r;
	}
	body = w.off;
	if (body == 0 || body > WIRE_FRAME_MAX) {
		secret_wipe(buf, buf_len);
		return -EINVAL;
	}
	buf[0] = (uint8_t)(body >> 24);
	buf[1] = (uint8_t)(body >> 16);
	buf[2] = (uint8_t)(body >> 8);
	buf[3] = (uint8_t)body;
	*ret_len = WIRE_PREFIX_LEN + body;
	return 0;
}

/* ---- decoder ------------------------------------------------------------- */

/* The CBOR kind each key carries. */
static const enum cbor_util_kind key_kind[_WIRE_KEY_MAX] = {
	[WIRE_KEY_TYPE] = CBOR_UTIL_UINT,    [WIRE_KEY_VERSION] = CBOR_UTIL_UINT,
	[WIRE_KEY_NODE_ID] = CBOR_UTIL_TEXT, [WIRE_KEY_METHODS] = CBOR_UTIL_ARRAY,
	[WIRE_KEY_NONCE] = CBOR_UTIL_BYTES,  [WIRE_KEY_METHOD] = CBOR_UTIL_UINT,
	[WIRE_KEY_PROOF] = CBOR_UTIL_BYTES,  [WIRE_KEY_KEY_ID] = CBOR_UTIL_TEXT,
	[WIRE_KEY_EXPIRY] = CBOR_UTIL_UINT,  [WIRE_KEY_SUITE] = CBOR_UTIL_TEXT,
	[WIRE_KEY_CODE] = CBOR_UTIL_UINT,    [WIRE_KEY_REASON] = CBOR_UTIL_TEXT,
	[WIRE_KEY_KEY] = CBOR_UTIL_BYTES,    [WIRE_KEY_AE_ID] = CBOR_UTIL_TEXT,
	[WIRE_KEY_SUID] = CBOR_UTIL_UINT,    [WIRE_KEY_BTID] = CBOR_UTIL_TEXT,
	[WIRE_KEY_TARGET] = CBOR_UTIL_TEXT,  [WIRE_KEY_CHECK] = CBOR_UTIL_UINT,
};

_Static_assert(_WIRE_KEY_MAX <= CBOR_UTIL_MAP_KEYS, "map keys fit cbor_util_map");
_Static_assert(WIRE_METHODS_MAX <= CBOR_UTIL_ARRAY_MAX, "methods fit cbor_util_map");

/* First pass: the body is one flat map; the methods are its only array. */
static const struct cbor_util_map_rules map_rules = {
	.kinds = key_kind,
	.n_keys = _WIRE_KEY_MAX,
	.max_pairs = UINT64_MAX,
	.array_max = WIRE_METHODS_MAX,
};

static int get_text(const struct cbor_util_map *f, enum wire_key k, size_t max, bool want_id,
		    char *out)
{
	const struct cbor_util_item *it = &f->v[k];

	if (!text_valid((const char *)it->data, it->len, max, want_id))
		return -EBADMSG;
	cbor_util_copy_text(it, out);
	return 0;
}

static int get_fixed(const struct cbor_util_map *f, enum wire_key k, size_t len, uint8_t *out)
{
	const struct cbor_util_item *it = &f->v[k];

	if (it->len != len)
		return -EBADMSG;
	memcpy(out, it->data, len);
	return 0;
}

static int get_method(const struct cbor_util_map *f, uint8_t *out)
{
	uint64_t v = f->v[WIRE_KEY_METHOD].value;

	if (!wire_method_known(v))
		return -EBADMSG;
	*out = (uint8_t)v;
	return 0;
}

static int get_u32(const struct cbor_util_map *f, enum wire_key k, uint32_t *out)
{
	uint64_t v = f->v[k].value;

	if (v > UINT32_MAX)
		return -EBADMSG;
	*out = (uint32_t)v;
	return 0;
}

static int get_ae_part(const struct cbor_util_map *f, char *out)
{
	const struct cbor_util_item *it = &f->v[WIRE_KEY_AE_ID];

	if (!wire_ae_part_valid((const char *)it->data, it->len))
		return -EBADMSG;
	cbor_util_copy_text(it, out);
	return 0;
}

static int get_target(const struct cbor_util_map *f, char *out)
{
	const struct cbor_util_item *it = &f->v[WIRE_KEY_TARGET];

	if (!wire_target_bytes_valid((const char *)it->data, it->len))
		return -EBADMSG;
	cbor_util_copy_text(it, out);
	return 0;
}

/* The version 3 messages (type and version are set and checked). */
static int fill_peer(const struct cbor_util_map *f, struct wire_msg *m)
{
	struct wire_peer_key *k = &m->peer_key;
	int r;

	switch (m->type) {
	case WIRE_MSG_PEER_REGISTER:
		r = get_fixed(f, WIRE_KEY_PROOF, WIRE_PROOF_LEN, m->peer_register.proof);
		if (r == 0)
			r = get_ae_part(f, m->peer_register.ae_id);
		return r < 0 ? r : get_target(f, m->peer_register.target);
	case WIRE_MSG_PEER_RESOLVE:
		if ((f->present & BIT(WIRE_KEY_CHECK)) && f->v[WIRE_KEY_CHECK].value != 1)
			return -EBADMSG; /* one form: check is present as 1, or absent */
		m->peer_resolve.check = f->present & BIT(WIRE_KEY_CHECK);
		r = get_fixed(f, WIRE_KEY_PROOF, WIRE_PROOF_LEN, m->peer_resolve.proof);
		return r < 0 ? r
			     : get_text(f, WIRE_KEY_KEY_ID, WIRE_KEY_ID_MAX, true,
					m->peer_resolve.key_id);
	default: /* WIRE_MSG_PEER_KEY */
		r = get_fixed(f, WIRE_KEY_PROOF, WIRE_PROOF_LEN, k->proof);
		if (r == 0)
			r = get_fixed(f, WIRE_KEY_KEY, WIRE_KEY_LEN, k->key);
		if (r == 0)
			r = get_text(f, WIRE_KEY_KEY_ID, WIRE_KEY_ID_MAX, true, k->key_id);
		if (r == 0)
			r = get_text(f, WIRE_KEY_NODE_ID, WIRE_ID_MAX, true, k->node_id);
		if (r == 0)
			r = get_ae_part(f, k->ae_id);
		if (r == 0)
			r = get_target(f, k->target);
		if (r == 0)
			r = get_u32(f, WIRE_KEY_SUID, &k->suid);
		k->expiry = f->v[WIRE_KEY_EXPIRY].value;
		return r;
	}
}

/* Second pass: type-specific checks and copies into m (type and version are set). */
static int fill_msg(const struct cbor_util_map *f, struct wire_msg *m)
{
	size_t n_methods;
	int r = 0;

	switch (m->type) {
	case WIRE_MSG_HELLO:
		r = get_text(f, WIRE_KEY_NODE_ID, WIRE_ID_MAX, true, m->hello.node_id);
		if (r < 0)
			return r;
		n_methods = (size_t)f->v[WIRE_KEY_METHODS].value;
		if (!methods_valid(f->array, n_methods))
			return -EBADMSG;
		for (size_t i = 0; i < n_methods; i++)
			m->hello.methods[i] = (uint8_t)f->array[i];
		m->hello.n_methods = n_methods;
		if (f->present & BIT(WIRE_KEY_BTID)) {
			const struct cbor_util_item *it = &f->v[WIRE_KEY_BTID];

			if (!wire_btid_bytes_valid((const char *)it->data, it->len))
				return -EBADMSG;
			cbor_util_copy_text(it, m->hello.btid);
		}
		return get_fixed(f, WIRE_KEY_NONCE, WIRE_NONCE_LEN, m->hello.nonce);
	case WIRE_MSG_CHALLENGE:
		r = get_method(f, &m->challenge.method);
		if (r < 0)
			return r;
		return get_fixed(f, WIRE_KEY_NONCE, WIRE_NONCE_LEN, m->challenge.nonce);
	case WIRE_MSG_PROOF:
		return get_fixed(f, WIRE_KEY_PROOF, WIRE_PROOF_LEN, m->proof.proof);
	case WIRE_MSG_ESTABLISHED:
		r = get_fixed(f, WIRE_KEY_PROOF, WIRE_PROOF_LEN, m->established.proof);
		if (r < 0)
			return r;
		r = get_text(f, WIRE_KEY_KEY_ID, WIRE_KEY_ID_MAX, true, m->established.key_id);
		if (r < 0)
			return r;
		r = get_method(f, &m->established.method);
		if (r < 0)
			return r;
		m->established.expiry = f->v[WIRE_KEY_EXPIRY].value;
		return get_text(f, WIRE_KEY_SUITE, WIRE_SUITE_MAX, true, m->established.suite);
	case WIRE_MSG_ERROR:
		r = get_u32(f, WIRE_KEY_CODE, &m->error.code);
		if (r < 0)
			return r;
		return get_text(f, WIRE_KEY_REASON, WIRE_REASON_MAX, false, m->error.reason);
	case WIRE_MSG_KEY_REQUEST:
		return get_text(f, WIRE_KEY_KEY_ID, WIRE_KEY_ID_MAX, true, m->key_request.key_id);
	case WIRE_MSG_KEY_RESPONSE:
		r = get_fixed(f, WIRE_KEY_KEY, WIRE_KEY_LEN, m->key_response.key);
		if (r < 0)
			return r;
		m->key_response.expiry = f->v[WIRE_KEY_EXPIRY].value;
		r = get_text(f, WIRE_KEY_NODE_ID, WIRE_ID_MAX, true, m->key_response.node_id);
		if (r < 0)
			return r;
		r = get_text(f, WIRE_KEY_AE_ID, WIRE_ID_MAX, f->v[WIRE_KEY_AE_ID].len > 0,
			     m->key_response.ae_id);
		if (r < 0)
			return r;
		return get_u32(f, WIRE_KEY_SUID, &m->key_response.suid);
	case WIRE_MSG_PEER_REGISTER:
	case WIRE_MSG_PEER_RESOLVE:
	case WIRE_MSG_PEER_KEY:
		return fill_peer(f, m);
	default:
		return -EBADMSG;
	}
}

int wire_decode(const uint8_t *body, size_t len, struct wire_msg *ret)
{
	struct cbor_util_reader rd = { .p = body, .len = len };
	struct cbor_util_map f;
	struct wire_msg m = { 0 };
	uint64_t type, version;
	int r;

	if (!ret || (!body && len))
		return -EINVAL;
	if (len == 0 || len > WIRE_FRAME_MAX)
		return -EBADMSG;

	r = cbor_util_read_map(&rd, &map_rules, &f);
	if (r < 0)
		goto out;
	if ((f.present & COMMON_KEYS) != COMMON_KEYS) {
		r = -EBADMSG;
		goto out;
	}
	type = f.v[WIRE_KEY_TYPE].value;
	version = f.v[WIRE_KEY_VERSION].value;
	if (version < WIRE_VERSION_MIN || version > WIRE_VERSION_MAX) {
		/* Tell the caller what arrived, so it can answer with WIRE_ERR_VERSION. */
		wire_msg_wipe(ret);
		ret->type = wire_type_known(type) ? (enum wire_msg_type)type : 0;
		ret->version = version > UINT32_MAX ? UINT32_MAX : (uint32_t)version;
		r = -EPROTONOSUPPORT;
		goto out;
	}
	if (!wire_type_known(type) || f.unknown_key ||
	    (f.present & ~(version == WIRE_VERSION_BTID    ? type_keys_v2_optional[type]
			   : version == WIRE_VERSION_CHECK ? type_keys_v4_optional[type]
							   : 0)) != type_keys[type]) {
		r = -EBADMSG;
		goto out;
	}
	m.type = (enum wire_msg_type)type;
	m.version = (uint32_t)version;
	r = fill_msg(&f, &m);
	if (r < 0)
		goto out;
	/* One form per message: written at the lowest version that carries it. */
	if (m.version != msg_version(&m)) {
		r = -EBADMSG;
		goto out;
	}
	*ret = m;
out:
	wire_msg_wipe(&m);
	return r;
}
