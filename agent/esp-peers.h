/* SPDX-License-Identifier: Apache-2.0 */
/*
 * m2msad's ESP peers (docs/esp.md): for each [esp] peer it runs the ESP
 * agreement with m2msa-espd (common/esp-session.c) with the node's current Kc
 * and installs the SAs through XFRM (netlink/esp-pair.c). A new Kc brings new
 * SAs before the old are deleted (make-before-break); a soft XFRM expiry asks
 * the association manager for a rekey, a hard one re-establishes; a failure
 * retries with a backoff; esp_peers_kick() (uplink changes) re-establishes at
 * once. Start and free remove every state and policy in m2msad's reqid range.
 *
 * Each agreement blocks the loop for at most ESP_PEERS_CONNECT_MS plus a few
 * TLS round trips bounded by ESP_PEERS_IO_MS.
 */
#pragma once

#include <stdint.h>

#include "agent/agent-conf.h"
#include "agent/sa-manager.h"
#include "agent/status.h"
#include "common/esp-session.h"

#define ESP_PEERS_CONNECT_MS 3000
#define ESP_PEERS_IO_MS 5000
#define ESP_PEERS_RETRY_MIN_MS 2000
#define ESP_PEERS_RETRY_MAX_MS 60000
#define ESP_PEERS_ERR_MAX 256

struct loop;
struct esp_peers;

enum esp_peer_state {
	ESP_PEER_WAITING, /* no valid Kc yet */
	ESP_PEER_UP,      /* SAs installed */
	ESP_PEER_RETRY,   /* the last attempt failed; retrying */
	_ESP_PEER_STATE_MAX,
};

/* A view of one peer for the status file (no keys). */
struct esp_peer_status {
	const char *address;
	enum esp_peer_state state;
	struct esp_selectors sel;
	uint32_t reqid;
	uint32_t spi_in;
	uint32_t spi_out;
	uint64_t expiry; /* the SAs' hard expiry (Kc's), epoch seconds; 0 when not up */
	const char *last_error;
};

/*
 * peers and sam are borrowed (they must outlive the result). Opens XFRM and
 * the expiry monitor in loop and removes stale states of an earlier m2msad.
 */
int esp_peers_new(const struct agent_esp_peers *peers, struct sa_manager *sam, struct loop *loop,
		  struct esp_peers **ret);
/* Remove every state and policy m2msad installed; NULL is fine. */
void esp_peers_free(struct esp_peers *e);

/* After each loop iteration: a new Kc (or the first one) sets up new SAs. */
void esp_peers_tick(struct esp_peers *e);
/* Re-establish every peer now (the uplink came back or changed address). */
void esp_peers_kick(struct esp_peers *e, const char *why);

size_t esp_peers_count(const struct esp_peers *e);
/* Add the peers to st (at most AGENT_STATUS_ESP_MAX; errors shortened). NULL e: none. */
void esp_peers_fill_status(const struct esp_peers *e, struct agent_status *st);
/* Whether anything shown in the status changed since the last call. */
bool esp_peers_take_changed(struct esp_peers *e);
int esp_peers_status(const struct esp_peers *e, size_t i, struct esp_peer_status *ret);
const char *esp_peer_state_to_string(enum esp_peer_state s);
