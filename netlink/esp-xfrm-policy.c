/* SPDX-License-Identifier: Apache-2.0 */
/* ESP policies through libnl-xfrm, and the cleanup of everything m2msa owns. */
#include <errno.h>
#include <arpa/inet.h>
#include <linux/xfrm.h>
#include <stdlib.h>
#include <string.h>

#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/msg.h>
#include <netlink/xfrm/sa.h>
#include <netlink/xfrm/selector.h>
#include <netlink/xfrm/sp.h>
#include <netlink/xfrm/template.h>

#include "netlink/esp-xfrm-internal.h"
#include "netlink/nl-sock.h"

/* Policies m2msa installs; below the default 0 in number = checked first. */
#define XFRM_POLICY_PRIORITY 0x1000

static struct nl_addr *addr_of(int family, const xfrm_address_t *a)
{
	return nl_addr_build(family, a, family == AF_INET ? 4 : 16);
}

/* libnl selector from the kernel one (addresses are copied). */
static struct xfrmnl_sel *sel_from(const struct xfrm_selector *k)
{
	struct xfrmnl_sel *sel = xfrmnl_sel_alloc();
	struct nl_addr *s, *d;

	if (!sel)
		return NULL;
	s = addr_of(k->family, &k->saddr);
	d = addr_of(k->family, &k->daddr);
	if (!s || !d) {
		nl_addr_put(s);
		nl_addr_put(d);
		xfrmnl_sel_put(sel);
		return NULL;
	}
	nl_addr_set_prefixlen(s, k->prefixlen_s);
	nl_addr_set_prefixlen(d, k->prefixlen_d);
	xfrmnl_sel_set_saddr(sel, s);
	xfrmnl_sel_set_daddr(sel, d);
	nl_addr_put(s);
	nl_addr_put(d);
	xfrmnl_sel_set_prefixlen_s(sel, k->prefixlen_s);
	xfrmnl_sel_set_prefixlen_d(sel, k->prefixlen_d);
	xfrmnl_sel_set_family(sel, k->family);
	xfrmnl_sel_set_proto(sel, k->proto);
	xfrmnl_sel_set_sport(sel, ntohs(k->sport)); /* libnl swaps */
	xfrmnl_sel_set_sportmask(sel, ntohs(k->sport_mask));
	xfrmnl_sel_set_dport(sel, ntohs(k->dport));
	xfrmnl_sel_set_dportmask(sel, ntohs(k->dport_mask));
	return sel;
}

static struct xfrmnl_user_tmpl *tmpl_from(const struct nl_xfrm_state *st,
					  const struct xfrm_selector *k)
{
	struct xfrmnl_user_tmpl *t = xfrmnl_user_tmpl_alloc();
	struct nl_addr *s, *d;

	if (!t)
		return NULL;
	s = addr_of(k->family, &k->saddr);
	d = addr_of(k->family, &k->daddr);
	if (!s || !d) {
		nl_addr_put(s);
		nl_addr_put(d);
		xfrmnl_user_tmpl_free(t);
		return NULL;
	}
	xfrmnl_user_tmpl_set_saddr(t, s);
	xfrmnl_user_tmpl_set_daddr(t, d);
	nl_addr_put(s);
	nl_addr_put(d);
	xfrmnl_user_tmpl_set_family(t, k->family);
	xfrmnl_user_tmpl_set_proto(t, IPPROTO_ESP);
	xfrmnl_user_tmpl_set_reqid(t, st->reqid);
	xfrmnl_user_tmpl_set_mode(t, nl_xfrm_kernel_mode(st->mode));
	xfrmnl_user_tmpl_set_optional(t, 0);
	/* Any algorithm: the states decide (all bits set, as "ip xfrm" does). */
	xfrmnl_user_tmpl_set_aalgos(t, ~0u);
	xfrmnl_user_tmpl_set_ealgos(t, ~0u);
	xfrmnl_user_tmpl_set_calgos(t, ~0u);
	return t;
}

static struct xfrmnl_ltime_cfg *policy_ltime(void)
{
	struct xfrmnl_ltime_cfg *lt = xfrmnl_ltime_cfg_alloc();

	if (!lt)
		return NULL;
	xfrmnl_ltime_cfg_set_soft_bytelimit(lt, XFRM_INF);
	xfrmnl_ltime_cfg_set_hard_bytelimit(lt, XFRM_INF);
	xfrmnl_ltime_cfg_set_soft_packetlimit(lt, XFRM_INF);
	xfrmnl_ltime_cfg_set_hard_packetlimit(lt, XFRM_INF);
	return lt;
}

int nl_xfrm_policy_add(struct nl_xfrm *x, enum nl_xfrm_dir dir, const struct nl_xfrm_state *st)
{
	struct xfrm_selector k;
	struct xfrmnl_sp *sp = NULL;
	struct xfrmnl_sel *sel = NULL;
	struct xfrmnl_user_tmpl *t = NULL;
	struct xfrmnl_ltime_cfg *lt = NULL;
	int r;

	if ((unsigned int)dir >= _NL_XFRM_DIR_MAX)
		return -EINVAL;
	r = nl_xfrm_check_state(st);
	if (r == 0)
		r = nl_xfrm_fill_selector(st, &k);
	if (r < 0)
		return r;
	sp = xfrmnl_sp_alloc();
	sel = sel_from(&k);
	t = tmpl_from(st, &k);
	lt = policy_ltime();
	if (!sp || !sel || !t || !lt) {
		r = -ENOMEM;
		goto out;
	}
	xfrmnl_sp_set_sel(sp, sel);
	xfrmnl_sp_set_lifetime_cfg(sp, lt);
	xfrmnl_sp_set_dir(sp, dir == NL_XFRM_DIR_OUT ? XFRM_POLICY_OUT : XFRM_POLICY_IN);
	xfrmnl_sp_set_action(sp, XFRM_POLICY_ALLOW);
	xfrmnl_sp_set_priority(sp, XFRM_POLICY_PRIORITY);
	xfrmnl_sp_set_share(sp, XFRM_SHARE_ANY);
	xfrmnl_sp_add_usertemplate(sp, t);
	t = NULL; /* the policy owns it now */
	nl_xfrm_begin(x);
	r = nl_xfrm_result(x, xfrmnl_sp_update(nl_xfrm_sock(x), sp, 0));
out:
	if (t)
		xfrmnl_user_tmpl_free(t);
	if (sel)
		xfrmnl_sel_put(sel);
	if (lt)
		xfrmnl_ltime_cfg_put(lt);
	if (sp)
		xfrmnl_sp_put(sp);
	return r;
}

int nl_xfrm_policy_del(struct nl_xfrm *x, enum nl_xfrm_dir dir, const struct nl_xfrm_state *st)
{
	struct xfrm_userpolicy_id id = { 0 };
	struct nl_msg *msg;
	int r;

	if ((unsigned int)dir >= _NL_XFRM_DIR_MAX)
		return -EINVAL;
	r = nl_xfrm_fill_selector(st, &id.sel);
	if (r < 0)
		return r;
	id.dir = dir == NL_XFRM_DIR_OUT ? XFRM_POLICY_OUT : XFRM_POLICY_IN;
	/* libnl deletes policies by index only; by selector needs the raw message. */
	msg = nlmsg_alloc_simple(XFRM_MSG_DELPOLICY, 0);
	if (!msg)
		return -ENOMEM;
	if (nlmsg_append(msg, &id, sizeof(id), NLMSG_ALIGNTO) < 0)
		r = -EMSGSIZE;
	else
		r = nl_xfrm_send_ack(x, msg);
	nlmsg_free(msg);
	return r;
}

struct flush_ctx {
	struct nl_sock *sock;
	uint32_t base;
	uint32_t mask;
	int deleted;
	int error;
};

static void flush_sa(struct nl_object *obj, void *arg)
{
	struct xfrmnl_sa *sa = (struct xfrmnl_sa *)obj;
	struct flush_ctx *c = arg;
	int r;

	if (xfrmnl_sa_get_proto(sa) != IPPROTO_ESP ||
	    ((uint32_t)xfrmnl_sa_get_reqid(sa) & c->mask) != c->base)
		return;
	r = xfrmnl_sa_delete(c->sock, sa, 0);
	if (r < 0 && c->error == 0 && nl_sock_errno(r) != -ENOENT)
		c->error = nl_sock_errno(r);
	else if (r >= 0)
		c->deleted++;
}

static void flush_sp(struct nl_object *obj, void *arg)
{
	struct xfrmnl_sp *sp = (struct xfrmnl_sp *)obj;
	struct xfrmnl_user_tmpl *t = xfrmnl_sp_usertemplate_n(sp, 0);
	struct flush_ctx *c = arg;
	int r;

	if (!t || ((uint32_t)xfrmnl_user_tmpl_get_reqid(t) & c->mask) != c->base)
		return;
	r = xfrmnl_sp_delete(c->sock, sp, 0);
	if (r < 0 && c->error == 0 && nl_sock_errno(r) != -ENOENT)
		c->error = nl_sock_errno(r);
	else if (r >= 0)
		c->deleted++;
}

int nl_xfrm_flush_owned(struct nl_xfrm *x, uint32_t base, uint32_t mask)
{
	struct flush_ctx c = { .sock = nl_xfrm_sock(x), .base = base, .mask = mask };
	struct nl_cache *cache = NULL;
	int r;

	r = xfrmnl_sp_alloc_cache(c.sock, &cache);
	if (r < 0)
		return nl_sock_errno(r);
	nl_cache_foreach(cache, flush_sp, &c);
	nl_cache_free(cache);
	cache = NULL;
	r = xfrmnl_sa_alloc_cache(c.sock, &cache);
	if (r < 0)
		return nl_sock_errno(r);
	nl_cache_foreach(cache, flush_sa, &c);
	/* The dump held keys in libnl's objects; freed unwiped (libnl offers no way). */
	nl_cache_free(cache);
	return c.error < 0 ? c.error : c.deleted;
}
