/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's local key service protocol (docs/protocol.md "Local key service"):
 * one CBOR map per SOCK_SEQPACKET message, no length prefix (the socket keeps
 * message boundaries). Same strictness as common/wire.c: bounded size, known
 * keys only, each exactly once with its CBOR type, shortest-form heads.
 * struct local_msg may hold key bytes (KEY, EVENT): wipe it with local_msg_wipe().
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "common/wire.h"

#define LOCAL_WIRE_VERSION 1
#define LOCAL_WIRE_MSG_MAX 4096  /* bytes in one message; longer ones are refused */
#define LOCAL_WIRE_STATUS_MAX 2048
#define LOCAL_WIRE_KEY_LEN 32

enum local_msg_type {
	LOCAL_MSG_GET_KEY = 1,      /* client -> agent: req, ae_id ("" = the node's CSE) */
	LOCAL_MSG_SUBSCRIBE = 2,    /* client -> agent: req, ae_id */
	LOCAL_MSG_STATUS = 3,       /* client -> agent (admin): req */
	LOCAL_MSG_REKEY = 4,        /* client -> agent (admin): req */
	LOCAL_MSG_KEY = 5,          /* agent -> client: answer to GET_KEY */
	LOCAL_MSG_EVENT = 6,        /* agent -> subscriber: new key, expiry, revocation */
	LOCAL_MSG_OK = 7,           /* agent -> client: SUBSCRIBE or REKEY accepted */
	LOCAL_MSG_STATUS_REPLY = 8, /* agent -> client: the status object (JSON text) */
	LOCAL_MSG_ERROR = 9,        /* agent -> client */
	/* End-to-end keys between AEs (docs/protocol.md "Local key service", §14). */
	LOCAL_MSG_GET_PEER_KEY = 10, /* client -> agent: req, ae_id (originator), target */
	LOCAL_MSG_RESOLVE_KEY = 11,  /* client -> agent: req, ae_id (receiver), key_id */
	LOCAL_MSG_PEER_KEY = 12,     /* agent -> client: answer to both */
	_LOCAL_MSG_MAX,
};

enum local_event {
	LOCAL_EVENT_NEW_KEY = 1, /* a new key (key bytes present) */
	LOCAL_EVENT_EXPIRED = 2, /* key_id expired (no key bytes) */
	LOCAL_EVENT_REVOKED = 3, /* key_id must no longer be used (no key bytes) */
	_LOCAL_EVENT_MAX,
};

enum local_error_code {
	LOCAL_ERR_MALFORMED = 1, /* undecodable request: the agent closes the connection */
	LOCAL_ERR_VERSION = 2,   /* protocol version not supported */
	LOCAL_ERR_DENIED = 3,    /* not authorised by clients.d (EACCES) */
	LOCAL_ERR_NO_KEY = 4,    /* no association: establishment failed (ENOKEY) */
	LOCAL_ERR_BAD_ID = 5,    /* the AE-ID cannot form a key ID (EINVAL) */
	LOCAL_ERR_INTERNAL = 6,  /* agent-side failure (EIO) */
	LOCAL_ERR_BUSY = 7,      /* too many requests or subscriptions on this connection */
	LOCAL_ERR_EXPIRED = 8,   /* the pairwise key expired (EKEYEXPIRED) */
	LOCAL_ERR_REVOKED = 9,   /* the pairwise key is revoked (EKEYREVOKED) */
	_LOCAL_ERR_MAX,
};

/* All fields; each type uses the ones docs/protocol.md lists for it. */
struct local_msg {
	enum local_msg_type type;
	uint32_t version;
	uint32_t req;                      /* request number chosen by the client */
	char ae_id[WIRE_ID_MAX + 1];       /* "" for the node's CSE */
	char key_id[WIRE_KEY_ID_MAX + 1];
	uint8_t key[LOCAL_WIRE_KEY_LEN];
	size_t key_len;                    /* 32 for KEY and NEW_KEY events, else 0 */
	uint64_t expiry;                   /* epoch seconds */
	char suite[WIRE_SUITE_MAX + 1];
	uint32_t event;                    /* enum local_event */
	uint32_t code;                     /* enum local_error_code */
	char reason[WIRE_REASON_MAX + 1];
	char status[LOCAL_WIRE_STATUS_MAX + 1];
	char target[WIRE_TARGET_MAX + 1];  /* absolute AE-ID "/<CSE-ID>/<AE-ID>" */
	char node_id[WIRE_ID_MAX + 1];     /* PEER_KEY: the originator's node */
};

/*
 * Encode m (version ignored; LOCAL_WIRE_VERSION is written) into buf. Returns 0
 * and the length in *ret_len, -EMSGSIZE when buf is too small, -EINVAL for a
 * message that would not decode.
 */
int local_wire_encode(const struct local_msg *m, uint8_t *buf, size_t buf_len, size_t *ret_len);

/*
 * Decode one message. Returns 0, -EBADMSG when malformed, -EPROTONOSUPPORT for
 * another version (ret->type, ->version and ->req are still filled so the peer
 * can be told).
 */
int local_wire_decode(const uint8_t *buf, size_t len, struct local_msg *ret);

void local_msg_wipe(struct local_msg *m);

/* The errno a client returns for an ERROR code (LOCAL_ERR_DENIED -> EACCES ...). */
int local_error_to_errno(uint32_t code);
const char *local_error_code_to_string(uint32_t code);
const char *local_msg_type_to_string(uint32_t type);
const char *local_event_to_string(uint32_t event);
