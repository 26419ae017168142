/* SPDX-License-Identifier: Apache-2.0 */
/* The local key service codec (local-wire.h): strict CBOR maps, one per message. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/types.h>

#include "common/cbor-util.h"
#include "common/local-wire.h"
#include "common/secret.h"

/* Map keys (docs/protocol.md "Local key service"). One key always carries one CBOR type. */
enum local_key {
	LKEY_TYPE = 0,    /* uint */
	LKEY_VERSION = 1, /* uint */
	LKEY_REQ = 2,     /* uint, < 2^32 */
	LKEY_AE_ID = 3,   /* tstr: "" or an identifier */
	LKEY_KEY_ID = 4,  /* tstr */
	LKEY_KEY = 5,     /* bstr .size 32 (or 0 in EVENTs other than new-key) */
	LKEY_EXPIRY = 6,  /* uint */
	LKEY_SUITE = 7,   /* tstr */
	LKEY_EVENT = 8,   /* uint */
	LKEY_CODE = 9,    /* uint */
	LKEY_REASON = 10, /* tstr */
	LKEY_STATUS = 11, /* tstr (JSON) */
	LKEY_TARGET = 12, /* tstr: absolute AE-ID */
	LKEY_NODE_ID = 13, /* tstr: identifier */
	_LKEY_MAX,
};

#define BIT(k) (1u << (k))
#define COMMON_KEYS (BIT(LKEY_TYPE) | BIT(LKEY_VERSION) | BIT(LKEY_REQ))
#define KEY_FIELDS                                                                           \
	(BIT(LKEY_AE_ID) | BIT(LKEY_KEY_ID) | BIT(LKEY_KEY) | BIT(LKEY_EXPIRY) | BIT(LKEY_SUITE))

static const uint32_t type_keys[_LOCAL_MSG_MAX] = {
	[LOCAL_MSG_GET_KEY] = COMMON_KEYS | BIT(LKEY_AE_ID),
	[LOCAL_MSG_SUBSCRIBE] = COMMON_KEYS | BIT(LKEY_AE_ID),
	[LOCAL_MSG_STATUS] = COMMON_KEYS,
	[LOCAL_MSG_REKEY] = COMMON_KEYS,
	[LOCAL_MSG_KEY] = COMMON_KEYS | KEY_FIELDS,
	[LOCAL_MSG_EVENT] = COMMON_KEYS | KEY_FIELDS | BIT(LKEY_EVENT),
	[LOCAL_MSG_OK] = COMMON_KEYS,
	[LOCAL_MSG_STATUS_REPLY] = COMMON_KEYS | BIT(LKEY_STATUS),
	[LOCAL_MSG_ERROR] = COMMON_KEYS | BIT(LKEY_CODE) | BIT(LKEY_REASON),
	[LOCAL_MSG_GET_PEER_KEY] = COMMON_KEYS | BIT(LKEY_AE_ID) | BIT(LKEY_TARGET),
	[LOCAL_MSG_RESOLVE_KEY] = COMMON_KEYS | BIT(LKEY_AE_ID) | BIT(LKEY_KEY_ID),
	[LOCAL_MSG_PEER_KEY] = COMMON_KEYS | BIT(LKEY_AE_ID) | BIT(LKEY_KEY_ID) | BIT(LKEY_KEY) |
			       BIT(LKEY_EXPIRY) | BIT(LKEY_TARGET) | BIT(LKEY_NODE_ID),
};

/* The peer types name a specific AE: their ae_id is never "" (the CSE). */
#define PEER_TYPES (BIT(LOCAL_MSG_GET_PEER_KEY) | BIT(LOCAL_MSG_RESOLVE_KEY) | BIT(LOCAL_MSG_PEER_KEY))

static const enum cbor_util_kind key_kind[_LKEY_MAX] = {
	[LKEY_TYPE] = CBOR_UTIL_UINT,   [LKEY_VERSION] = CBOR_UTIL_UINT,
	[LKEY_REQ] = CBOR_UTIL_UINT,    [LKEY_AE_ID] = CBOR_UTIL_TEXT,
	[LKEY_KEY_ID] = CBOR_UTIL_TEXT, [LKEY_KEY] = CBOR_UTIL_BYTES,
	[LKEY_EXPIRY] = CBOR_UTIL_UINT, [LKEY_SUITE] = CBOR_UTIL_TEXT,
	[LKEY_EVENT] = CBOR_UTIL_UINT,  [LKEY_CODE] = CBOR_UTIL_UINT,
	[LKEY_REASON] = CBOR_UTIL_TEXT, [LKEY_STATUS] = CBOR_UTIL_TEXT,
	[LKEY_TARGET] = CBOR_UTIL_TEXT, [LKEY_NODE_ID] = CBOR_UTIL_TEXT,
};

static const char *const type_names[_LOCAL_MSG_MAX] = {
	[LOCAL_MSG_GET_KEY] = "get-key",     [LOCAL_MSG_SUBSCRIBE] = "subscribe",
	[LOCAL_MSG_STATUS] = "status",       [LOCAL_MSG_REKEY] = "rekey",
	[LOCAL_MSG_KEY] = "key",             [LOCAL_MSG_EVENT] = "event",
	[LOCAL_MSG_OK] = "ok",               [LOCAL_MSG_STATUS_REPLY] = "status-reply",
	[LOCAL_MSG_ERROR] = "error",         [LOCAL_MSG_GET_PEER_KEY] = "get-peer-key",
	[LOCAL_MSG_RESOLVE_KEY] = "resolve-key", [LOCAL_MSG_PEER_KEY] = "peer-key",
};

static const char *const event_names[_LOCAL_EVENT_MAX] = {
	[LOCAL_EVENT_NEW_KEY] = "new-key",
	[LOCAL_EVENT_EXPIRED] = "expired",
	[LOCAL_EVENT_REVOKED] = "revoked",
};

static const struct {
	const char *name;
	int err;
} error_info[_LOCAL_ERR_MAX] = {
	[LOCAL_ERR_MALFORMED] = { "malformed", EBADMSG },
	[LOCAL_ERR_VERSION] = { "unsupported-version", EPROTONOSUPPORT },
	[LOCAL_ERR_DENIED] = { "denied", EACCES },
	[LOCAL_ERR_NO_KEY] = { "no-key", ENOKEY },
	[LOCAL_ERR_BAD_ID] = { "bad-id", EINVAL },
	[LOCAL_ERR_INTERNAL] = { "internal", EIO },
	[LOCAL_ERR_BUSY] = { "busy", EBUSY },
	[LOCAL_ERR_EXPIRED] = { "expired", EKEYEXPIRED },
	[LOCAL_ERR_REVOKED] = { "revoked", EKEYREVOKED },
};

static bool type_known(uint64_t t)
{
	return t >= LOCAL_MSG_GET_KEY && t < _LOCAL_MSG_MAX;
}

static bool event_known(uint64_t e)
{
	return e >= LOCAL_EVENT_NEW_KEY && e < _LOCAL_EVENT_MAX;
}

const char *local_msg_type_to_string(uint32_t type)
{
	return type_known(type) ? type_names[type] : "unknown";
}

const char *local_event_to_string(uint32_t event)
{
	return event_known(event) ? event_names[event] : "unknown";
}

const char *local_error_code_to_string(uint32_t code)
{
	if (code >= LOCAL_ERR_MALFORMED && code < _LOCAL_ERR_MAX)
		return error_info[code].name;
	return "unknown";
}

int local_error_to_errno(uint32_t code)
{
	if (code >= LOCAL_ERR_MALFORMED && code < _LOCAL_ERR_MAX)
		return error_info[code].err;
	return EPROTO;
}

void local_msg_wipe(struct local_msg *m)
{
	secret_wipe(m, sizeof(*m));
}

/* ---- field rules shared by encoder and decoder ---- */

/* An AE-ID field: "" (the node's CSE) or an identifier without '@' (it ends key IDs). */
static bool ae_id_valid(const char *s, size_t len)
{
	char tmp[WIRE_ID_MAX + 1];

	if (len == 0)
		return true;
	if (len > WIRE_ID_MAX || memchr(s, '@', len) || memchr(s, '\0', len))
		return false;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	return wire_id_valid(tmp);
}

static bool key_id_valid(const char *s, size_t len)
{
	if (len == 0 || len > WIRE_KEY_ID_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-' || c == '@' || c == '/'))
			return false;
	}
	return true;
}

/* Printable text without NUL or control characters (reasons, status JSON). */
static bool text_valid(const char *s, size_t len, size_t max)
{
	if (len > max)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

/* A target: an absolute AE-ID (common/wire.h). */
static bool target_valid(const char *s, size_t len)
{
	char tmp[WIRE_TARGET_MAX + 1], cse[WIRE_ID_MAX + 1], ae[WIRE_ID_MAX + 1];

	if (len > WIRE_TARGET_MAX || memchr(s, '\0', len))
		return false;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	return wire_target_split(tmp, cse, ae) == 0;
}

static bool node_id_valid(const char *s, size_t len)
{
	char tmp[WIRE_ID_MAX + 1];

	if (len == 0 || len > WIRE_ID_MAX || memchr(s, '\0', len))
		return false;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	return wire_id_valid(tmp);
}

/* Peer types: a non-empty AE-ID; the AE part of a target has no '/' either. */
static bool peer_ae_valid(uint32_t type, const char *s, size_t len)
{
	if (!(PEER_TYPES & BIT(type)))
		return true;
	return len > 0 && !memchr(s, '/', len);
}

/* Key bytes: 32 in KEY and new-key EVENTs, none in other EVENTs. */
static bool key_len_valid(uint32_t type, uint32_t event, size_t len)
{
	if (type == LOCAL_MSG_EVENT && event != LOCAL_EVENT_NEW_KEY)
		return len == 0;
	return len == LOCAL_WIRE_KEY_LEN;
}

/* ---- encoder ---- */

/* strnlen within the field, -1 when unterminated. */
static ssize_t field_len(const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);

	return n == cap ? -1 : (ssize_t)n;
}

int local_wire_encode(const struct local_msg *m, uint8_t *buf, size_t buf_len, size_t *ret_len)
{
	struct cbor_util_writer w = { .p = buf, .len = buf_len > LOCAL_WIRE_MSG_MAX ? LOCAL_WIRE_MSG_MAX : buf_len };
	uint32_t keys;
	ssize_t ae = 0, kid = 0, suite = 0, reason = 0, status = 0, target = 0, node = 0;

	if (!m || !buf || !ret_len || !type_known(m->type))
		return -EINVAL;
	keys = type_keys[m->type];
	/* Validate everything first: nothing is written for a message that would not decode. */
	if (keys & BIT(LKEY_AE_ID)) {
		ae = field_len(m->ae_id, sizeof(m->ae_id));
		if (ae < 0 || !ae_id_valid(m->ae_id, (size_t)ae) ||
		    !peer_ae_valid(m->type, m->ae_id, (size_t)ae))
			return -EINVAL;
	}
	if (keys & BIT(LKEY_KEY_ID)) {
		kid = field_len(m->key_id, sizeof(m->key_id));
		if (kid < 0 || !key_id_valid(m->key_id, (size_t)kid))
			return -EINVAL;
	}
	if (keys & BIT(LKEY_SUITE)) {
		suite = field_len(m->suite, sizeof(m->suite));
		if (suite < 0 || !text_valid(m->suite, (size_t)suite, WIRE_SUITE_MAX))
			return -EINVAL;
		if (m->type == LOCAL_MSG_EVENT && !event_known(m->event))
			return -EINVAL;
	}
	if ((keys & BIT(LKEY_KEY)) && !key_len_valid(m->type, m->event, m->key_len))
		return -EINVAL;
	if (keys & BIT(LKEY_TARGET)) {
		target = field_len(m->target, sizeof(m->target));
		if (target < 0 || !target_valid(m->target, (size_t)target))
			return -EINVAL;
	}
	if (keys & BIT(LKEY_NODE_ID)) {
		node = field_len(m->node_id, sizeof(m->node_id));
		if (node < 0 || !node_id_valid(m->node_id, (size_t)node))
			return -EINVAL;
	}
	if (keys & BIT(LKEY_REASON)) {
		reason = field_len(m->reason, sizeof(m->reason));
		if (reason < 0 || !text_valid(m->reason, (size_t)reason, WIRE_REASON_MAX))
			return -EINVAL;
	}
	if (keys & BIT(LKEY_STATUS)) {
		status = field_len(m->status, sizeof(m->status));
		if (status < 0 || !text_valid(m->status, (size_t)status, LOCAL_WIRE_STATUS_MAX))
			return -EINVAL;
	}

	/* Keys in ascending order (RFC 8949 §4.2.1 deterministic order for small uints). */
	cbor_util_put_map(&w, (size_t)__builtin_popcount(keys));
	cbor_util_put_key_uint(&w, LKEY_TYPE, m->type);
	cbor_util_put_key_uint(&w, LKEY_VERSION, LOCAL_WIRE_VERSION);
	cbor_util_put_key_uint(&w, LKEY_REQ, m->req);
	if (keys & BIT(LKEY_AE_ID))
		cbor_util_put_key_bytes(&w, LKEY_AE_ID, true, m->ae_id, (size_t)ae);
	if (keys & BIT(LKEY_KEY_ID))
		cbor_util_put_key_bytes(&w, LKEY_KEY_ID, true, m->key_id, (size_t)kid);
	if (keys & BIT(LKEY_KEY))
		cbor_util_put_key_bytes(&w, LKEY_KEY, false, m->key, m->key_len);
	if (keys & BIT(LKEY_EXPIRY))
		cbor_util_put_key_uint(&w, LKEY_EXPIRY, m->expiry);
	if (keys & BIT(LKEY_SUITE))
		cbor_util_put_key_bytes(&w, LKEY_SUITE, true, m->suite, (size_t)suite);
	if (keys & BIT(LKEY_EVENT))
		cbor_util_put_key_uint(&w, LKEY_EVENT, m->event);
	if (keys & BIT(LKEY_CODE)) {
		cbor_util_put_key_uint(&w, LKEY_CODE, m->code);
		cbor_util_put_key_bytes(&w, LKEY_REASON, true, m->reason, (size_t)reason);
	}
	if (keys & BIT(LKEY_STATUS))
		cbor_util_put_key_bytes(&w, LKEY_STATUS, true, m->status, (size_t)status);
	if (keys & BIT(LKEY_TARGET))
		cbor_util_put_key_bytes(&w, LKEY_TARGET, true, m->target, (size_t)target);
	if (keys & BIT(LKEY_NODE_ID))
		cbor_util_put_key_bytes(&w, LKEY_NODE_ID, true, m->node_id, (size_t)node);
	if (w.error) {
		secret_wipe(buf, buf_len); /* may hold a partial key */
		return w.error;
	}
	*ret_len = w.off;
	return 0;
}

/* ---- decoder ---- */

_Static_assert(_LKEY_MAX <= CBOR_UTIL_MAP_KEYS, "map keys fit cbor_util_map");

/* The message is one definite-length map of uint keys to uint/bstr/tstr values. */
static const struct cbor_util_map_rules map_rules = {
	.kinds = key_kind,
	.n_keys = _LKEY_MAX,
	.max_pairs = 2 * _LKEY_MAX,
};

static int fill(const struct cbor_util_map *f, struct local_msg *m)
{
	const struct cbor_util_item *v = f->v;
	uint32_t keys = type_keys[m->type];

	if (keys & BIT(LKEY_AE_ID)) {
		if (!ae_id_valid((const char *)v[LKEY_AE_ID].data, v[LKEY_AE_ID].len) ||
		    !peer_ae_valid(m->type, (const char *)v[LKEY_AE_ID].data, v[LKEY_AE_ID].len))
			return -EBADMSG;
		cbor_util_copy_text(&v[LKEY_AE_ID], m->ae_id);
	}
	if (keys & BIT(LKEY_EVENT)) {
		if (!event_known(v[LKEY_EVENT].value))
			return -EBADMSG;
		m->event = (uint32_t)v[LKEY_EVENT].value;
	}
	if (keys & BIT(LKEY_KEY_ID)) {
		if (!key_id_valid((const char *)v[LKEY_KEY_ID].data, v[LKEY_KEY_ID].len))
			return -EBADMSG;
		cbor_util_copy_text(&v[LKEY_KEY_ID], m->key_id);
	}
	if (keys & BIT(LKEY_SUITE)) {
		if (!text_valid((const char *)v[LKEY_SUITE].data, v[LKEY_SUITE].len, WIRE_SUITE_MAX))
			return -EBADMSG;
		cbor_util_copy_text(&v[LKEY_SUITE], m->suite);
	}
	if (keys & BIT(LKEY_KEY)) {
		if (!key_len_valid(m->type, m->event, v[LKEY_KEY].len))
			return -EBADMSG;
		if (v[LKEY_KEY].len)
			memcpy(m->key, v[LKEY_KEY].data, v[LKEY_KEY].len);
		m->key_len = v[LKEY_KEY].len;
	}
	if (keys & BIT(LKEY_EXPIRY))
		m->expiry = v[LKEY_EXPIRY].value;
	if (keys & BIT(LKEY_TARGET)) {
		if (!target_valid((const char *)v[LKEY_TARGET].data, v[LKEY_TARGET].len))
			return -EBADMSG;
		cbor_util_copy_text(&v[LKEY_TARGET], m->target);
	}
	if (keys & BIT(LKEY_NODE_ID)) {
		if (!node_id_valid((const char *)v[LKEY_NODE_ID].data, v[LKEY_NODE_ID].len))
			return -EBADMSG;
		cbor_util_copy_text(&v[LKEY_NODE_ID], m->node_id);
	}
	if (keys & BIT(LKEY_CODE)) {
		if (v[LKEY_CODE].value > UINT32_MAX ||
		    !text_valid((const char *)v[LKEY_REASON].data, v[LKEY_REASON].len, WIRE_REASON_MAX))
			return -EBADMSG;
		m->code = (uint32_t)v[LKEY_CODE].value;
		cbor_util_copy_text(&v[LKEY_REASON], m->reason);
	}
	if (keys & BIT(LKEY_STATUS)) {
		if (!text_valid((const char *)v[LKEY_STATUS].data, v[LKEY_STATUS].len,
				LOCAL_WIRE_STATUS_MAX))
			return -EBADMSG;
		cbor_util_copy_text(&v[LKEY_STATUS], m->status);
	}
	return 0;
}

int local_wire_decode(const uint8_t *buf, size_t len, struct local_msg *ret)
{
	struct cbor_util_reader rd = { .p = buf, .len = len };
	struct cbor_util_map f;
	struct local_msg m;
	uint64_t type, version, req;
	int r;

	if (!ret || (!buf && len))
		return -EINVAL;
	if (len == 0 || len > LOCAL_WIRE_MSG_MAX)
		return -EBADMSG;
	memset(&m, 0, sizeof(m));
	r = cbor_util_read_map(&rd, &map_rules, &f);
	if (r < 0)
		goto out;
	if ((f.present & COMMON_KEYS) != COMMON_KEYS || f.v[LKEY_REQ].value > UINT32_MAX) {
		r = -EBADMSG;
		goto out;
	}
	type = f.v[LKEY_TYPE].value;
	version = f.v[LKEY_VERSION].value;
	req = f.v[LKEY_REQ].value;
	if (version != LOCAL_WIRE_VERSION) {
		local_msg_wipe(ret);
		ret->type = type_known(type) ? (enum local_msg_type)type : 0;
		ret->version = version > UINT32_MAX ? UINT32_MAX : (uint32_t)version;
		ret->req = (uint32_t)req;
		r = -EPROTONOSUPPORT;
		goto out;
	}
	if (!type_known(type) || f.unknown_key || f.present != type_keys[type]) {
		r = -EBADMSG;
		goto out;
	}
	m.type = (enum local_msg_type)type;
	m.version = LOCAL_WIRE_VERSION;
	m.req = (uint32_t)req;
	r = fill(&f, &m);
	if (r < 0)
		goto out;
	*ret = m;
out:
	local_msg_wipe(&m);
	return r;
}
