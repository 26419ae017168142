/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The association state machine of m2msad (docs/m2msad.md "The association state
 * machine", docs/architecture.md "The event loops"): one slot "current" and one
 * "next" (the successor during make-before-break), states
 *
 *   idle -> establishing -> established -> rekeying -> established ...
 *                 \               \            \
 *                  +--> backoff <--+------------+   (on failure; retried, never given up)
 *
 * Rekey at issue + lifetime * U(0.75, 0.85). A successful rekey puts the new
 * key in "next"; "current" stays usable until its own expiry, then "next" is
 * promoted. A key that expires without a successor is dropped (wiped) and the
 * node establishes again. Keys are struct secret (mlocked, wiped when dropped).
 *
 * The manager owns the node's credentials (agent/node-creds.h: the TPM, Km for
 * psk; for pki the signing key of state_dir/node.crt, which signs the TLS
 * CertificateVerify; the TLS client context) and the one establishment in
 * flight (establish_op). Method pki reads
 * node.crt and the signing key again before the next attempt after a failure and
 * after a reload; while node.crt is missing it fails each attempt with a message
 * naming the file and the enrolment steps, and backs off. The manager puts the
 * exchange's fd and two timers into the daemon's loop (common/loop.h):
 * monotonic deadlines (exchange timeout, backoff retry) and wall-clock instants
 * (rekey, expiries: the MAS gives expiry as epoch seconds). Every handler
 * re-checks against the clocks, so a wall-clock jump never leaves a key in use
 * past its expiry.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "agent/agent-conf.h"
#include "agent/status.h"
#include "common/util.h"

struct loop;

struct sa_manager;

/*
 * conf is borrowed and must stay valid until sa_manager_reconfigure() or _free();
 * loop too, until _free().
 */
int sa_manager_new(const struct agent_conf *conf, uint64_t seed, struct loop *loop,
		   struct sa_manager **ret);
/* Abort any exchange, wipe every key, close the TPM; NULL is fine. */
void sa_manager_free(struct sa_manager *m);
DEFINE_CLEANUP(struct sa_manager *, sa_manager_free)

/* Leave idle: begin the first establishment now. */
void sa_manager_start(struct sa_manager *m);

/*
 * The uplink came back or gained an address: if waiting out a backoff, or if
 * an exchange is in flight over the old path, (re)start it now.
 */
void sa_manager_kick(struct sa_manager *m, const char *why);

/*
 * Switch to new_conf (the caller frees the old one afterwards). If the node,
 * TPM or MAS settings changed, drop the associations and establish again;
 * otherwise keep them and take the new timing settings.
 */
void sa_manager_reconfigure(struct sa_manager *m, const struct agent_conf *new_conf);

/* True once after every change worth a status update. */
bool sa_manager_take_changed(struct sa_manager *m);

/*
 * Events for the local key service (agent/keyservice.c). The handler runs inside
 * the sa_manager_* call that caused the event and must not call back into the
 * manager except sa_manager_get_key() and sa_manager_status().
 */
enum sa_manager_event_type {
	SA_MANAGER_EVENT_NEW_KEY, /* key: a new association (kc, ae_root set) */
	SA_MANAGER_EVENT_EXPIRED, /* key: expired (key_id, expiry only) */
	SA_MANAGER_EVENT_DROPPED, /* key: dropped before expiry (reconfiguration) */
	SA_MANAGER_EVENT_FAILED,  /* reason: an establishment or rekey attempt failed */
	_SA_MANAGER_EVENT_MAX,
};

/* A view of one association; pointers borrowed from the manager. */
struct sa_manager_key {
	const char *key_id;
	const uint8_t *kc;      /* 32 bytes; NULL in EXPIRED/DROPPED events */
	const uint8_t *ae_root; /* 32 bytes; NULL in EXPIRED/DROPPED events */
	uint64_t expiry;        /* epoch seconds */
	const char *suite;
};

struct sa_manager_event {
	enum sa_manager_event_type type;
	struct sa_manager_key key;
	const char *reason;
};

typedef void (*sa_manager_event_fn)(const struct sa_manager_event *ev, void *userdata);
void sa_manager_set_event_handler(struct sa_manager *m, sa_manager_event_fn fn, void *userdata);

/*
 * The newest valid key (the successor during make-before-break). Returns 0, or
 * -ENOKEY when the node holds no valid key. The pointers stay valid until the
 * next sa_manager_* call other than the getters.
 */
int sa_manager_get_key(const struct sa_manager *m, struct sa_manager_key *ret);
/*
 * A local client wants a key: if the node holds none and no exchange is in
 * flight, establish now (also cutting a backoff short). Returns true when an
 * exchange is in flight afterwards.
 */
bool sa_manager_want_key(struct sa_manager *m);
/* An administrator asked for a rekey: start an exchange now unless one is in flight. */
void sa_manager_rekey(struct sa_manager *m, const char *why);

/*
 * Start an end-to-end request (docs/protocol.md §14) with the node's credentials
 * and MAS settings: an establish_op carrying req (PEER_REGISTER or PEER_RESOLVE),
 * independent of the association state. *ret_timeout_ms is the per-step timeout.
 * 0, or -errno with err naming the fix.
 */
struct establish_op;
struct wire_msg;
int sa_manager_peer_op_new(struct sa_manager *m, const struct wire_msg *req,
			   struct establish_op **ret, int *ret_timeout_ms, struct m2msa_err *err);
/*
 * An end-to-end request ended with err: when the MAS refused a gba proof
 * (auth-failed or rate-limited), rekey now (at most once a minute) so that the
 * establishment path finds out whether Ks_NAF is still good and bootstraps
 * again under its own backoff if not.
 */
void sa_manager_peer_op_failed(struct sa_manager *m, const struct m2msa_err *err);
/* The node's ID ("" while unknown). */
const char *sa_manager_node_id(const struct sa_manager *m);

/* Fill the status file's view (no key bytes). */
void sa_manager_status(const struct sa_manager *m, struct agent_status *ret);
/* One line in words for systemd's STATUS= and the operator. */
void sa_manager_describe(const struct sa_manager *m, char *buf, size_t buf_len);
