/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ESP agreement between m2msad and m2msa-espd (docs/protocol.md, "ESP
 * agreement"): inside a TLS 1.3 PSK session (identity = key ID, PSK = Kc), the
 * node sends ESP_OFFER (its inbound SPI and the selectors it wants), the target
 * answers ESP_ACCEPT (its inbound SPI, the selectors echoed) or ESP_ERROR. Each
 * message is one CBOR map behind a 4-byte big-endian length prefix, with the
 * strictness rules of common/wire.c. The ESP keys come from the session's
 * exporter (ESP_WIRE_EXPORTER_LABEL); esp_wire_split_keys() gives their layout.
 * No key bytes ever travel in these messages.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ESP_WIRE_VERSION 1
#define ESP_WIRE_PREFIX_LEN 4
#define ESP_WIRE_BODY_MAX 512
#define ESP_WIRE_REASON_MAX 255
#define ESP_WIRE_EXPORTER_LABEL "EXPORTER-m2msa-esp-v1"
#define ESP_WIRE_KEYMAT_LEN 40 /* node->target key||salt (20), target->node key||salt (20) */
#define ESP_WIRE_SA_KEY_LEN 20

enum esp_msg_type {
	ESP_MSG_OFFER = 1,  /* node -> target */
	ESP_MSG_ACCEPT = 2, /* target -> node */
	ESP_MSG_ERROR = 3,  /* target -> node */
	_ESP_MSG_MAX,
};

enum esp_wire_mode {
	ESP_MODE_TRANSPORT = 1,
	ESP_MODE_TUNNEL = 2,
	_ESP_MODE_MAX,
};

enum esp_error_code {
	ESP_ERR_MALFORMED = 1, /* undecodable or out-of-order message */
	ESP_ERR_VERSION = 2,   /* version not supported */
	ESP_ERR_SELECTORS = 3, /* mode/selectors not allowed for this node */
	ESP_ERR_KERNEL = 4,    /* the target could not allocate an SPI or install states */
	ESP_ERR_INTERNAL = 5,  /* other target-side failure */
	_ESP_ERR_MAX,
};

/* Traffic selectors from the node's point of view: proto 0 = any, port 0 = any. */
struct esp_selectors {
	uint8_t mode;         /* enum esp_wire_mode */
	uint8_t proto;        /* IP protocol number; 0 = whole host */
	uint16_t node_port;   /* the node's port; needs proto TCP (6), UDP (17) or SCTP (132) */
	uint16_t target_port; /* the target's port; likewise */
};

struct esp_msg {
	enum esp_msg_type type;
	uint32_t version;
	uint32_t spi; /* OFFER: the node's inbound SPI; ACCEPT: the target's inbound SPI */
	struct esp_selectors sel;
	uint32_t code;                         /* ERROR */
	char reason[ESP_WIRE_REASON_MAX + 1]; /* ERROR, may be "" */
};

/*
 * Encode m (prefix included) into buf. Fields a type does not use are ignored.
 * -EINVAL for an unknown type, an SPI outside 256..2^32-1 (RFC 4303 2.1), bad
 * selectors or a reason with a NUL or too long; -EMSGSIZE if buf is too small.
 */
int esp_wire_encode(const struct esp_msg *m, uint8_t *buf, size_t buf_len, size_t *ret_len);

/*
 * Decode one body (without prefix). -EBADMSG for anything malformed,
 * -EPROTONOSUPPORT for another version (ret->type and version are then set).
 */
int esp_wire_decode(const uint8_t *body, size_t len, struct esp_msg *ret);

/* The body length a prefix announces; -EMSGSIZE above ESP_WIRE_BODY_MAX or 0. */
int esp_wire_prefix_len(const uint8_t prefix[ESP_WIRE_PREFIX_LEN], size_t *ret_len);

/* Selectors valid as docs/protocol.md says (mode known, ports only with TCP/UDP/SCTP). */
bool esp_selectors_valid(const struct esp_selectors *s);
bool esp_selectors_equal(const struct esp_selectors *a, const struct esp_selectors *b);

/*
 * Split exporter output (ESP_WIRE_KEYMAT_LEN bytes) into the two SAs' key||salt:
 * node_to_target first, then target_to_node.
 */
void esp_wire_split_keys(const uint8_t keymat[ESP_WIRE_KEYMAT_LEN],
			 uint8_t node_to_target[ESP_WIRE_SA_KEY_LEN],
			 uint8_t target_to_node[ESP_WIRE_SA_KEY_LEN]);

const char *esp_msg_type_to_string(uint32_t type);
const char *esp_error_code_to_string(uint32_t code);
const char *esp_mode_to_string(uint32_t mode);
