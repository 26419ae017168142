/* SPDX-License-Identifier: Apache-2.0 */
/*
 * m2msa-espd's --allow rules: which selectors a node may ask for. A rule is
 * "any" (whole host, any protocol), a protocol ("tcp", "udp", "sctp", or a
 * number 1..255) for all its ports, or "PROTO/PORT" for one target port
 * (tcp, udp or sctp only). No rule at all allows everything valid.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/esp-wire.h"

#define ESPD_ALLOW_MAX 32

struct espd_allow_rule {
	bool any;
	uint8_t proto;
	uint16_t target_port; /* 0: every port of proto */
};

struct espd_allow {
	struct espd_allow_rule rules[ESPD_ALLOW_MAX];
	size_t n;
};

/* Add one rule from its text; -EINVAL (err says why) or -E2BIG. */
int espd_allow_add(struct espd_allow *a, const char *spec, char *err, size_t err_len);

/*
 * Whether sel is allowed. A node asking for the whole host (proto 0) needs
 * "any"; one asking for a protocol needs "any", that protocol, or (with a
 * target port) PROTO/that port. node_port is the node's business.
 */
bool espd_allow_match(const struct espd_allow *a, const struct esp_selectors *sel);
