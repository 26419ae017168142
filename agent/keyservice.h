/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The local key service of m2msad (docs/m2msad.md "Local key service",
 * docs/protocol.md "Local key service"): a SOCK_SEQPACKET socket (default
 * /run/m2msa/agent.sock, mode 0660, group m2msa) where local AEs and the CSE
 * get their keys (get-key), subscribe to new keys, expiries and revocations,
 * and administrators ask for status and rekeys. Every request is authorised by
 * the peer's SO_PEERCRED uid/gid against clients.d (agent/clients.h).
 *
 * The listening socket and every client socket are watches in the agent's loop
 * (common/loop.h); the agent calls keyservice_reap() after each batch of
 * events. Sends never
 * block: a message that does not fit is queued, and a client whose queue
 * overflows (it does not read) is disconnected.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "agent/sa-manager.h"

struct loop;

#define KEYSERVICE_GROUP "m2msa"
#define KEYSERVICE_MAX_CLIENTS 1024
#define KEYSERVICE_DENIALS_MAX 3 /* denied requests before the connection is closed */

struct keyservice;

/*
 * Create the socket at path (its folder too, mode 0755, if missing), load
 * clients_dir and watch the socket in loop (borrowed: it must outlive the
 * service). Registers itself as sam's event handler. Errors: -errno with a
 * message naming the path and the fix in err.
 */
int keyservice_new(const char *path, const char *clients_dir, struct sa_manager *sam,
		   struct loop *loop, struct keyservice **ret, struct m2msa_err *err);
/*
 * Hostile-load limits (docs/m2msad.md "Local key service"): a connection with no
 * subscription and no waiting get-key that sends nothing for idle_ms is closed;
 * a uid other than root may hold per_uid connections (0: no limit). Cached
 * pairwise keys are re-validated with the MAS every peer_check_s seconds
 * (jittered; docs/protocol.md §14.6).
 */
void keyservice_set_limits(struct keyservice *ks, uint64_t idle_ms, uint32_t per_uid,
			   uint64_t peer_check_s);
/* Disconnect every client, remove the socket (if it is still ours); NULL is fine. */
void keyservice_free(struct keyservice *ks);
DEFINE_CLEANUP(struct keyservice *, keyservice_free)

/*
 * Free the clients marked closed: call after each batch of events. (A client
 * that fails is only marked while the service may be walking its client list.)
 */
void keyservice_reap(struct keyservice *ks);

/*
 * Reload clients_dir (SIGHUP). On error the old policy stays and err says why.
 * Subscriptions the new policy no longer allows are ended with a "denied" error.
 */
int keyservice_reload(struct keyservice *ks, const char *clients_dir, struct m2msa_err *err);

/*
 * Called with the status the manager gave before it is sent to `m2msactl
 * status`, so that m2msad can add what it alone knows (ESP peers). NULL: none.
 */
typedef void (*keyservice_status_fn)(void *userdata, struct agent_status *st);
void keyservice_set_status_hook(struct keyservice *ks, keyservice_status_fn fn, void *userdata);
