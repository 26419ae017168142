/* SPDX-License-Identifier: Apache-2.0 */
/* Strict CBOR codec of the ESP agreement messages (docs/protocol.md, "ESP agreement"). */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "common/cbor-util.h"
#include "common/esp-wire.h"
#include "common/util.h"

enum {
	EKEY_TYPE = 0,
	EKEY_VERSION = 1,
	EKEY_SPI = 2,
	EKEY_MODE = 3,
	EKEY_PROTO = 4,
	EKEY_NODE_PORT = 5,
	EKEY_TARGET_PORT = 6,
	EKEY_CODE = 7,
	EKEY_REASON = 8,
	_EKEY_MAX,
};

#define BIT(k) (1u << (k))
#define COMMON_KEYS (BIT(EKEY_TYPE) | BIT(EKEY_VERSION))
#define SA_KEYS                                                                  \
	(BIT(EKEY_SPI) | BIT(EKEY_MODE) | BIT(EKEY_PROTO) | BIT(EKEY_NODE_PORT) | \
	 BIT(EKEY_TARGET_PORT))
#define SPI_MIN 256 /* RFC 4303 2.1: 1..255 are reserved, 0 is local */

static const uint32_t type_keys[_ESP_MSG_MAX] = {
	[ESP_MSG_OFFER] = COMMON_KEYS | SA_KEYS,
	[ESP_MSG_ACCEPT] = COMMON_KEYS | SA_KEYS,
	[ESP_MSG_ERROR] = COMMON_KEYS | BIT(EKEY_CODE) | BIT(EKEY_REASON),
};

static const enum cbor_util_kind key_kind[_EKEY_MAX] = {
	[EKEY_TYPE] = CBOR_UTIL_UINT,	     [EKEY_VERSION] = CBOR_UTIL_UINT,
	[EKEY_SPI] = CBOR_UTIL_UINT,	     [EKEY_MODE] = CBOR_UTIL_UINT,
	[EKEY_PROTO] = CBOR_UTIL_UINT,	     [EKEY_NODE_PORT] = CBOR_UTIL_UINT,
	[EKEY_TARGET_PORT] = CBOR_UTIL_UINT, [EKEY_CODE] = CBOR_UTIL_UINT,
	[EKEY_REASON] = CBOR_UTIL_TEXT,
};

static const char *const type_names[_ESP_MSG_MAX] = {
	[ESP_MSG_OFFER] = "ESP_OFFER",
	[ESP_MSG_ACCEPT] = "ESP_ACCEPT",
	[ESP_MSG_ERROR] = "ESP_ERROR",
};

static const char *const error_names[_ESP_ERR_MAX] = {
	[ESP_ERR_MALFORMED] = "malformed",
	[ESP_ERR_VERSION] = "version",
	[ESP_ERR_SELECTORS] = "selectors-refused",
	[ESP_ERR_KERNEL] = "kernel",
	[ESP_ERR_INTERNAL] = "internal",
};

static const char *const mode_names[_ESP_MODE_MAX] = {
	[ESP_MODE_TRANSPORT] = "transport",
	[ESP_MODE_TUNNEL] = "tunnel",
};

const char *esp_msg_type_to_string(uint32_t type)
{
	return type > 0 && type < _ESP_MSG_MAX ? type_names[type] : NULL;
}

const char *esp_error_code_to_string(uint32_t code)
{
	return code > 0 && code < _ESP_ERR_MAX ? error_names[code] : NULL;
}

const char *esp_mode_to_string(uint32_t mode)
{
	return mode > 0 && mode < _ESP_MODE_MAX ? mode_names[mode] : NULL;
}

bool esp_selectors_valid(const struct esp_selectors *s)
{
	bool ports = s->proto == IPPROTO_TCP || s->proto == IPPROTO_UDP || s->proto == IPPROTO_SCTP;

	if (s->mode == 0 || s->mode >= _ESP_MODE_MAX)
		return false;
	return ports || (s->node_port == 0 && s->target_port == 0);
}

bool esp_selectors_equal(const struct esp_selectors *a, const struct esp_selectors *b)
{
	return a->mode == b->mode && a->proto == b->proto && a->node_port == b->node_port &&
	       a->target_port == b->target_port;
}

void esp_wire_split_keys(const uint8_t keymat[ESP_WIRE_KEYMAT_LEN],
			 uint8_t node_to_target[ESP_WIRE_SA_KEY_LEN],
			 uint8_t target_to_node[ESP_WIRE_SA_KEY_LEN])
{
	memcpy(node_to_target, keymat, ESP_WIRE_SA_KEY_LEN);
	memcpy(target_to_node, keymat + ESP_WIRE_SA_KEY_LEN, ESP_WIRE_SA_KEY_LEN);
}

static bool type_known(uint64_t t)
{
	return t > 0 && t < _ESP_MSG_MAX;
}

/* Bytes of a free-text field without NUL, or -1 when it is unterminated or too long. */
static int reason_len(const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);

	return n >= cap ? -1 : (int)n;
}

int esp_wire_encode(const struct esp_msg *m, uint8_t *buf, size_t buf_len, size_t *ret_len)
{
	struct cbor_util_writer w;
	uint32_t keys;
	size_t body;
	int rlen = 0;

	if (!m || !buf || !ret_len || !type_known(m->type))
		return -EINVAL;
	keys = type_keys[m->type];
	if ((keys & BIT(EKEY_SPI)) && (m->spi < SPI_MIN || !esp_selectors_valid(&m->sel)))
		return -EINVAL;
	if (keys & BIT(EKEY_REASON)) {
		rlen = reason_len(m->reason, sizeof(m->reason));
		if (rlen < 0 || m->code == 0)
			return -EINVAL;
	}
	if (buf_len < ESP_WIRE_PREFIX_LEN)
		return -EMSGSIZE;
	w = (struct cbor_util_writer){ .p = buf + ESP_WIRE_PREFIX_LEN,
				       .len = buf_len - ESP_WIRE_PREFIX_LEN };
	if (w.len > ESP_WIRE_BODY_MAX)
		w.len = ESP_WIRE_BODY_MAX;
	/* Keys in ascending order (RFC 8949 4.2.1 deterministic order for small uints). */
	cbor_util_put_map(&w, (size_t)__builtin_popcount(keys));
	cbor_util_put_key_uint(&w, EKEY_TYPE, m->type);
	cbor_util_put_key_uint(&w, EKEY_VERSION, ESP_WIRE_VERSION);
	if (keys & BIT(EKEY_SPI)) {
		cbor_util_put_key_uint(&w, EKEY_SPI, m->spi);
		cbor_util_put_key_uint(&w, EKEY_MODE, m->sel.mode);
		cbor_util_put_key_uint(&w, EKEY_PROTO, m->sel.proto);
		cbor_util_put_key_uint(&w, EKEY_NODE_PORT, m->sel.node_port);
		cbor_util_put_key_uint(&w, EKEY_TARGET_PORT, m->sel.target_port);
	}
	if (keys & BIT(EKEY_CODE)) {
		cbor_util_put_key_uint(&w, EKEY_CODE, m->code);
		cbor_util_put_key_bytes(&w, EKEY_REASON, true, m->reason, (size_t)rlen);
	}
	if (w.error)
		return w.error;
	body = w.off;
	buf[0] = (uint8_t)(body >> 24);
	buf[1] = (uint8_t)(body >> 16);
	buf[2] = (uint8_t)(body >> 8);
	buf[3] = (uint8_t)body;
	*ret_len = ESP_WIRE_PREFIX_LEN + body;
	return 0;
}

int esp_wire_prefix_len(const uint8_t prefix[ESP_WIRE_PREFIX_LEN], size_t *ret_len)
{
	uint32_t n = (uint32_t)prefix[0] << 24 | (uint32_t)prefix[1] << 16 |
		     (uint32_t)prefix[2] << 8 | prefix[3];

	if (n == 0 || n > ESP_WIRE_BODY_MAX)
		return -EMSGSIZE;
	*ret_len = n;
	return 0;
}

_Static_assert(_EKEY_MAX <= CBOR_UTIL_MAP_KEYS, "map keys fit cbor_util_map");

static const struct cbor_util_map_rules map_rules = {
	.kinds = key_kind,
	.n_keys = _EKEY_MAX,
	.max_pairs = 2 * _EKEY_MAX,
};

static int fill(const struct cbor_util_map *f, struct esp_msg *m)
{
	const struct cbor_util_item *v = f->v;
	uint32_t keys = type_keys[m->type];

	if (keys & BIT(EKEY_SPI)) {
		if (v[EKEY_SPI].value < SPI_MIN || v[EKEY_SPI].value > UINT32_MAX ||
		    v[EKEY_MODE].value > UINT8_MAX || v[EKEY_PROTO].value > UINT8_MAX ||
		    v[EKEY_NODE_PORT].value > UINT16_MAX || v[EKEY_TARGET_PORT].value > UINT16_MAX)
			return -EBADMSG;
		m->spi = (uint32_t)v[EKEY_SPI].value;
		m->sel.mode = (uint8_t)v[EKEY_MODE].value;
		m->sel.proto = (uint8_t)v[EKEY_PROTO].value;
		m->sel.node_port = (uint16_t)v[EKEY_NODE_PORT].value;
		m->sel.target_port = (uint16_t)v[EKEY_TARGET_PORT].value;
		if (!esp_selectors_valid(&m->sel))
			return -EBADMSG;
	}
	if (keys & BIT(EKEY_CODE)) {
		const struct cbor_util_item *r = &v[EKEY_REASON];

		if (v[EKEY_CODE].value == 0 || v[EKEY_CODE].value > UINT32_MAX ||
		    r->len > ESP_WIRE_REASON_MAX || memchr(r->data, 0, r->len))
			return -EBADMSG;
		m->code = (uint32_t)v[EKEY_CODE].value;
		cbor_util_copy_text(r, m->reason);
	}
	return 0;
}

int esp_wire_decode(const uint8_t *body, size_t len, struct esp_msg *ret)
{
	struct cbor_util_reader rd = { .p = body, .len = len };
	struct cbor_util_map f;
	struct esp_msg m;
	uint64_t type, version;
	int r;

	if (!ret || (!body && len))
		return -EINVAL;
	if (len == 0 || len > ESP_WIRE_BODY_MAX)
		return -EBADMSG;
	r = cbor_util_read_map(&rd, &map_rules, &f);
	if (r < 0)
		return r;
	if ((f.present & COMMON_KEYS) != COMMON_KEYS)
		return -EBADMSG;
	type = f.v[EKEY_TYPE].value;
	version = f.v[EKEY_VERSION].value;
	if (version != ESP_WIRE_VERSION) {
		memset(ret, 0, sizeof(*ret));
		ret->type = type_known(type) ? (enum esp_msg_type)type : 0;
		ret->version = version > UINT32_MAX ? UINT32_MAX : (uint32_t)version;
		return -EPROTONOSUPPORT;
	}
	if (!type_known(type) || f.unknown_key || f.present != type_keys[type])
		return -EBADMSG;
	memset(&m, 0, sizeof(m));
	m.type = (enum esp_msg_type)type;
	m.version = ESP_WIRE_VERSION;
	r = fill(&f, &m);
	if (r < 0)
		return r;
	*ret = m;
	return 0;
}
