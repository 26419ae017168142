/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by netlink/esp-xfrm*.c; not for use outside netlink/. */
#pragma once

#include <linux/xfrm.h>

#include <netlink/msg.h>
#include <netlink/socket.h>

#include "netlink/esp-xfrm.h"

unsigned int nl_xfrm_kernel_mode(enum nl_xfrm_mode m);
/* A numeric host address; *family AF_UNSPEC on the first call, checked after. */
int nl_xfrm_parse_addr(const char *s, int *family, xfrm_address_t *ret);
/* The kernel selector for st's traffic (src to dst, host prefixes). */
int nl_xfrm_fill_selector(const struct nl_xfrm_state *st, struct xfrm_selector *sel);
int nl_xfrm_check_state(const struct nl_xfrm_state *st);
/* Send msg, wait for the kernel's acknowledgement; -errno. msg stays the caller's. */
int nl_xfrm_send_ack(struct nl_xfrm *x, struct nl_msg *msg);
/* Before a request: forget the last kernel error. */
void nl_xfrm_begin(struct nl_xfrm *x);
/* A libnl result to -errno, preferring the kernel's own errno when it sent one. */
int nl_xfrm_result(struct nl_xfrm *x, int nle);
/* Wipe a message that held key bytes, then free it; NULL is fine. */
void nl_xfrm_msg_wipe_free(struct nl_msg *msg);
/* The request socket inside struct nl_xfrm. */
struct nl_sock *nl_xfrm_sock(struct nl_xfrm *x);
/* Parse one XFRM_MSG_EXPIRE; false when it is not about an ESP state m2msa owns. */
bool nl_xfrm_parse_expire(const struct nlmsghdr *h, struct nl_xfrm_expire_event *ev);
