/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node <-> MAS and target <-> MAS wire format (docs/protocol.md): each
 * message is a CBOR map (RFC 8949, libcbor) behind a 4-byte big-endian length
 * prefix. Decoding is strict: frame size, string lengths and nesting are
 * bounded; unknown message types, missing or mistyped fields are errors.
 * struct wire_msg may hold key bytes (KEY_RESPONSE): wipe it with wire_msg_wipe().
 */
#pragma once

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

/*
 * Versions spoken: 1 to 3, one version per message form, each message written at
 * the lowest version that carries it, so a version 1 peer sees unchanged bytes:
 * 1 for every message but these two, 2 for a HELLO that carries the B-TID of
 * method gba (key 15), 3 for the end-to-end (AE <-> AE) messages PEER_REGISTER,
 * PEER_RESOLVE, PEER_KEY (docs/protocol.md §14), 4 for a PEER_RESOLVE that carries
 * check (key 17): the re-validation of a cached pairwise key (§14.6).
 */
#define WIRE_VERSION 1
#define WIRE_VERSION_MIN 1
#define WIRE_VERSION_BTID 2 /* the first version with HELLO's btid */
#define WIRE_VERSION_PEER 3
#define WIRE_VERSION_CHECK 4 /* the first version with PEER_RESOLVE's check */
#define WIRE_VERSION_MAX 4 /* the highest version this code speaks */
#define WIRE_SUID_PEER 33 /* TS-0004 m2m:suid: MAF-distributed key for ESPrim */
#define WIRE_TARGET_MAX 255 /* absolute AE-ID "/<CSE-ID>/<AE-ID>" */
#define WIRE_PREFIX_LEN 4
#define WIRE_FRAME_MAX 4096 /* body bytes, prefix not counted */
#define WIRE_NONCE_LEN 32
#define WIRE_PROOF_LEN 32
#define WIRE_KEY_LEN 32
#define WIRE_ID_MAX 128      /* node ID, AE-ID, target ID (TS-0003 10.4 limit) */
#define WIRE_KEY_ID_MAX 255  /* key identifiers: hex(KcID)@FQDN and per-AE forms */
#define WIRE_SUITE_MAX 63
#define WIRE_REASON_MAX 255
#define WIRE_METHODS_MAX 4
#define WIRE_BTID_MAX 255 /* B-TID: base64(RAND)@BSF-domain (TS 33.220 §4.5.2) */

enum wire_msg_type {
	WIRE_MSG_HELLO = 1,        /* node -> MAS */
	WIRE_MSG_CHALLENGE = 2,    /* MAS -> node */
	WIRE_MSG_PROOF = 3,        /* node -> MAS */
	WIRE_MSG_ESTABLISHED = 4,  /* MAS -> node */
	WIRE_MSG_ERROR = 5,        /* either way */
	WIRE_MSG_KEY_REQUEST = 6,  /* target (IN-CSE) -> MAS */
	WIRE_MSG_KEY_RESPONSE = 7, /* MAS -> target */
	WIRE_MSG_PEER_REGISTER = 8, /* node -> MAS, version 3, instead of PROOF */
	WIRE_MSG_PEER_RESOLVE = 9,  /* node -> MAS, version 3, instead of PROOF */
	WIRE_MSG_PEER_KEY = 10,     /* MAS -> node, version 3, answer to both */
	_WIRE_MSG_MAX,
};

enum wire_method {
	WIRE_METHOD_PSK = 1, /* TLS-based, pre-shared long-term key Km in the TPM */
	WIRE_METHOD_PKI = 2, /* TLS-based, certificate with a TPM-held key */
	WIRE_METHOD_GBA = 3, /* GBA-based, Km = Ks_NAF */
	_WIRE_METHOD_MAX,
};

enum wire_error_code {
	WIRE_ERR_MALFORMED = 1,       /* undecodable or out-of-order message */
	WIRE_ERR_VERSION = 2,         /* protocol version not supported */
	WIRE_ERR_UNKNOWN_NODE = 3,    /* node ID not registered */
	WIRE_ERR_REVOKED = 4,         /* node revoked */
	WIRE_ERR_NO_METHOD = 5,       /* no method in common */
	WIRE_ERR_AUTH_FAILED = 6,     /* proof did not verify */
	WIRE_ERR_RATE_LIMITED = 7,    /* too many failures, try later */
	WIRE_ERR_UNKNOWN_KEY = 8,     /* key ID not found */
	WIRE_ERR_EXPIRED = 9,         /* association expired */
	WIRE_ERR_NOT_AUTHORISED = 10, /* requester is not the registered target */
	WIRE_ERR_INTERNAL = 11,       /* MAS-side failure (store, TPM, ...) */
	_WIRE_ERR_MAX,
};

struct wire_hello {
	char node_id[WIRE_ID_MAX + 1];
	uint8_t methods[WIRE_METHODS_MAX]; /* enum wire_method, preference order */
	size_t n_methods;
	uint8_t nonce[WIRE_NONCE_LEN]; /* Nn */
	char btid[WIRE_BTID_MAX + 1];  /* version 2, method gba: the node's B-TID; "" absent */
};

struct wire_challenge {
	uint8_t method;
	uint8_t nonce[WIRE_NONCE_LEN]; /* Nm */
};

struct wire_proof {
	uint8_t proof[WIRE_PROOF_LEN];
};

struct wire_established {
	uint8_t proof[WIRE_PROOF_LEN]; /* MAS proof */
	char key_id[WIRE_KEY_ID_MAX + 1];
	uint64_t expiry; /* seconds since the Unix epoch */
	uint8_t method;
	char suite[WIRE_SUITE_MAX + 1]; /* e.g. "TLS13-AES128-GCM-SHA256" */
};

struct wire_error {
	uint32_t code; /* enum wire_error_code */
	char reason[WIRE_REASON_MAX + 1];
};

struct wire_key_request {
	char key_id[WIRE_KEY_ID_MAX + 1];
};

struct wire_key_response {
	uint8_t key[WIRE_KEY_LEN];
	uint64_t expiry;
	char node_id[WIRE_ID_MAX + 1];
	char ae_id[WIRE_ID_MAX + 1]; /* empty for the node's own Kc */
	uint32_t suid;               /* 32: MAF-based SAEF */
};

/* Register a pairwise key for (originator AE on this node, target AE). */
struct wire_peer_register {
	uint8_t proof[WIRE_PROOF_LEN];	     /* the node proof, as in PROOF */
	char ae_id[WIRE_ID_MAX + 1];	     /* the originator AE-ID on this node */
	char target[WIRE_TARGET_MAX + 1];    /* absolute AE-ID "/<CSE-ID>/<AE-ID>" */
};

/* Resolve a pairwise key registered towards one of this node's AEs. */
struct wire_peer_resolve {
	uint8_t proof[WIRE_PROOF_LEN];
	char key_id[WIRE_KEY_ID_MAX + 1];
	bool check; /* version 4: re-validate a cached key, originator's node allowed too */
};

struct wire_peer_key {
	uint8_t proof[WIRE_PROOF_LEN];	  /* the MAS proof, as in ESTABLISHED */
	char key_id[WIRE_KEY_ID_MAX + 1]; /* hex(id)@MAS-FQDN */
	uint64_t expiry;
	uint8_t key[WIRE_KEY_LEN];
	char node_id[WIRE_ID_MAX + 1];	  /* the originator's node */
	char ae_id[WIRE_ID_MAX + 1];	  /* the originator AE-ID */
	char target[WIRE_TARGET_MAX + 1]; /* the registered target */
	uint32_t suid;			  /* 33: ESPrim */
};

struct wire_msg {
	enum wire_msg_type type;
	uint32_t version;
	union {
		struct wire_hello hello;
		struct wire_challenge challenge;
		struct wire_proof proof;
		struct wire_established established;
		struct wire_error error;
		struct wire_key_request key_request;
		struct wire_key_response key_response;
		struct wire_peer_register peer_register;
		struct wire_peer_resolve peer_resolve;
		struct wire_peer_key peer_key;
	};
};

/*
 * Encode m (m->version is ignored: WIRE_VERSION_BTID is written for a HELLO
 * with a btid, WIRE_VERSION_PEER for the PEER_* types, WIRE_VERSION for the
 * rest) as prefix + body into buf. Returns 0 and the total length in *ret_len, -EMSGSIZE if buf is too
 * small, -EINVAL for a message that would not decode (bad type, over-long string).
 */
int wire_encode(const struct wire_msg *m, uint8_t *buf, size_t buf_len, size_t *ret_len);

/*
 * Read the length prefix: returns the body length (>0), or -EMSGSIZE when it
 * exceeds WIRE_FRAME_MAX, -EBADMSG when it is zero.
 */
int wire_frame_length(const uint8_t prefix[static WIRE_PREFIX_LEN]);

/*
 * Decode one body (without prefix). Returns 0, -EBADMSG for malformed input,
 * -EPROTONOSUPPORT for a version outside WIRE_VERSION_MIN..WIRE_VERSION_MAX
 * (ret->type and ret->version are still filled so the peer can be told).
 * ret->version is the version the message was written at. A message at another
 * known version than its form's (a version 3 HELLO, a version 2 HELLO without
 * btid, a version 1 PEER_KEY) is -EBADMSG: one form per message.
 */
int wire_decode(const uint8_t *body, size_t len, struct wire_msg *ret);

void wire_msg_wipe(struct wire_msg *m);
/*
 * 1 when a and b carry the same message: type, version and the fields of that
 * type (string fields up to their terminator; key bytes compared in constant
 * time), else 0.
 */
int wire_msg_equal(const struct wire_msg *a, const struct wire_msg *b);

const char *wire_error_code_to_string(uint32_t code);
const char *wire_method_to_string(uint8_t method);
/* "psk" -> WIRE_METHOD_PSK ...; -EINVAL for unknown names. */
int wire_method_from_string(const char *s, uint8_t *ret);
const char *wire_msg_type_to_string(enum wire_msg_type t);

/*
 * Identifiers (TS-0003 10.4): 1..WIRE_ID_MAX octets of A-Z a-z 0-9 . _ - @ (and '/'
 * for CSE-IDs such as "/mn-cse-1"). Returns 1 when valid.
 */
int wire_id_valid(const char *s);
/* A B-TID as HELLO carries it: 1..255 of A-Z a-z 0-9 + / = . - with one '@' inside. 1 when valid. */
int wire_btid_valid(const char *s);

/* The version a message type is written at (WIRE_VERSION_PEER or WIRE_VERSION). */
uint32_t wire_type_version(enum wire_msg_type t);

/*
 * Split an absolute AE-ID "/<CSE-ID>/<AE-ID>" (docs/protocol.md §14) at its last
 * '/': cse gets "/<CSE-ID>" (cse_len bytes, WIRE_ID_MAX + 1 is enough), ae the
 * AE-ID (WIRE_ID_MAX + 1). -EINVAL unless target starts with '/', both parts
 * are identifiers and the AE-ID holds neither '/' nor '@'.
 */
int wire_target_split(const char *target, char *cse, char *ae);
/*
 * 1 when target's CSE part names node_id: "/mn-cse-2/..." names node "/mn-cse-2",
 * and node "mn-cse-2" too (a node ID without the leading '/'), else 0.
 */
int wire_target_names_node(const char *target, const char *node_id);
