/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ESP states and policies in the kernel's XFRM database, through libnl-xfrm
 * (docs/netlink.md, "ESP through XFRM"): SPI allocation (XFRM_MSG_ALLOCSPI,
 * which libnl has no helper for), rfc4106(gcm(aes)) states with time-only
 * lifetimes, transport or tunnel policies, read-back of a state (the tests
 * compare keys on both ends), cleanup of what m2msa owns, and a pollable
 * monitor of XFRMNLGRP_EXPIRE.
 *
 * Ownership: every state and policy m2msa installs carries a reqid in
 * [NL_XFRM_REQID_BASE, NL_XFRM_REQID_BASE + 0xffff]; nl_xfrm_flush_owned()
 * deletes exactly those (a restart after a crash cleans up with it).
 *
 * Usage:
 *   struct nl_xfrm *x;
 *   nl_xfrm_new(&x);
 *   nl_xfrm_alloc_spi(x, "10.0.0.2", "10.0.0.1", reqid, &spi);  // inbound SPI
 *   nl_xfrm_state_add(x, &st, true);    // the inbound state: update the larval one
 *   nl_xfrm_policy_add(x, NL_XFRM_DIR_OUT, &st_out);
 *   nl_xfrm_free(x);
 * Nothing here logs; key bytes pass through struct nl_xfrm_state only (wipe it).
 */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

#define NL_XFRM_REQID_BASE 0x6d320000u /* "m2" in the upper half */
#define NL_XFRM_REQID_MASK 0xffff0000u
/* The two owners: m2msad's peers, m2msa-espd's nodes (each flushes only its own). */
#define NL_XFRM_REQID_AGENT NL_XFRM_REQID_BASE
#define NL_XFRM_REQID_ESPD (NL_XFRM_REQID_BASE | 0x8000u)
#define NL_XFRM_REQID_OWNER_MASK 0xffff8000u
#define NL_XFRM_SPI_MIN 0xc0000000u
#define NL_XFRM_SPI_MAX 0xcfffffffu
#define NL_XFRM_AEAD_NAME "rfc4106(gcm(aes))"
#define NL_XFRM_AEAD_KEY_LEN 20 /* AES-128 key || 4-byte salt (RFC 4106 8.1) */
#define NL_XFRM_ICV_BITS 128
#define NL_XFRM_ADDR_MAX INET6_ADDRSTRLEN

enum nl_xfrm_mode {
	NL_XFRM_MODE_TRANSPORT,
	NL_XFRM_MODE_TUNNEL,
	_NL_XFRM_MODE_MAX,
};

enum nl_xfrm_dir {
	NL_XFRM_DIR_IN,
	NL_XFRM_DIR_OUT,
	_NL_XFRM_DIR_MAX,
};

/* Which traffic from src to dst: proto 0 = any; a port 0 = any (TCP/UDP/SCTP only). */
struct nl_xfrm_sel {
	uint8_t proto;
	uint16_t sport;
	uint16_t dport;
};

/*
 * One ESP state, from src to dst. For tunnel mode, src and dst are the tunnel
 * endpoints and the selector covers the same hosts (host-to-host tunnels).
 * soft_s/hard_s: seconds after adding; 0 = no time limit. Byte and packet
 * limits are always XFRM_INF.
 */
struct nl_xfrm_state {
	char src[NL_XFRM_ADDR_MAX];
	char dst[NL_XFRM_ADDR_MAX];
	uint32_t spi;
	uint32_t reqid;
	enum nl_xfrm_mode mode;
	struct nl_xfrm_sel sel;
	uint8_t key[NL_XFRM_AEAD_KEY_LEN];
	uint64_t soft_s;
	uint64_t hard_s;
};

/* What XFRM_MSG_GETSA returned (the tests read keys back; never log them). */
struct nl_xfrm_state_info {
	uint32_t spi;
	uint32_t reqid;
	enum nl_xfrm_mode mode;
	char aead[64];
	unsigned int icv_bits;
	uint8_t key[NL_XFRM_AEAD_KEY_LEN];
	size_t key_len;
	uint64_t bytes;
	uint64_t packets;
	uint64_t soft_s;
	uint64_t hard_s;
};

struct nl_xfrm;

/* A request socket (NETLINK_XFRM, close-on-exec). -EPROTONOSUPPORT without xfrm_user. */
int nl_xfrm_new(struct nl_xfrm **ret);
void nl_xfrm_free(struct nl_xfrm *x);
DEFINE_CLEANUP(struct nl_xfrm *, nl_xfrm_free)

/*
 * Ask the kernel for an unused SPI in [NL_XFRM_SPI_MIN, NL_XFRM_SPI_MAX] for ESP
 * from src to dst (dst is us: this is an inbound SPI). It leaves a larval state
 * that nl_xfrm_state_add(..., update = true) fills in, or that expires by itself.
 */
int nl_xfrm_alloc_spi(struct nl_xfrm *x, const char *src, const char *dst, uint32_t reqid,
		      uint32_t *ret_spi);

/*
 * Install st (NL_XFRM_AEAD_NAME, 128-bit ICV, replay window 32). update: the
 * state replaces the larval one left by nl_xfrm_alloc_spi() (XFRM_MSG_UPDSA);
 * else it is new (XFRM_MSG_NEWSA; -EEXIST if the SPI is taken).
 * -EINVAL for a bad address, a family mix or a bad mode; -ENOENT / -EPROTONOSUPPORT
 * when the kernel lacks esp4/esp6 or the AEAD (this is what a kernel without
 * CONFIG_INET_ESP answers).
 */
int nl_xfrm_state_add(struct nl_xfrm *x, const struct nl_xfrm_state *st, bool update);

/* Delete the ESP state (dst, spi). -ENOENT if there is none. */
int nl_xfrm_state_del(struct nl_xfrm *x, const char *dst, uint32_t spi);

/* Read the ESP state (dst, spi) back. -ENOENT if there is none. */
int nl_xfrm_state_get(struct nl_xfrm *x, const char *dst, uint32_t spi,
		      struct nl_xfrm_state_info *ret);

/*
 * A required ESP policy for st's traffic in direction dir, template (st->src,
 * st->dst, st->mode, st->reqid): with no valid state the kernel drops matching
 * packets instead of sending them in clear. For DIR_OUT st runs from us to the
 * peer, for DIR_IN from the peer to us. An existing policy for the same
 * selector and direction is replaced (XFRM_MSG_UPDPOLICY).
 */
int nl_xfrm_policy_add(struct nl_xfrm *x, enum nl_xfrm_dir dir, const struct nl_xfrm_state *st);
/* Delete the policy for st's selector and dir. -ENOENT if there is none. */
int nl_xfrm_policy_del(struct nl_xfrm *x, enum nl_xfrm_dir dir, const struct nl_xfrm_state *st);

/*
 * Delete every ESP state and policy whose reqid r has (r & mask) == base, e.g.
 * (NL_XFRM_REQID_AGENT, NL_XFRM_REQID_OWNER_MASK) for m2msad's, or
 * (NL_XFRM_REQID_BASE, NL_XFRM_REQID_MASK) for all of m2msa's. Returns the
 * number deleted, or -errno.
 */
int nl_xfrm_flush_owned(struct nl_xfrm *x, uint32_t base, uint32_t mask);

/*
 * Let fd's own traffic bypass every XFRM policy (a per-socket "allow" policy in
 * both directions, as IKE daemons do for their sockets): the agreement with
 * m2msa-espd must get through when the SAs it replaces are gone but their
 * policies still block. Set before connect(); a listening socket passes it to
 * the sockets it accepts. Needs CAP_NET_ADMIN.
 */
int nl_xfrm_socket_bypass(int fd);

/* "transport", "tunnel"; NULL when out of range. */
const char *nl_xfrm_mode_to_string(enum nl_xfrm_mode m);
/* "transport" or "tunnel" to the mode; -EINVAL otherwise. */
int nl_xfrm_mode_from_string(const char *s, enum nl_xfrm_mode *ret);

/* ---- XFRMNLGRP_EXPIRE monitor ---- */

struct nl_xfrm_expire_event {
	char dst[NL_XFRM_ADDR_MAX];
	uint32_t spi;
	uint32_t reqid;
	bool hard; /* false: the soft limit (the rekey point) */
};

typedef void (*nl_xfrm_expire_cb)(const struct nl_xfrm_expire_event *ev, void *userdata);

struct nl_xfrm_monitor;

/*
 * A non-blocking socket subscribed to XFRMNLGRP_EXPIRE. Only ESP states with a
 * reqid in m2msa's range are reported.
 */
int nl_xfrm_monitor_new(nl_xfrm_expire_cb cb, void *userdata, struct nl_xfrm_monitor **ret);
int nl_xfrm_monitor_fd(const struct nl_xfrm_monitor *m);
/* Read every pending message and call cb per expiry. 0 or -errno (-ENOBUFS: events lost). */
int nl_xfrm_monitor_process(struct nl_xfrm_monitor *m);
void nl_xfrm_monitor_free(struct nl_xfrm_monitor *m);
DEFINE_CLEANUP(struct nl_xfrm_monitor *, nl_xfrm_monitor_free)
