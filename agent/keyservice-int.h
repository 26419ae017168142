/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Inside the local key service (agent/keyservice.h), shared by its three files:
 * keyservice.c (setup, requests, keys and the association manager's events),
 * keyservice-conn.c (the listener and each client connection: reading, queued
 * sending, limits) and keyservice-peer.c (end-to-end key requests and their
 * events, docs/protocol.md §14). Nothing outside those files includes it.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/un.h>

#include "agent/clients.h"
#include "agent/keyservice.h"
#include "agent/peer-keys.h"
#include "common/local-wire.h"
#include "common/log-throttle.h"
#include "common/loop.h"
#include "common/util.h"
#include "common/wire.h"

#define KS_SUBS_MAX 8     /* subscriptions per connection */
#define KS_PENDING_MAX 16 /* get-key requests waiting for an establishment */
#define KS_OUT_MAX 64     /* queued messages before a non-reading client is dropped */
#define KS_LOG_PER_S 10   /* refusal and denial lines a second before they are only counted */
#define KS_IDLE_CHECK_MS 1000

/* One request bound to an AE-ID ("" for the node's CSE). */
struct ks_ref {
	uint32_t req;
	char ae_id[WIRE_ID_MAX + 1];
};

/* An encoded message that did not fit into the socket yet (may hold a key: wiped). */
struct ks_out {
	struct ks_out *next;
	size_t len;
	uint8_t buf[];
};

struct ks_client {
	struct ks_client *prev, *next;
	struct keyservice *ks;
	int fd;
	struct clients_peer peer;
	struct ks_ref subs[KS_SUBS_MAX];
	size_t n_subs;
	struct ks_ref pending[KS_PENDING_MAX];
	size_t n_pending;
	struct ks_ref peer_pending[KS_PENDING_MAX]; /* get-peer-key, resolve-key (ae_id: the AE) */
	bool peer_is_resolve[KS_PENDING_MAX];
	size_t n_peer_pending;
	struct ks_out *out_head, *out_tail;
	size_t n_out;
	struct loop_watch *watch;
	uint32_t epoll_events;
	uint64_t last_ms;  /* last request (or the connect) */
	unsigned denials;  /* denied requests so far */
	bool dead; /* closed at the end of keyservice_process() */
};

/* A derived per-AE key, so repeated get-keys skip the KDF and the key ID formatting. */
#define KS_CACHE_MAX 32
struct ks_cache_entry {
	char assoc_id[WIRE_KEY_ID_MAX + 1]; /* the node key ID it was derived under; "" = free */
	char ae_id[WIRE_ID_MAX + 1];
	char key_id[WIRE_KEY_ID_MAX + 1];
	uint8_t key[LOCAL_WIRE_KEY_LEN];
};

struct keyservice {
	struct loop *loop; /* the agent's: the listener and every client are in it */
	int listen_fd;
	struct loop_watch *listen_watch;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t dev;
	ino_t ino;
	struct sa_manager *sam;
	keyservice_status_fn status_hook; /* m2msad's additions to the status (ESP) */
	void *status_hook_userdata;
	struct clients *clients;
	struct ks_client *head;
	size_t n_clients;
	struct ks_cache_entry *cache; /* KS_CACHE_MAX entries, mlocked, wiped when dropped */
	size_t cache_next;
	struct loop_watch *idle_timer;
	uint64_t idle_ms;
	uint32_t per_uid;
	struct log_throttle log; /* ks_log_ok() */
	struct peer_keys *peers; /* end-to-end keys (docs/protocol.md §14) */
};

/* ---- keyservice-conn.c ---- */

/* CLOCK_MONOTONIC in milliseconds. */
uint64_t ks_now_ms(void);
/* May one more line about a refused connection or a denied request be logged? */
bool ks_log_ok(struct keyservice *ks);
/* Close and free one client now (keyservice_reap() frees those marked dead). */
void ks_client_free(struct keyservice *ks, struct ks_client *c);
/* Send one message now, or queue it behind those already waiting. */
void ks_client_send(struct keyservice *ks, struct ks_client *c, const struct local_msg *m);
/* Send an ERROR with code and a formatted reason for request req. */
void ks_send_error(struct keyservice *ks, struct ks_client *c, uint32_t req, uint32_t code,
		   const char *fmt, ...) _printf_(5, 6);
/* A request that breaks the protocol: answer with an error, then close. */
void ks_protocol_error(struct keyservice *ks, struct ks_client *c, uint32_t req, uint32_t code,
		       const char *what);
/* The listening socket's and the idle timer's loop callbacks. */
void ks_on_listener(struct loop_watch *w, int listen_fd, uint32_t events, void *userdata);
void ks_on_idle_timer(struct loop_watch *w, bool clock_set, void *userdata);

/* ---- keyservice.c ---- */

/* One received message of c's: decode, check, authorise and answer it. */
void ks_on_message(struct keyservice *ks, struct ks_client *c, const uint8_t *buf, size_t len);

/* ---- keyservice-peer.c ---- */

/* A get-peer-key or resolve-key request (already authorised to act as m->ae_id). */
void ks_on_peer_request(struct keyservice *ks, struct ks_client *c, const struct local_msg *m);
/* peer_keys' answer to one of those requests (owner: the client). */
void ks_on_peer_answer(void *owner, uint32_t req, int r, const struct peer_key_view *k,
		       const char *reason, void *userdata);
/* A cached pairwise key was revoked or expired: tell the subscribers of its AE. */
void ks_on_peer_event(enum peer_keys_event ev, const struct peer_key_view *k, void *userdata);
