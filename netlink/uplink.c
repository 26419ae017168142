/* SPDX-License-Identifier: Apache-2.0 */
/* Uplink monitor: tracks link run state and usable addresses from rtnetlink (libnl-route). */
#include <errno.h>
#include <arpa/inet.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/object.h>
#include <netlink/socket.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/rtnl.h>

#include "netlink/nl-sock.h"
#include "netlink/uplink.h"

/* One datagram from the kernel; rtnetlink notifications are far smaller. */
#define UPLINK_RECV_BUF (32 * 1024)
/* A dump answers at once; this only bounds a kernel that never does. */
#define UPLINK_DUMP_TIMEOUT_SEC 2
/* A dump interrupted by concurrent changes (NLM_F_DUMP_INTR) is retried this often. */
#define UPLINK_DUMP_TRIES 5

struct uplink_link {
	int ifindex;
	unsigned int flags;
	char name[IFNAMSIZ];
};

struct uplink_addr {
	int ifindex;
	int family;
	uint8_t bytes[16];
};

/* What the kernel told us so far: every link, and every usable address. */
struct uplink_state {
	struct uplink_link *links;
	size_t n_links, cap_links;
	struct uplink_addr *addrs;
	size_t n_addrs, cap_addrs;
};

struct nl_uplink {
	struct nl_sock *sock;
	char ifname[IFNAMSIZ]; /* "" = any non-loopback link */
	nl_uplink_cb cb;
	void *userdata;
	struct uplink_state state;
	bool need_resync; /* messages were lost and the last resync failed */
	uint8_t *buf;
};

/* Context of one nl_msg_parse() pass: which state to update, whether to report. */
struct uplink_parse {
	struct nl_uplink *u;
	struct uplink_state *st;
	bool emit;
	int error;
};

static const char *const event_names[_NL_UPLINK_EVENT_MAX] = {
	[NL_UPLINK_LINK_UP] = "link-up",
	[NL_UPLINK_LINK_DOWN] = "link-down",
	[NL_UPLINK_ADDR_ADDED] = "addr-added",
	[NL_UPLINK_ADDR_REMOVED] = "addr-removed",
};

const char *nl_uplink_event_type_to_string(enum nl_uplink_event_type t)
{
	if ((unsigned int)t >= _NL_UPLINK_EVENT_MAX)
		return NULL;
	return event_names[t];
}

static void state_clear(struct uplink_state *st)
{
	free(st->links);
	free(st->addrs);
	memset(st, 0, sizeof(*st));
}

static int grow(void **arr, size_t *cap, size_t n, size_t elem)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 8;
	p = reallocarray(*arr, ncap, elem);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

static struct uplink_link *state_find_link(const struct uplink_state *st, int ifindex)
{
	for (size_t i = 0; i < st->n_links; i++)
		if (st->links[i].ifindex == ifindex)
			return &st->links[i];
	return NULL;
}

static struct uplink_addr *state_find_addr(const struct uplink_state *st, int ifindex, int family,
					   const uint8_t bytes[16])
{
	for (size_t i = 0; i < st->n_addrs; i++) {
		struct uplink_addr *a = &st->addrs[i];

		if (a->ifindex == ifindex && a->family == family &&
		    memcmp(a->bytes, bytes, sizeof(a->bytes)) == 0)
			return a;
	}
	return NULL;
}

/* Order is irrelevant: remove by moving the last entry into the hole. */
static void state_remove_addr(struct uplink_state *st, struct uplink_addr *a)
{
	*a = st->addrs[--st->n_addrs];
}

static void state_remove_link(struct uplink_state *st, struct uplink_link *l)
{
	int ifindex = l->ifindex;

	*l = st->links[--st->n_links];
	for (size_t i = 0; i < st->n_addrs;) {
		if (st->addrs[i].ifindex == ifindex)
			state_remove_addr(st, &st->addrs[i]);
		else
			i++;
	}
}

static bool link_running(unsigned int flags)
{
	return (flags & IFF_UP) && (flags & IFF_RUNNING);
}

static bool link_watched(const struct nl_uplink *u, const char *name, unsigned int flags)
{
	if (u->ifname[0])
		return strcmp(name, u->ifname) == 0;
	return !(flags & IFF_LOOPBACK);
}

static bool link_effectively_up(const struct nl_uplink *u, const struct uplink_link *l)
{
	return l && link_watched(u, l->name, l->flags) && link_running(l->flags);
}

static bool ifindex_watched(const struct nl_uplink *u, const struct uplink_state *st, int ifindex)
{
	const struct uplink_link *l = state_find_link(st, ifindex);

	return l && link_watched(u, l->name, l->flags);
}

static void emit_link(struct nl_uplink *u, enum nl_uplink_event_type type, int ifindex,
		      const char *name)
{
	struct nl_uplink_event ev = { .type = type, .ifindex = ifindex };

	snprintf(ev.ifname, sizeof(ev.ifname), "%s", name);
	u->cb(&ev, u->userdata);
}

static void emit_addr(struct nl_uplink *u, const struct uplink_state *st,
		      enum nl_uplink_event_type type, const struct uplink_addr *a)
{
	struct nl_uplink_event ev = { .type = type, .ifindex = a->ifindex };
	const struct uplink_link *l = state_find_link(st, a->ifindex);

	if (l)
		snprintf(ev.ifname, sizeof(ev.ifname), "%s", l->name);
	if (!inet_ntop(a->family, a->bytes, ev.addr, sizeof(ev.addr)))
		ev.addr[0] = '\0';
	u->cb(&ev, u->userdata);
}

static void parse_link(struct uplink_parse *p, struct rtnl_link *link, bool present)
{
	struct uplink_state *st = p->st;
	int ifindex = rtnl_link_get_ifindex(link);
	const char *name = rtnl_link_get_name(link);
	struct uplink_link *l = state_find_link(st, ifindex);
	char old_name[IFNAMSIZ] = "";
	bool old_up, new_up;

	if (ifindex <= 0)
		return;
	old_up = link_effectively_up(p->u, l);
	if (l)
		memcpy(old_name, l->name, sizeof(old_name));

	if (present) {
		if (!l) {
			if (grow((void **)&st->links, &st->cap_links, st->n_links, sizeof(*st->links)) < 0) {
				p->error = -ENOMEM;
				return;
			}
			l = &st->links[st->n_links++];
			memset(l, 0, sizeof(*l));
			l->ifindex = ifindex;
		}
		if (name)
			snprintf(l->name, sizeof(l->name), "%s", name);
		l->flags = rtnl_link_get_flags(link);
		new_up = link_effectively_up(p->u, l);
	} else {
		if (l)
			state_remove_link(st, l);
		l = NULL;
		new_up = false;
	}

	if (!p->emit || old_up == new_up)
		return;
	if (new_up)
		emit_link(p->u, NL_UPLINK_LINK_UP, ifindex, l->name);
	else
		emit_link(p->u, NL_UPLINK_LINK_DOWN, ifindex, old_name[0] ? old_name : (name ? name : ""));
}

static void parse_addr(struct uplink_parse *p, struct rtnl_addr *addr, bool present)
{
	struct uplink_state *st = p->st;
	struct uplink_addr key = { .ifindex = rtnl_addr_get_ifindex(addr),
				   .family = rtnl_addr_get_family(addr) };
	struct nl_addr *local = rtnl_addr_get_local(addr);
	unsigned int flags = rtnl_addr_get_flags(addr);
	struct uplink_addr *a;
	unsigned int len;
	bool usable;

	if (!local || key.ifindex <= 0)
		return;
	len = nl_addr_get_len(local);
	if (!((key.family == AF_INET && len == 4) || (key.family == AF_INET6 && len == 16)))
		return;
	memcpy(key.bytes, nl_addr_get_binary_addr(local), len);
	/* fe80::/10 comes and goes with the link itself; LINK_UP covers it. */
	if (key.family == AF_INET6 && key.bytes[0] == 0xfe && (key.bytes[1] & 0xc0) == 0x80)
		return;

	/* An address under duplicate address detection cannot be used yet. */
	usable = present && !(flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED));
	a = state_find_addr(st, key.ifindex, key.family, key.bytes);
	if (usable && !a) {
		if (grow((void **)&st->addrs, &st->cap_addrs, st->n_addrs, sizeof(*st->addrs)) < 0) {
			p->error = -ENOMEM;
			return;
		}
		st->addrs[st->n_addrs++] = key;
		if (p->emit && ifindex_watched(p->u, st, key.ifindex))
			emit_addr(p->u, st, NL_UPLINK_ADDR_ADDED, &key);
	} else if (!usable && a) {
		state_remove_addr(st, a);
		if (p->emit && ifindex_watched(p->u, st, key.ifindex))
			emit_addr(p->u, st, NL_UPLINK_ADDR_REMOVED, &key);
	}
}

/* nl_msg_parse() hands us one rtnl_link or rtnl_addr object per message. */
static void parse_object(struct nl_object *obj, void *arg)
{
	struct uplink_parse *p = arg;

	if (p->error < 0)
		return;
	switch (nl_object_get_msgtype(obj)) {
	case RTM_NEWLINK:
		parse_link(p, (struct rtnl_link *)obj, true);
		break;
	case RTM_DELLINK:
		parse_link(p, (struct rtnl_link *)obj, false);
		break;
	case RTM_NEWADDR:
		parse_addr(p, (struct rtnl_addr *)obj, true);
		break;
	case RTM_DELADDR:
		parse_addr(p, (struct rtnl_addr *)obj, false);
		break;
	default:
		break;
	}
}

static int parse_msg(struct nl_msg *msg, struct uplink_parse *p)
{
	int r;

	switch (nlmsg_hdr(msg)->nlmsg_type) {
	case RTM_NEWLINK:
	case RTM_DELLINK:
	case RTM_NEWADDR:
	case RTM_DELADDR:
		break;
	default:
		return 0;
	}
	r = nl_msg_parse(msg, parse_object, p);
	if (p->error < 0)
		return p->error;
	/* A message libnl cannot parse is skipped; only running out of memory is fatal. */
	if (r == -NLE_NOMEM)
		return -ENOMEM;
	return 0;
}

/* NL_CB_VALID handler of the dump socket. */
static int dump_valid(struct nl_msg *msg, void *arg)
{
	struct uplink_parse *p = arg;

	return parse_msg(msg, p) < 0 ? NL_STOP : NL_OK;
}

static int dump_one(struct nl_sock *sk, int type)
{
	int r;

	r = nl_rtgen_request(sk, type, AF_UNSPEC, NLM_F_DUMP);
	if (r < 0)
		return nl_sock_errno(r);
	r = nl_recvmsgs_default(sk);
	if (r == -NLE_AGAIN)
		return -ETIMEDOUT; /* SO_RCVTIMEO expired */
	if (r == -NLE_DUMP_INTR)
		return -EAGAIN; /* caller retries */
	return r < 0 ? nl_sock_errno(r) : 0;
}

/*
 * Dump all links, then all addresses, into *st on a separate short-lived
 * socket (the event socket keeps queueing notifications meanwhile). Blocking,
 * but the kernel answers a dump at once.
 */
static int uplink_dump(struct nl_uplink *u, struct uplink_state *st)
{
	struct uplink_parse p = { .u = u, .st = st, .emit = false };
	struct timeval tv = { .tv_sec = UPLINK_DUMP_TIMEOUT_SEC };
	struct nl_sock *sk;
	int r;

	r = nl_sock_open(NETLINK_ROUTE, NL_SOCK_REQUEST, &sk);
	if (r < 0)
		return r;
	if (setsockopt(nl_socket_get_fd(sk), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
		r = -errno;
		goto out;
	}
	r = nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, dump_valid, &p);
	if (r < 0) {
		r = nl_sock_errno(r);
		goto out;
	}

	for (int attempt = 0; attempt < UPLINK_DUMP_TRIES; attempt++) {
		state_clear(st);
		p.error = 0;
		r = dump_one(sk, RTM_GETLINK);
		if (r == 0)
			r = dump_one(sk, RTM_GETADDR);
		if (p.error < 0)
			r = p.error;
		if (r != -EAGAIN)
			break;
	}
out:
	if (r < 0)
		state_clear(st);
	nl_socket_free(sk);
	return r;
}

/*
 * Messages were lost. Drop what is still queued (it predates the dump), dump
 * afresh and report: LINK_DOWN for watched links that stopped running or
 * vanished, LINK_UP for every watched running link (a flap may have been lost),
 * and the differences in usable addresses.
 */
static int uplink_resync(struct nl_uplink *u)
{
	struct uplink_state st = { 0 };
	struct uplink_state old;
	int fd = nl_socket_get_fd(u->sock);
	int r;

	u->need_resync = true;
	for (;;) {
		ssize_t n = recv(fd, u->buf, UPLINK_RECV_BUF, MSG_DONTWAIT | MSG_TRUNC);

		if (n >= 0 || errno == EINTR || errno == ENOBUFS)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			break;
		return -errno;
	}

	r = uplink_dump(u, &st);
	if (r < 0)
		return r;

	/* Adopt the new state first, so callbacks that query it see the present. */
	old = u->state;
	u->state = st;
	u->need_resync = false;

	for (size_t i = 0; i < old.n_links; i++) {
		const struct uplink_link *o = &old.links[i];
		const struct uplink_link *n = state_find_link(&u->state, o->ifindex);

		if (link_effectively_up(u, o) && !link_effectively_up(u, n))
			emit_link(u, NL_UPLINK_LINK_DOWN, o->ifindex, o->name);
	}
	for (size_t i = 0; i < old.n_addrs; i++) {
		const struct uplink_addr *a = &old.addrs[i];

		if (!state_find_addr(&u->state, a->ifindex, a->family, a->bytes) &&
		    ifindex_watched(u, &old, a->ifindex))
			emit_addr(u, &old, NL_UPLINK_ADDR_REMOVED, a);
	}
	for (size_t i = 0; i < u->state.n_links; i++) {
		const struct uplink_link *n = &u->state.links[i];

		if (link_effectively_up(u, n))
			emit_link(u, NL_UPLINK_LINK_UP, n->ifindex, n->name);
	}
	for (size_t i = 0; i < u->state.n_addrs; i++) {
		const struct uplink_addr *a = &u->state.addrs[i];

		if (!state_find_addr(&old, a->ifindex, a->family, a->bytes) &&
		    ifindex_watched(u, &u->state, a->ifindex))
			emit_addr(u, &u->state, NL_UPLINK_ADDR_ADDED, a);
	}
	state_clear(&old);
	return 0;
}

/* Feed one datagram of notifications through libnl-route's parsers. */
static int uplink_parse_datagram(struct nl_uplink *u, size_t len)
{
	struct uplink_parse p = { .u = u, .st = &u->state, .emit = true };
	struct nlmsghdr *hdr = (struct nlmsghdr *)u->buf;
	int remaining = (int)len;

	for (; nlmsg_ok(hdr, remaining); hdr = nlmsg_next(hdr, &remaining)) {
		struct nl_msg *msg;
		int r;

		if (hdr->nlmsg_type == NLMSG_OVERRUN)
			return -ENOBUFS;
		msg = nlmsg_convert(hdr);
		if (!msg)
			return -ENOMEM;
		nlmsg_set_proto(msg, NETLINK_ROUTE);
		r = parse_msg(msg, &p);
		nlmsg_free(msg);
		if (r < 0)
			return r;
	}
	return 0;
}

int nl_uplink_process(struct nl_uplink *u)
{
	int fd, r;

	if (!u)
		return -EINVAL;
	fd = nl_socket_get_fd(u->sock);
	if (u->need_resync) {
		r = uplink_resync(u);
		if (r < 0)
			return r;
	}

	for (;;) {
		struct sockaddr_nl sa = { 0 };
		struct iovec iov = { .iov_base = u->buf, .iov_len = UPLINK_RECV_BUF };
		struct msghdr mh = { .msg_name = &sa, .msg_namelen = sizeof(sa),
				     .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			if (errno != ENOBUFS)
				return -errno;
			r = uplink_resync(u);
			if (r < 0)
				return r;
			continue;
		}
		if (n == 0)
			return 0;
		if (mh.msg_flags & MSG_TRUNC) {
			r = uplink_resync(u);
			if (r < 0)
				return r;
			continue;
		}
		/* Only the kernel (port 0) speaks for the links. */
		if (mh.msg_namelen != sizeof(sa) || sa.nl_pid != 0)
			continue;
		r = uplink_parse_datagram(u, (size_t)n);
		if (r == -ENOBUFS) {
			r = uplink_resync(u);
			if (r < 0)
				return r;
			continue;
		}
		if (r < 0) {
			/* The rest of this datagram is lost: rebuild the state next time. */
			u->need_resync = true;
			return r;
		}
	}
}

int nl_uplink_new(const char *ifname, nl_uplink_cb cb, void *userdata, struct nl_uplink **ret)
{
	struct nl_uplink *u;
	int r;

	if (!cb || !ret)
		return -EINVAL;
	if (ifname && (strlen(ifname) >= IFNAMSIZ || strchr(ifname, '/') ||
		       strcmp(ifname, ".") == 0 || strcmp(ifname, "..") == 0))
		return -EINVAL;

	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	if (ifname)
		snprintf(u->ifname, sizeof(u->ifname), "%s", ifname);
	u->cb = cb;
	u->userdata = userdata;
	u->buf = malloc(UPLINK_RECV_BUF);
	if (!u->buf) {
		r = -ENOMEM;
		goto fail;
	}
	r = nl_sock_open(NETLINK_ROUTE, NL_SOCK_EVENTS, &u->sock);
	if (r < 0)
		goto fail;
	/* Subscribe before the dump: nothing that happens in between is missed. */
	r = nl_socket_add_memberships(u->sock, RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR,
				      RTNLGRP_IPV6_IFADDR, 0);
	if (r < 0) {
		r = nl_sock_errno(r);
		goto fail;
	}
	r = uplink_dump(u, &u->state);
	if (r < 0)
		goto fail;

	*ret = u;
	return 0;
fail:
	nl_uplink_free(u);
	return r;
}

int nl_uplink_fd(const struct nl_uplink *u)
{
	if (!u)
		return -EINVAL;
	return nl_socket_get_fd(u->sock);
}

int nl_uplink_is_up(const struct nl_uplink *u, bool *ret)
{
	bool up = false;

	if (!u || !ret)
		return -EINVAL;
	for (size_t i = 0; i < u->state.n_links && !up; i++)
		up = link_effectively_up(u, &u->state.links[i]);
	*ret = up;
	return 0;
}

void nl_uplink_free(struct nl_uplink *u)
{
	if (!u)
		return;
	if (u->sock)
		nl_socket_free(u->sock); /* closes the fd */
	state_clear(&u->state);
	free(u->buf);
	free(u);
}
