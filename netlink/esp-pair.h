/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The XFRM implementation of struct esp_kernel_ops (common/esp-session.h): an
 * agreed pair becomes two rfc4106(gcm(aes)) states (inbound filled into the
 * SPI the kernel allocated) and two required policies, through
 * netlink/esp-xfrm.h. Also the removal of a pair's states and policies.
 */
#pragma once

#include "common/esp-session.h"
#include "netlink/esp-xfrm.h"

/* ops_userdata must be a struct nl_xfrm *. */
extern const struct esp_kernel_ops nl_esp_pair_ops;

/* The two states of p, as they are installed (keys from p). */
int nl_esp_pair_states(const struct esp_pair *p, struct nl_xfrm_state *ret_in,
		       struct nl_xfrm_state *ret_out);

/* Install p: inbound state (update), outbound state, in and out policies. */
int nl_esp_pair_install(struct nl_xfrm *x, const struct esp_pair *p);

/* Delete p's two states (not the policies: a successor pair shares them). */
int nl_esp_pair_delete_states(struct nl_xfrm *x, const struct esp_pair *p);

/* Delete p's two policies (the peer is gone for good). */
int nl_esp_pair_delete_policies(struct nl_xfrm *x, const struct esp_pair *p);
