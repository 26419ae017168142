/* SPDX-License-Identifier: Apache-2.0 */
/* An agreed ESP pair (common/esp-session.h) installed as XFRM states and policies. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/secret.h"
#include "netlink/esp-pair.h"

static int alloc_spi(void *userdata, const char *src, const char *dst, uint32_t reqid,
		     uint32_t *ret_spi)
{
	return nl_xfrm_alloc_spi(userdata, src, dst, reqid, ret_spi);
}

static int install(void *userdata, const struct esp_pair *p)
{
	return nl_esp_pair_install(userdata, p);
}

const struct esp_kernel_ops nl_esp_pair_ops = {
	.alloc_spi = alloc_spi,
	.install = install,
};

int nl_esp_pair_states(const struct esp_pair *p, struct nl_xfrm_state *ret_in,
		       struct nl_xfrm_state *ret_out)
{
	uint16_t local_port = p->node_side ? p->sel.node_port : p->sel.target_port;
	uint16_t peer_port = p->node_side ? p->sel.target_port : p->sel.node_port;
	enum nl_xfrm_mode mode = p->sel.mode == ESP_MODE_TUNNEL ? NL_XFRM_MODE_TUNNEL
								: NL_XFRM_MODE_TRANSPORT;
	struct nl_xfrm_state in = { .spi = p->spi_in, .reqid = p->reqid, .mode = mode,
				    .sel = { .proto = p->sel.proto, .sport = peer_port,
					     .dport = local_port },
				    .soft_s = p->soft_s, .hard_s = p->hard_s };
	struct nl_xfrm_state out = in;

	if (!esp_selectors_valid(&p->sel))
		return -EINVAL;
	out.spi = p->spi_out;
	out.sel.sport = local_port;
	out.sel.dport = peer_port;
	if (snprintf(in.src, sizeof(in.src), "%s", p->peer) >= (int)sizeof(in.src) ||
	    snprintf(in.dst, sizeof(in.dst), "%s", p->local) >= (int)sizeof(in.dst))
		return -EINVAL;
	snprintf(out.src, sizeof(out.src), "%s", p->local);
	snprintf(out.dst, sizeof(out.dst), "%s", p->peer);
	_Static_assert(sizeof(in.key) == sizeof(p->key_in), "ESP key sizes match");
	memcpy(in.key, p->key_in, sizeof(in.key));
	memcpy(out.key, p->key_out, sizeof(out.key));
	*ret_in = in;
	*ret_out = out;
	secret_wipe(&in, sizeof(in));
	secret_wipe(&out, sizeof(out));
	return 0;
}

int nl_esp_pair_install(struct nl_xfrm *x, const struct esp_pair *p)
{
	struct nl_xfrm_state in, out;
	int r;

	r = nl_esp_pair_states(p, &in, &out);
	if (r < 0)
		return r;
	/* Inbound first: the peer may send as soon as its outbound state exists. */
	r = nl_xfrm_state_add(x, &in, true);
	if (r == 0) {
		r = nl_xfrm_state_add(x, &out, false);
		if (r < 0)
			(void)nl_xfrm_state_del(x, in.dst, in.spi);
	}
	if (r == 0)
		r = nl_xfrm_policy_add(x, NL_XFRM_DIR_IN, &in);
	if (r == 0)
		r = nl_xfrm_policy_add(x, NL_XFRM_DIR_OUT, &out);
	if (r < 0) {
		(void)nl_xfrm_state_del(x, in.dst, in.spi);
		(void)nl_xfrm_state_del(x, out.dst, out.spi);
	}
	secret_wipe(&in, sizeof(in));
	secret_wipe(&out, sizeof(out));
	return r;
}

int nl_esp_pair_delete_states(struct nl_xfrm *x, const struct esp_pair *p)
{
	int a = nl_xfrm_state_del(x, p->local, p->spi_in);
	int b = nl_xfrm_state_del(x, p->peer, p->spi_out);

	if (a < 0 && a != -ENOENT)
		return a;
	return b < 0 && b != -ENOENT ? b : 0;
}

int nl_esp_pair_delete_policies(struct nl_xfrm *x, const struct esp_pair *p)
{
	struct nl_xfrm_state in, out;
	int a, b, r;

	r = nl_esp_pair_states(p, &in, &out);
	if (r < 0)
		return r;
	a = nl_xfrm_policy_del(x, NL_XFRM_DIR_IN, &in);
	b = nl_xfrm_policy_del(x, NL_XFRM_DIR_OUT, &out);
	secret_wipe(&in, sizeof(in));
	secret_wipe(&out, sizeof(out));
	if (a < 0 && a != -ENOENT)
		return a;
	return b < 0 && b != -ENOENT ? b : 0;
}
