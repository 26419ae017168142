/* SPDX-License-Identifier: Apache-2.0 */
/*
 * m2masd's two exchanges, one decoded message in, one reply out, independent of
 * the event loop (server.c) that moves the bytes:
 *   establishment (establish.c): HELLO -> CHALLENGE, PROOF -> ESTABLISHED, or ERROR
 *     (method pki: the node was authenticated by its TLS client certificate; its
 *     CSE-ID, tls_peer_id(), must equal the HELLO's node ID);
 *   key retrieval (retrieve.c):  KEY_REQUEST -> KEY_RESPONSE, or ERROR.
 * Each handler always fills *reply and says whether the exchange goes on.
 * Replies may hold key bytes (KEY_RESPONSE): the caller wipes them.
 */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include "common/kdf.h"
#include "common/ratelimit.h"
#include "common/sa.h"
#include "common/secret.h"
#include "common/wire.h"
#include "mas/gba-cache.h"
#include "mas/metrics.h"
#include "mas/store.h"

#define MAS_FQDN_MAX 253

struct zn_client;
struct zn_key;
struct mas_gba_cache;

/* What the handlers share; owned by m2masd.c. */
struct mas_ctx {
	struct store *store;
	struct ratelimit *rl;
	char fqdn[MAS_FQDN_MAX + 1];
	_Atomic uint64_t lifetime; /* seconds, the default for nodes without their own; SIGHUP */
	bool pki;	   /* [mas] node_ca is set: client certificates verified, method pki on */
	struct zn_client *zn;	    /* [zn] configured: method gba on (with gba) */
	struct mas_gba_cache *gba; /* Ks_NAF per B-TID, sealed */
	struct mas_metrics *metrics; /* NULL: not counted */
};

/* The peer of one connection, for logs ("addr:port") and rate limiting (addr). */
struct mas_peer {
	char addr[INET6_ADDRSTRLEN];
	char name[INET6_ADDRSTRLEN + 8];
};

enum mas_est_step {
	MAS_EST_WAIT_HELLO,
	MAS_EST_WAIT_ZN, /* method gba: Ks_NAF for btid is being fetched over Zn */
	MAS_EST_WAIT_PROOF,
	MAS_EST_DONE,
	_MAS_EST_STEP_MAX,
};

/* One establishment in progress (per connection). Holds no key bytes. */
struct mas_est {
	enum mas_est_step step;
	char node_id[WIRE_ID_MAX + 1];
	char target_id[WIRE_ID_MAX + 1];
	uint64_t lifetime;
	uint8_t method;
	bool decoy; /* unknown, revoked or no method: answered like a wrong proof */
	uint8_t nn[WIRE_NONCE_LEN];
	uint8_t nm[WIRE_NONCE_LEN];
	char btid[WIRE_BTID_MAX + 1];  /* method gba: KmID */
	char impi[STORE_IMPI_MAX + 1]; /* method gba: the node's registered IMPI */
	uint64_t km_expiry;	       /* method gba: Ks_NAF expiry; associations end by then */
	/* Method gba: Ks_NAF as HELLO found it, sealed (gba-cache.h), until PROOF; wiped after. */
	bool have_ks_naf;
	uint8_t ks_naf_sealed[MAS_GBA_SEALED_LEN];
};

/* Whether the connection carries on after the reply. */
enum mas_next {
	MAS_NEXT_CONTINUE,
	MAS_NEXT_CLOSE,
	MAS_NEXT_WAIT, /* no reply yet: fetch Ks_NAF for st->btid, then mas_establish_zn_done() */
	_MAS_NEXT_MAX,
};

/* Fill reply with an ERROR message; reason is printf-style. */
void mas_reply_error(struct wire_msg *reply, enum wire_error_code code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Establishment: hand it every message of the connection in order (st starts
 * zeroed). ssl is the connection's established TLS session (for the channel
 * binding and, for pki, the node's verified certificate). Decoding failures are
 * the caller's.
 */
enum mas_next mas_establish_handle(struct mas_ctx *ctx, struct mas_est *st, WOLFSSL *ssl,
				   const struct mas_peer *peer, const struct wire_msg *msg,
				   struct wire_msg *reply);

/*
 * Method gba, after MAS_NEXT_WAIT: the Zn answer (r, key, err as zn_done_fn) for
 * st->btid. Checks that the BSF's IMPI is the node's, caches Ks_NAF, and fills
 * reply with the CHALLENGE. A B-TID unknown to the BSF or expired, or another
 * IMPI's, also gets a CHALLENGE, as a decoy (auth-failed for the PROOF, like an
 * unknown node: docs/protocol.md §5); the log says which it was. ERROR internal
 * only when the BSF could not be asked.
 */
enum mas_next mas_establish_zn_done(struct mas_ctx *ctx, struct mas_est *st,
				    const struct mas_peer *peer, int r, const struct zn_key *key,
				    const char *err, struct wire_msg *reply);

/*
 * The node proof of an exchange (psk: keyed with Km; gba: with Km = Ks_NAF; pki: the key confirmation
 * keyed with Kc from the exporter), checked in constant time; failures are
 * counted for rate limiting. Ends the exchange (st->step = DONE). On success a
 * holds the channel binding, the PRF of the MAS proof (a->prf) and, for pki, Kc;
 * otherwise reply is filled. Always mas_auth_clear() a afterwards.
 */
struct mas_auth {
	struct secret *km; /* psk: the node's Km; gba: Ks_NAF from the cache */
	struct key32 kc;   /* pki: X[16..47]; psk: derived by the caller */
	struct sa_binding b;
	struct kdf_sw_key sw;
	struct kdf_prf prf;
};
bool mas_auth_verify(struct mas_ctx *ctx, struct mas_est *st, WOLFSSL *ssl,
		     const struct mas_peer *peer, const uint8_t proof[static WIRE_PROOF_LEN],
		     struct mas_auth *a, struct wire_msg *reply);
void mas_auth_clear(struct mas_auth *a);

/*
 * End-to-end keys (docs/protocol.md §14): PEER_REGISTER or PEER_RESOLVE in place
 * of PROOF; answers PEER_KEY or ERROR and closes.
 */
enum mas_next mas_peer_handle(struct mas_ctx *ctx, struct mas_est *st, WOLFSSL *ssl,
			      const struct mas_peer *peer, const struct wire_msg *msg,
			      struct wire_msg *reply);

/* Key retrieval: the one request of a connection; ssl carries the target's certificate. */
enum mas_next mas_retrieve_handle(struct mas_ctx *ctx, WOLFSSL *ssl, const struct mas_peer *peer,
				  const struct wire_msg *msg, struct wire_msg *reply);

/* Monotonic milliseconds (rate limiting, timeouts). */
uint64_t mas_now_ms(void);
