/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libm2msa: the keys of the m2msa agent (m2msad) for local AEs and CSEs.
 *
 * An application on the gateway opens a handle on the agent's Unix socket, asks
 * for its key (the node's Kc for the CSE, or its per-AE key), and may subscribe
 * to be told about every new key, expiry and revocation. It uses the key as a
 * TLS 1.3 external PSK towards the IN-CSE, with the key ID as PSK identity.
 * The agent decides who may ask for which key (clients.d: by uid and group).
 *
 *   struct m2msa *h;
 *   struct m2msa_key *k;
 *   if (m2msa_open(NULL, &h) == 0 && m2msa_get_key(h, "Cae1", &k) == 0) {
 *           use(m2msa_key_id(k), m2msa_key_data(k), m2msa_key_len(k));
 *           m2msa_key_free(k);            // wipes the key bytes
 *   }
 *   m2msa_close(h);
 *
 * Build with: cc app.c $(pkg-config --cflags --libs m2msa)
 *
 * Conventions: functions return 0 (or a non-negative value) on success and a
 * negative errno value on failure; output parameters (ret_*) are written only on
 * success. The library never prints and never exits. Every fd it opens is
 * close-on-exec. A handle is not thread-safe: use one handle per thread (handles
 * are independent). Reference: docs/libm2msa.md.
 */
#ifndef M2MSA_M2MSA_H
#define M2MSA_M2MSA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The agent's socket when m2msa_open() gets NULL and $M2MSA_SOCKET is not set. */
#define M2MSA_SOCKET_DEFAULT "/run/m2msa/agent.sock"
/* Bytes in a key. */
#define M2MSA_KEY_LEN 32
/* How long a request waits for the agent unless m2msa_set_timeout() says otherwise. */
#define M2MSA_TIMEOUT_DEFAULT_MS 30000

/* A connection to the agent. Opaque. */
struct m2msa;
/* A key with its ID, expiry and suite. Opaque; m2msa_key_free() wipes it. */
struct m2msa_key;

enum m2msa_event_type {
	M2MSA_EVENT_NEW_KEY = 1,     /* a new key: switch to it (the old one works until it expires) */
	M2MSA_EVENT_EXPIRED = 2,     /* the key with this ID expired (no key bytes) */
	M2MSA_EVENT_REVOKED = 3,     /* the key with this ID must no longer be used (no key bytes) */
	M2MSA_EVENT_RECONNECTED = 4, /* the agent restarted; subscriptions are restored: get the key again */
};

/*
 * Connect to the agent at socket_path; NULL means $M2MSA_SOCKET if set, else
 * M2MSA_SOCKET_DEFAULT. Errors: -ENOENT or -ECONNREFUSED (the agent is not
 * running), -EACCES (not allowed to open the socket: is the user in group
 * m2msa?), -ENAMETOOLONG, -ENOMEM.
 */
int m2msa_open(const char *socket_path, struct m2msa **ret);

/* Disconnect and free everything, wiping keys still queued in events. NULL is fine. */
void m2msa_close(struct m2msa *h);

/* How long m2msa_get_key() and the other requests wait for the agent (ms, > 0). -EINVAL otherwise. */
int m2msa_set_timeout(struct m2msa *h, int timeout_ms);

/*
 * Get the current key: ae_id NULL or "" for the node's CSE (Kc), else the per-AE
 * key of that AE-ID. If the node holds no key yet, the agent establishes one and
 * answers when that completes or fails. Reconnects once if the agent restarted.
 * Errors: -EACCES (clients.d does not allow this uid to act as ae_id), -ENOKEY
 * (establishment with the MAS failed), -EINVAL (bad AE-ID), -ETIMEDOUT,
 * -ECONNREFUSED / -ENOENT (the agent is not running), -EBADMSG, -EBUSY.
 * Free *ret with m2msa_key_free().
 */
int m2msa_get_key(struct m2msa *h, const char *ae_id, struct m2msa_key **ret);

/*
 * Subscribe to the keys of ae_id (NULL or "": the CSE): from now on the agent
 * pushes every new key, expiry and revocation; read them with m2msa_read_event().
 * At most 8 subscriptions per handle. Errors as m2msa_get_key(), and -ENOSPC.
 */
int m2msa_subscribe(struct m2msa *h, const char *ae_id);

/*
 * A file descriptor for poll/epoll/select in the application's own loop: it is
 * readable when m2msa_read_event() has something. It stays the same across
 * reconnects. Do not read from it or close it.
 */
int m2msa_fd(const struct m2msa *h);

/*
 * Take the next event without blocking. On success *ret_type is set and, when
 * ret_key is not NULL, *ret_key gets the event's key object (NEW_KEY: with key
 * bytes; EXPIRED/REVOKED: ID and expiry only, m2msa_key_len() 0; RECONNECTED:
 * NULL), to be freed with m2msa_key_free(). Returns -EAGAIN when there is none
 * yet (also while the agent is down: the library retries the connection every
 * 500 ms and reports M2MSA_EVENT_RECONNECTED when it is back).
 */
int m2msa_read_event(struct m2msa *h, enum m2msa_event_type *ret_type, struct m2msa_key **ret_key);

/* Ask the agent to rekey now (administrators only: -EACCES otherwise). */
int m2msa_rekey(struct m2msa *h);

/*
 * The agent's status as one JSON object (the format of m2msactl status --json);
 * administrators only. free() *ret_json.
 */
int m2msa_status(struct m2msa *h, char **ret_json);

/* The agent's reason for the last failed request ("" if none). Valid until the next call. */
const char *m2msa_last_error(const struct m2msa *h);

/* The key ID: the TLS PSK identity ("hex(KcID)@FQDN" or "hex(KcID)-AE-ID@FQDN"). */
const char *m2msa_key_id(const struct m2msa_key *k);
/* The key bytes (m2msa_key_len() of them), or NULL for EXPIRED/REVOKED events. */
const uint8_t *m2msa_key_data(const struct m2msa_key *k);
/* M2MSA_KEY_LEN, or 0 for EXPIRED/REVOKED events. */
size_t m2msa_key_len(const struct m2msa_key *k);
/* Expiry in seconds since the Unix epoch. */
uint64_t m2msa_key_expiry(const struct m2msa_key *k);
/* The AE-ID the key belongs to; "" for the node's CSE. */
const char *m2msa_key_ae_id(const struct m2msa_key *k);
/* The TLS suite to use with it, e.g. "TLS13-AES128-GCM-SHA256". */
const char *m2msa_key_suite(const struct m2msa_key *k);
/*
 * End-to-end keys between AEs on different nodes (since 1.1, symbol version
 * M2MSA_1.1; docs/libm2msa.md "End-to-end keys").
 *
 * Get a pairwise key for the local AE ae_id (the originator) towards target, an
 * absolute AE-ID "/<CSE-ID>/<AE-ID>" of an AE on another node. The agent
 * registers it with the MAS (or reuses its cached registration of the same pair
 * while it has more than a minute left). m2msa_key_id() is "hex(id)@MAS-FQDN":
 * send it with the protected message. Errors: -EACCES (clients.d does not allow
 * this uid to act as ae_id), -EINVAL (bad AE-ID or target), -ENOKEY (the MAS
 * refused: see m2msa_last_error(), e.g. no node for the target's CSE-ID, or the
 * MAS does not offer end-to-end keys), -ETIMEDOUT, -EBUSY, and as m2msa_get_key().
 */
int m2msa_get_peer_key(struct m2msa *h, const char *ae_id, const char *target,
		       struct m2msa_key **ret);
/*
 * Resolve key_id, received with a message, for the local AE ae_id (the target).
 * The MAS gives it only to the node its target's CSE-ID names, and the agent only
 * to a client that may act as the target's AE-ID, which must be ae_id. Cached on
 * the agent until expiry. Errors: -EACCES (clients.d, or the key is registered for
 * another AE or another node), -ENOKEY (unknown key ID), -EKEYEXPIRED,
 * -EKEYREVOKED, -EINVAL, -ETIMEDOUT.
 */
int m2msa_resolve_key(struct m2msa *h, const char *ae_id, const char *key_id,
		      struct m2msa_key **ret);
/* A pairwise key's registered target (absolute AE-ID); "" for other keys. */
const char *m2msa_key_target(const struct m2msa_key *k);
/* A pairwise key's originator node (CSE-ID; its AE is m2msa_key_ae_id()); "" for other keys. */
const char *m2msa_key_node_id(const struct m2msa_key *k);

/*
 * Sealed messages with a pairwise key (since 1.1; docs/libm2msa.md "Sealed
 * messages"): JWE compact serialization, "alg" "dir", "enc" "A256GCM", "kid" the
 * key ID, the content key a per-message sessionESPrimKey (TS-0003 §10.3.8.2)
 * from two 16-byte random objects carried in the protected header: "ro", the
 * originator's, fresh for each request; "rr", the receiver's, fresh for each
 * message. A response carries its request's "ro".
 *
 * Replay: the receiver remembers every request's "ro" until the key expires
 * (struct m2msa_replay) and refuses a second request with it (-EALREADY); the
 * originator accepts only a response that carries its request's "ro" with another
 * "rr" (-EALREADY otherwise). Parsing is strict; any change to header, IV,
 * ciphertext or tag gives -EBADMSG; a JWE for another key -ENOKEY; an expired key
 * -EKEYEXPIRED. Free opened messages with m2msa_free_message() (it wipes them).
 */
#define M2MSA_RAND_LEN 16
#define M2MSA_TOKEN_LEN 32 /* a request's ro || rr, to open its response */
struct m2msa_replay;
/* A replay cache for up to max_entries live requests; when full, -ENOSPC (never forgets early). */
int m2msa_replay_new(size_t max_entries, struct m2msa_replay **ret);
void m2msa_replay_free(struct m2msa_replay *rp);
/* The "kid" of a JWE (the key ID to resolve) into buf. -EBADMSG if it is not one. */
int m2msa_jwe_kid(const char *jwe, char *buf, size_t buf_len);
/* Originator: seal a request (free() *ret_jwe); keep *ret_token to open the response. */
int m2msa_seal_request(const struct m2msa_key *k, const void *msg, size_t len, char **ret_jwe,
		       uint8_t ret_token[M2MSA_TOKEN_LEN]);
/* Receiver: open a request; *ret_ro identifies it for the response. */
int m2msa_open_request(struct m2msa_replay *rp, const struct m2msa_key *k, const char *jwe,
		       uint8_t **ret_msg, size_t *ret_len, uint8_t ret_ro[M2MSA_RAND_LEN]);
/* Receiver: seal the response to the request ro. */
int m2msa_seal_response(const struct m2msa_key *k, const uint8_t ro[M2MSA_RAND_LEN],
			const void *msg, size_t len, char **ret_jwe);
/* Originator: open the response to the request token. */
int m2msa_open_response(const struct m2msa_key *k, const uint8_t token[M2MSA_TOKEN_LEN],
			const char *jwe, uint8_t **ret_msg, size_t *ret_len);
/* Wipe and free an opened message. NULL is fine. */
void m2msa_free_message(void *msg, size_t len);

/* Wipe the key bytes and free. NULL is fine. */
void m2msa_key_free(struct m2msa_key *k);

#ifdef __cplusplus
}
#endif

#endif /* M2MSA_M2MSA_H */
