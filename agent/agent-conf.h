/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node side's configuration: /etc/m2msa/m2msad.conf plus m2msad.conf.d/NAME.conf,
 * read by m2msad and by `m2msactl establish`. Every key is in docs/m2msad.conf.md.
 *
 *   [node]
 *   node_id = /mn-cse-1          CSE-ID; default: the one recorded at provisioning
 *   state_dir = /var/lib/m2msa   where km.pub / km.priv live
 *   tcti = device:/dev/tpmrm0
 *   methods = psk                offered in this order
 *   [mas]
 *   address = mas1.example.net:5683, mas2.example.net:5683   (required; one or
 *                                    more MAS instances, tried in this order)
 *   ca = /etc/m2msa/mas-ca.crt       CA that signed the MAS certificate (required)
 *   server_name = mas.example.net    name the MAS certificate must carry (required)
 *   timeout = 10s
 *   [agent]                      (m2msad only)
 *   status_file = /run/m2msa/status.json
 *   uplink = eth0                (unset: any non-loopback link)
 *   backoff_min = 1s
 *   backoff_max = 5m
 *   socket = /run/m2msa/agent.sock       (parsed now; used by the local key service)
 *   clients_dir = /etc/m2msa/clients.d   (parsed now; used by the local key service)
 *   [gba]                        method gba (required when methods has gba)
 *   bsf_url = https://bsf.example.net:8443/   Ub of the BSF
 *   bsf_ca = /etc/m2msa/bsf-ca.crt            CA of the BSF certificate (pinned)
 *   usim = tpm                   tpm (K in the TPM, state_dir/usim.*) or pcsc
 *   reader = ...                 pcsc: the PC/SC reader (unset: the first with a card)
 *   impi = ...                   override the USIM's IMPI
 *   timeout = 10s                per Ub request
 *   [esp]                        (m2msad only; repeatable, agent/esp-conf.h)
 *   peer = incse.example.net:4500 proto=tcp target_port=443
 *   [log]
 *   level = info
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "agent/esp-conf.h"
#include "common/err.h"
#include "common/wire.h"

#define AGENT_CONF_DEFAULT "/etc/m2msa/m2msad.conf"
#define AGENT_CONF_STATUS_FILE_DEFAULT "/run/m2msa/status.json"
#define AGENT_CONF_SOCKET_DEFAULT "/run/m2msa/agent.sock"
#define AGENT_CONF_CLIENTS_DIR_DEFAULT "/etc/m2msa/clients.d"
#define AGENT_CONF_MAS_MAX 8

struct agent_conf {
	char *node_id;
	char *state_dir;
	char *tcti;
	uint8_t methods[WIRE_METHODS_MAX];
	size_t n_methods;
	char *mas_address; /* as written: one or more host:port, for messages */
	char *mas_addresses[AGENT_CONF_MAS_MAX]; /* each endpoint, in order */
	size_t n_mas_addresses;
	char *mas_ca;
	char *server_name;
	uint64_t timeout;
	char *log_level;
	/* [agent] */
	char *status_file;
	char *uplink; /* NULL: any non-loopback link */
	uint64_t backoff_min; /* seconds */
	uint64_t backoff_max;
	char *socket_path;
	char *clients_dir;
	uint64_t client_idle_timeout; /* seconds; a client with nothing pending is closed */
	uint32_t clients_per_uid;     /* open key service connections per uid (not root) */
	uint64_t peer_check_interval; /* seconds between re-validations of a cached pairwise key */
	/* [gba] */
	char *gba_bsf_url;
	char *gba_bsf_ca;
	char *gba_usim; /* "tpm" or "pcsc" */
	char *gba_reader;
	char *gba_impi;
	uint64_t gba_timeout; /* seconds */
	/* [esp] (m2msad only; read at start, not on reload) */
	struct agent_esp_peers esp_peers;
};

/*
 * Whether a failed establishment at one MAS endpoint may succeed at the next:
 * yes for an unreachable, silent, overloaded or failing instance; no when the
 * answer is about the node itself (unknown, revoked, wrong Km, no common method).
 */
bool agent_conf_failover_helps(int r);

/* Defaults, then path and "<path>.d/". Checks required keys and value syntax. */
int agent_conf_load(const char *path, struct agent_conf *ret, struct m2msa_err *err);
/* Free c's strings (c itself is the caller's: _cleanup_(agent_conf_free) on the stack works). */
void agent_conf_free(struct agent_conf *c);
/* A heap-allocated conf: its strings, then itself. */
static inline void agent_conf_freep(struct agent_conf **c)
{
	if (*c) {
		agent_conf_free(*c);
		free(*c);
	}
}
/* True when c offers method (WIRE_METHOD_*). */
bool agent_conf_offers(const struct agent_conf *c, uint8_t method);
/* conf_parse_fn for a comma-separated method list into struct agent_conf's methods. */
int agent_conf_parse_methods(const char *value, void *dst, char *err, size_t err_len);
