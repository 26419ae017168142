/* SPDX-License-Identifier: Apache-2.0 */
/* XFRMNLGRP_EXPIRE monitor: soft and hard expiry of the ESP states m2msa owns. */
#include <errno.h>
#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/xfrm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#include "netlink/esp-xfrm-internal.h"
#include "netlink/nl-sock.h"

struct nl_xfrm_monitor {
	struct nl_sock *sock;
	nl_xfrm_expire_cb cb;
	void *userdata;
};

/* The report a kernel XFRM_MSG_EXPIRE describes; false when not ours or malformed. */
bool nl_xfrm_parse_expire(const struct nlmsghdr *h, struct nl_xfrm_expire_event *ev)
{
	const struct xfrm_user_expire *e;
	const struct xfrm_usersa_info *s;

	if (h->nlmsg_type != XFRM_MSG_EXPIRE || h->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
		return false;
	e = (const void *)((const char *)h + NLMSG_HDRLEN);
	s = &e->state;
	if (s->id.proto != IPPROTO_ESP || (s->reqid & NL_XFRM_REQID_MASK) != NL_XFRM_REQID_BASE)
		return false;
	if (s->family != AF_INET && s->family != AF_INET6)
		return false;
	memset(ev, 0, sizeof(*ev));
	if (!inet_ntop(s->family, &s->id.daddr, ev->dst, sizeof(ev->dst)))
		return false;
	ev->spi = ntohl(s->id.spi);
	ev->reqid = s->reqid;
	ev->hard = e->hard != 0;
	return true;
}

static int on_msg(struct nl_msg *msg, void *arg)
{
	struct nl_xfrm_monitor *m = arg;
	struct nl_xfrm_expire_event ev;

	if (nl_xfrm_parse_expire(nlmsg_hdr(msg), &ev))
		m->cb(&ev, m->userdata);
	return NL_OK;
}

int nl_xfrm_monitor_new(nl_xfrm_expire_cb cb, void *userdata, struct nl_xfrm_monitor **ret)
{
	struct nl_xfrm_monitor *m;
	int r;

	if (!cb)
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->cb = cb;
	m->userdata = userdata;
	r = nl_sock_open(NETLINK_XFRM, NL_SOCK_EVENTS, &m->sock);
	if (r < 0) {
		free(m);
		return r;
	}
	nl_socket_modify_cb(m->sock, NL_CB_VALID, NL_CB_CUSTOM, on_msg, m);
	r = nl_socket_add_membership(m->sock, XFRMNLGRP_EXPIRE);
	if (r < 0) {
		nl_xfrm_monitor_free(m);
		return nl_sock_errno(r);
	}
	*ret = m;
	return 0;
}

int nl_xfrm_monitor_fd(const struct nl_xfrm_monitor *m)
{
	return nl_socket_get_fd(m->sock);
}

int nl_xfrm_monitor_process(struct nl_xfrm_monitor *m)
{
	for (;;) {
		int r = nl_recvmsgs_default(m->sock);

		if (r >= 0)
			continue;
		r = nl_sock_errno(r);
		return r == -EAGAIN ? 0 : r;
	}
}

void nl_xfrm_monitor_free(struct nl_xfrm_monitor *m)
{
	if (!m)
		return;
	nl_socket_free(m->sock);
	free(m);
}
