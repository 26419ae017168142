/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The identifiers and names of the wire protocol (docs/protocol.md): which
 * node IDs, AE-IDs, targets and B-TIDs are well formed, and the names of the
 * methods, error codes and message types. The codec (common/wire.c) checks
 * every field with these (common/wire-int.h).
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "common/wire-int.h"
#include "common/wire.h"

static bool id_char_valid(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-' || c == '@' || c == '/';
}

/* 1..max octets, each from the identifier set. */
bool wire_id_bytes_valid(const char *s, size_t len, size_t max)
{
	if (len == 0 || len > max)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!id_char_valid((unsigned char)s[i]))
			return false;
	return true;
}

bool wire_btid_bytes_valid(const char *s, size_t len)
{
	const char *at = memchr(s, '@', len);

	if (len == 0 || len > WIRE_BTID_MAX || !at || at == s || at == s + len - 1 ||
	    memchr(at + 1, '@', len - (size_t)(at + 1 - s)))
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '+' || c == '/' || c == '=' || c == '.' || c == '-' || c == '@'))
			return false;
	}
	return true;
}

int wire_btid_valid(const char *s)
{
	return s && wire_btid_bytes_valid(s, strnlen(s, WIRE_BTID_MAX + 1));
}

int wire_id_valid(const char *s)
{
	if (!s)
		return 0;
	return wire_id_bytes_valid(s, strnlen(s, WIRE_ID_MAX + 1), WIRE_ID_MAX);
}

/* An AE-ID that can be the last part of an absolute AE-ID: no '/', no '@'. */
bool wire_ae_part_valid(const char *s, size_t len)
{
	return wire_id_bytes_valid(s, len, WIRE_ID_MAX) && !memchr(s, '/', len) &&
	       !memchr(s, '@', len);
}

/* "/<CSE-ID>/<AE-ID>": a leading '/', a CSE part of 2.. bytes, an AE part. */
bool wire_target_bytes_valid(const char *s, size_t len)
{
	const char *slash;

	if (!wire_id_bytes_valid(s, len, WIRE_TARGET_MAX) || s[0] != '/')
		return false;
	slash = memrchr(s, '/', len);
	return slash > s + 1 && (size_t)(slash - s) <= WIRE_ID_MAX &&
	       wire_ae_part_valid(slash + 1, len - (size_t)(slash + 1 - s));
}

int wire_target_names_node(const char *target, const char *node_id)
{
	char cse[WIRE_ID_MAX + 1], ae[WIRE_ID_MAX + 1];

	if (!node_id || !node_id[0] || wire_target_split(target, cse, ae) < 0)
		return 0;
	return strcmp(cse, node_id) == 0 || (node_id[0] != '/' && strcmp(cse + 1, node_id) == 0);
}

int wire_target_split(const char *target, char *cse, char *ae)
{
	size_t len, cse_len;
	const char *slash;

	if (!target)
		return -EINVAL;
	len = strnlen(target, WIRE_TARGET_MAX + 1);
	if (!wire_target_bytes_valid(target, len))
		return -EINVAL;
	slash = memrchr(target, '/', len);
	cse_len = (size_t)(slash - target);
	memcpy(cse, target, cse_len);
	cse[cse_len] = '\0';
	memcpy(ae, slash + 1, len - cse_len - 1);
	ae[len - cse_len - 1] = '\0';
	return 0;
}

bool wire_method_known(uint64_t m)
{
	return m >= WIRE_METHOD_PSK && m < _WIRE_METHOD_MAX;
}

static const char *const method_names[_WIRE_METHOD_MAX] = {
	[WIRE_METHOD_PSK] = "psk",
	[WIRE_METHOD_PKI] = "pki",
	[WIRE_METHOD_GBA] = "gba",
};

const char *wire_method_to_string(uint8_t method)
{
	return wire_method_known(method) ? method_names[method] : "unknown";
}

int wire_method_from_string(const char *s, uint8_t *ret)
{
	if (!s)
		return -EINVAL;
	for (uint8_t m = WIRE_METHOD_PSK; m < _WIRE_METHOD_MAX; m++)
		if (strcmp(s, method_names[m]) == 0) {
			*ret = m;
			return 0;
		}
	return -EINVAL;
}

static const char *const error_names[_WIRE_ERR_MAX] = {
	[WIRE_ERR_MALFORMED] = "malformed",
	[WIRE_ERR_VERSION] = "unsupported-version",
	[WIRE_ERR_UNKNOWN_NODE] = "unknown-node",
	[WIRE_ERR_REVOKED] = "revoked",
	[WIRE_ERR_NO_METHOD] = "no-common-method",
	[WIRE_ERR_AUTH_FAILED] = "auth-failed",
	[WIRE_ERR_RATE_LIMITED] = "rate-limited",
	[WIRE_ERR_UNKNOWN_KEY] = "unknown-key",
	[WIRE_ERR_EXPIRED] = "expired",
	[WIRE_ERR_NOT_AUTHORISED] = "not-authorised",
	[WIRE_ERR_INTERNAL] = "internal",
};

const char *wire_error_code_to_string(uint32_t code)
{
	if (code >= WIRE_ERR_MALFORMED && code < _WIRE_ERR_MAX)
		return error_names[code];
	return "unknown";
}

static const char *const type_names[_WIRE_MSG_MAX] = {
	[WIRE_MSG_HELLO] = "hello",
	[WIRE_MSG_CHALLENGE] = "challenge",
	[WIRE_MSG_PROOF] = "proof",
	[WIRE_MSG_ESTABLISHED] = "established",
	[WIRE_MSG_ERROR] = "error",
	[WIRE_MSG_KEY_REQUEST] = "key-request",
	[WIRE_MSG_KEY_RESPONSE] = "key-response",
	[WIRE_MSG_PEER_REGISTER] = "peer-register",
	[WIRE_MSG_PEER_RESOLVE] = "peer-resolve",
	[WIRE_MSG_PEER_KEY] = "peer-key",
};

bool wire_type_known(uint64_t t)
{
	return t >= WIRE_MSG_HELLO && t < _WIRE_MSG_MAX;
}

const char *wire_msg_type_to_string(enum wire_msg_type t)
{
	return wire_type_known((uint64_t)t) ? type_names[t] : "unknown";
}
