/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Uplink monitor for m2msad: watches links and addresses with rtnetlink
 * (libnl-route) so the agent can re-establish at once when the uplink comes back
 * or its address changes. Pollable, never blocks the event loop.
 *
 * Usage:
 *   struct nl_uplink *u;
 *   r = nl_uplink_new("eth0", on_uplink, ctx, &u);  // NULL or "" = any non-loopback link
 *   epoll_ctl(ep, EPOLL_CTL_ADD, nl_uplink_fd(u), &(struct epoll_event){ .events = EPOLLIN });
 *   ... when readable: r = nl_uplink_process(u);    // invokes on_uplink per change
 *   nl_uplink_free(u);
 *
 * Events (see docs/netlink.md):
 *  - NL_UPLINK_LINK_UP: a watched link went from not-running to running
 *    (IFF_UP and IFF_RUNNING). Repeated RTM_NEWLINK messages without a state
 *    change report nothing. Exception: after a receive-buffer overrun the monitor
 *    cannot know whether a link flapped, so it re-dumps and reports every watched
 *    running link as LINK_UP again.
 *  - NL_UPLINK_LINK_DOWN: a watched running link stopped running, was deleted,
 *    or was renamed away from the watched name.
 *  - NL_UPLINK_ADDR_ADDED / NL_UPLINK_ADDR_REMOVED: an address on a watched link
 *    became usable / stopped being usable. "Usable" = reported by the kernel and
 *    neither tentative (IPv6 DAD in progress) nor DAD-failed. IPv6 link-local
 *    addresses (fe80::/10) are ignored: they come and go with the link itself.
 *    Repeated RTM_NEWADDR messages for a known address (lifetime refreshes)
 *    report nothing.
 * The state at nl_uplink_new() time is dumped from the kernel without events.
 *
 * The callback runs synchronously inside nl_uplink_process(); it must not call
 * nl_uplink_free() on the same monitor.
 */
#pragma once

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>

#include "common/util.h"

struct nl_uplink;

enum nl_uplink_event_type {
	NL_UPLINK_LINK_UP,
	NL_UPLINK_LINK_DOWN,
	NL_UPLINK_ADDR_ADDED,
	NL_UPLINK_ADDR_REMOVED,
	_NL_UPLINK_EVENT_MAX,
};

struct nl_uplink_event {
	enum nl_uplink_event_type type;
	int ifindex;
	char ifname[IFNAMSIZ];
	char addr[INET6_ADDRSTRLEN]; /* ADDR_* only: textual address without prefix; else "" */
};

typedef void (*nl_uplink_cb)(const struct nl_uplink_event *ev, void *userdata);

/*
 * Open an rtnetlink socket subscribed to link and IPv4/IPv6 address changes
 * (non-blocking, close-on-exec) and dump the current state. ifname NULL or ""
 * watches every non-loopback link. -EINVAL for a bad name or a NULL cb.
 * The watched interface need not exist yet; it is matched by name.
 */
int nl_uplink_new(const char *ifname, nl_uplink_cb cb, void *userdata, struct nl_uplink **ret);

/* The fd to poll for EPOLLIN (level- or edge-triggered both work). */
int nl_uplink_fd(const struct nl_uplink *u);

/*
 * Read every pending message without blocking and invoke the callback once per
 * relevant change. On an overrun (ENOBUFS) or a truncated datagram, discard the
 * queue, re-dump links and addresses and report the differences (see above).
 * Returns 0 or -errno; after an error the monitor stays usable.
 */
int nl_uplink_process(struct nl_uplink *u);

/*
 * *ret = whether the watched link is running (IFF_UP && IFF_RUNNING); for
 * "any", whether any non-loopback link is. Reflects the messages processed so far.
 */
int nl_uplink_is_up(const struct nl_uplink *u, bool *ret);

/* "link-up", "link-down", "addr-added", "addr-removed"; NULL when out of range. */
const char *nl_uplink_event_type_to_string(enum nl_uplink_event_type t);

/* Close the socket and free. NULL is fine. */
void nl_uplink_free(struct nl_uplink *u);

static inline void nl_uplink_freep(struct nl_uplink **u)
{
	nl_uplink_free(*u);
}
#define _cleanup_nl_uplink_ _cleanup_(nl_uplink_freep)
