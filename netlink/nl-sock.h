/* SPDX-License-Identifier: Apache-2.0 */
/* The one place netlink/ opens a libnl socket and maps libnl's NLE_* codes; not for use outside netlink/. */
#pragma once

#include <netlink/socket.h>

enum nl_sock_kind {
	NL_SOCK_REQUEST, /* blocking; requests with sequence numbers and acknowledgements */
	NL_SOCK_EVENTS,	 /* non-blocking; multicast notifications: no sequence check, no ack */
	_NL_SOCK_KIND_MAX,
};

/* libnl's NLE_* code (either sign) to -errno; 0 for NLE_SUCCESS, -EIO for the rest. */
int nl_sock_errno(int nle);
/*
 * A libnl socket connected to the netlink family protocol (NETLINK_ROUTE,
 * NETLINK_XFRM), close-on-exec, set up as kind says. Callbacks and group
 * memberships are the caller's. -EPROTONOSUPPORT: the kernel lacks protocol.
 */
int nl_sock_open(int protocol, enum nl_sock_kind kind, struct nl_sock **ret);
