/* SPDX-License-Identifier: Apache-2.0 */
/*
 * [esp] peer = ... lines of m2msad.conf (docs/m2msad.conf.md): each adds one
 * m2msa-espd to set up ESP with:
 *
 *   peer = HOST:PORT [mode=transport|tunnel] [proto=any|tcp|udp|sctp|icmp|N]
 *                    [node_port=N] [target_port=N]
 *
 * Defaults: transport, whole host (proto any). Ports need tcp, udp or sctp.
 */
#pragma once

#include <stddef.h>

#include "common/esp-wire.h"

#define AGENT_ESP_PEERS_MAX 16

struct agent_esp_peer {
	char *address; /* HOST:PORT of m2msa-espd */
	struct esp_selectors sel;
};

struct agent_esp_peers {
	struct agent_esp_peer *v;
	size_t n;
};

/* conf_parse_fn: dst is a struct agent_esp_peers; the peer is appended. */
int agent_esp_peer_parse(const char *value, void *dst, char *err, size_t err_len);
void agent_esp_peers_free(struct agent_esp_peers *p);
