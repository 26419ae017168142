/* SPDX-License-Identifier: Apache-2.0 */
/* ESP states and policies through libnl-xfrm, plus the raw messages libnl lacks. */
#include <errno.h>
#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/xfrm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <netlink/xfrm/lifetime.h>
#include <netlink/xfrm/sa.h>
#include <netlink/xfrm/selector.h>
#include <netlink/xfrm/sp.h>
#include <netlink/xfrm/template.h>

#include "common/secret.h"
#include "netlink/esp-xfrm-internal.h"
#include "netlink/nl-sock.h"

#define XFRM_REPLAY_WINDOW 32
/* Policies m2msa installs; above the default 0 so that they win over broader ones. */
#define XFRM_POLICY_PRIORITY 0x4000

struct nl_xfrm {
	struct nl_sock *sock;
	int kernel_errno; /* of the last NLMSG_ERROR, libnl's mapping loses it */
};

static const char *const mode_names[_NL_XFRM_MODE_MAX] = {
	[NL_XFRM_MODE_TRANSPORT] = "transport",
	[NL_XFRM_MODE_TUNNEL] = "tunnel",
};

const char *nl_xfrm_mode_to_string(enum nl_xfrm_mode m)
{
	if ((unsigned int)m >= _NL_XFRM_MODE_MAX)
		return NULL;
	return mode_names[m];
}

int nl_xfrm_mode_from_string(const char *s, enum nl_xfrm_mode *ret)
{
	for (unsigned int i = 0; i < _NL_XFRM_MODE_MAX; i++)
		if (s && strcmp(s, mode_names[i]) == 0) {
			*ret = (enum nl_xfrm_mode)i;
			return 0;
		}
	return -EINVAL;
}

static int on_error(struct sockaddr_nl *who, struct nlmsgerr *e, void *arg)
{
	struct nl_xfrm *x = arg;

	(void)who;
	x->kernel_errno = e->error < 0 ? -e->error : e->error;
	return NL_STOP;
}

void nl_xfrm_begin(struct nl_xfrm *x)
{
	x->kernel_errno = 0;
}

int nl_xfrm_result(struct nl_xfrm *x, int nle)
{
	if (nle >= 0)
		return 0;
	/* The kernel answers ESRCH for a state that is not there; ENOENT for a policy. */
	if (x->kernel_errno == ESRCH)
		return -ENOENT;
	if (x->kernel_errno)
		return -x->kernel_errno;
	return nl_sock_errno(nle);
}

int nl_xfrm_new(struct nl_xfrm **ret)
{
	struct nl_xfrm *x = calloc(1, sizeof(*x));
	int r;

	if (!x)
		return -ENOMEM;
	r = nl_sock_open(NETLINK_XFRM, NL_SOCK_REQUEST, &x->sock);
	if (r < 0) {
		free(x);
		return r;
	}
	nl_socket_modify_err_cb(x->sock, NL_CB_CUSTOM, on_error, x);
	*ret = x;
	return 0;
}

struct nl_sock *nl_xfrm_sock(struct nl_xfrm *x)
{
	return x->sock;
}

void nl_xfrm_free(struct nl_xfrm *x)
{
	if (!x)
		return;
	nl_socket_free(x->sock);
	free(x);
}

/* struct nl_addr for a host address; *family set on the first call, checked after. */
static int host_addr(const char *s, int *family, struct nl_addr **ret)
{
	struct nl_addr *a = NULL;
	uint8_t bin[16];
	int fam;

	if (inet_pton(AF_INET, s, bin) == 1)
		fam = AF_INET;
	else if (inet_pton(AF_INET6, s, bin) == 1)
		fam = AF_INET6;
	else
		return -EINVAL;
	if (*family != AF_UNSPEC && *family != fam)
		return -EINVAL;
	a = nl_addr_build(fam, bin, fam == AF_INET ? 4 : 16);
	if (!a)
		return -ENOMEM;
	*family = fam;
	*ret = a;
	return 0;
}

unsigned int nl_xfrm_kernel_mode(enum nl_xfrm_mode m)
{
	return m == NL_XFRM_MODE_TUNNEL ? XFRM_MODE_TUNNEL : XFRM_MODE_TRANSPORT;
}

int nl_xfrm_parse_addr(const char *s, int *family, xfrm_address_t *ret)
{
	xfrm_address_t a = { 0 };
	int fam;

	if (s && inet_pton(AF_INET, s, &a.a4) == 1)
		fam = AF_INET;
	else if (s && inet_pton(AF_INET6, s, &a.a6) == 1)
		fam = AF_INET6;
	else
		return -EINVAL;
	if (*family != AF_UNSPEC && *family != fam)
		return -EINVAL;
	*family = fam;
	*ret = a;
	return 0;
}

int nl_xfrm_fill_selector(const struct nl_xfrm_state *st, struct xfrm_selector *sel)
{
	int family = AF_UNSPEC, r;

	memset(sel, 0, sizeof(*sel));
	r = nl_xfrm_parse_addr(st->src, &family, &sel->saddr);
	if (r == 0)
		r = nl_xfrm_parse_addr(st->dst, &family, &sel->daddr);
	if (r < 0)
		return r;
	sel->family = (uint16_t)family;
	sel->prefixlen_s = sel->prefixlen_d = family == AF_INET ? 32 : 128;
	sel->proto = st->sel.proto;
	sel->sport = htons(st->sel.sport);
	sel->sport_mask = st->sel.sport ? 0xffff : 0;
	sel->dport = htons(st->sel.dport);
	sel->dport_mask = st->sel.dport ? 0xffff : 0;
	return 0;
}

int nl_xfrm_check_state(const struct nl_xfrm_state *st)
{
	if ((unsigned int)st->mode >= _NL_XFRM_MODE_MAX)
		return -EINVAL;
	if ((st->reqid & NL_XFRM_REQID_MASK) != NL_XFRM_REQID_BASE)
		return -EINVAL;
	if ((st->sel.sport || st->sel.dport) && st->sel.proto != IPPROTO_TCP &&
	    st->sel.proto != IPPROTO_UDP && st->sel.proto != IPPROTO_SCTP)
		return -EINVAL;
	if (st->hard_s && st->soft_s > st->hard_s)
		return -EINVAL;
	return 0;
}

/* Send msg and wait for the kernel's acknowledgement; msg stays the caller's. */
int nl_xfrm_send_ack(struct nl_xfrm *x, struct nl_msg *msg)
{
	int r;

	nl_xfrm_begin(x);
	r = nl_send_auto(x->sock, msg);
	if (r >= 0)
		r = nl_wait_for_ack(x->sock);
	return nl_xfrm_result(x, r);
}

/*
 * NEWSA/UPDSA built here rather than with xfrmnl_sa_*: libnl's object keeps a
 * copy of the key it frees without wiping; this message is wiped before it goes.
 */
static int build_sa_msg(const struct nl_xfrm_state *st, bool update, struct nl_msg **ret)
{
	uint8_t aead_buf[sizeof(struct xfrm_algo_aead) + NL_XFRM_AEAD_KEY_LEN];
	struct xfrm_algo_aead *aead = (struct xfrm_algo_aead *)aead_buf;
	struct xfrm_usersa_info info = { 0 };
	struct nl_msg *msg;
	int r;

	r = nl_xfrm_fill_selector(st, &info.sel);
	if (r < 0)
		return r;
	info.id.daddr = info.sel.daddr;
	info.saddr = info.sel.saddr;
	info.id.spi = htonl(st->spi);
	info.id.proto = IPPROTO_ESP;
	info.family = info.sel.family;
	info.reqid = st->reqid;
	info.mode = (uint8_t)nl_xfrm_kernel_mode(st->mode);
	info.replay_window = XFRM_REPLAY_WINDOW;
	/* Zeroed count limits would mean "expire at once": every one is XFRM_INF. */
	info.lft.soft_byte_limit = info.lft.hard_byte_limit = XFRM_INF;
	info.lft.soft_packet_limit = info.lft.hard_packet_limit = XFRM_INF;
	info.lft.soft_add_expires_seconds = st->soft_s;
	info.lft.hard_add_expires_seconds = st->hard_s;
	memset(aead_buf, 0, sizeof(aead_buf));
	snprintf(aead->alg_name, sizeof(aead->alg_name), "%s", NL_XFRM_AEAD_NAME);
	aead->alg_key_len = NL_XFRM_AEAD_KEY_LEN * 8;
	aead->alg_icv_len = NL_XFRM_ICV_BITS;
	memcpy(aead->alg_key, st->key, NL_XFRM_AEAD_KEY_LEN);
	msg = nlmsg_alloc_simple(update ? XFRM_MSG_UPDSA : XFRM_MSG_NEWSA,
				 update ? 0 : NLM_F_CREATE | NLM_F_EXCL);
	if (!msg)
		r = -ENOMEM;
	else if (nlmsg_append(msg, &info, sizeof(info), NLMSG_ALIGNTO) < 0 ||
		 nla_put(msg, XFRMA_ALG_AEAD, (int)sizeof(aead_buf), aead_buf) < 0)
		r = -EMSGSIZE;
	secret_wipe(aead_buf, sizeof(aead_buf));
	if (r < 0) {
		nl_xfrm_msg_wipe_free(msg);
		return r;
	}
	*ret = msg;
	return 0;
}

void nl_xfrm_msg_wipe_free(struct nl_msg *msg)
{
	struct nlmsghdr *h;

	if (!msg)
		return;
	h = nlmsg_hdr(msg);
	secret_wipe(h, h->nlmsg_len);
	nlmsg_free(msg);
}

int nl_xfrm_state_add(struct nl_xfrm *x, const struct nl_xfrm_state *st, bool update)
{
	struct nl_msg *msg = NULL;
	int r;

	r = nl_xfrm_check_state(st);
	if (r == 0 && st->spi == 0)
		r = -EINVAL;
	if (r == 0)
		r = build_sa_msg(st, update, &msg);
	if (r < 0)
		return r;
	nl_xfrm_begin(x);
	r = nl_send_auto(x->sock, msg);
	nl_xfrm_msg_wipe_free(msg);
	if (r >= 0)
		r = nl_wait_for_ack(x->sock);
	return nl_xfrm_result(x, r);
}

int nl_xfrm_state_del(struct nl_xfrm *x, const char *dst, uint32_t spi)
{
	struct xfrmnl_sa *sa = xfrmnl_sa_alloc();
	struct nl_addr *d = NULL;
	int family = AF_UNSPEC, r;

	if (!sa)
		return -ENOMEM;
	r = host_addr(dst, &family, &d);
	if (r == 0) {
		xfrmnl_sa_set_daddr(sa, d);
		xfrmnl_sa_set_family(sa, (unsigned int)family);
		xfrmnl_sa_set_proto(sa, IPPROTO_ESP);
		xfrmnl_sa_set_spi(sa, spi);
		nl_xfrm_begin(x);
		r = nl_xfrm_result(x, xfrmnl_sa_delete(x->sock, sa, 0));
	}
	nl_addr_put(d);
	xfrmnl_sa_put(sa);
	return r;
}

static void info_from_sa(struct xfrmnl_sa *sa, struct nl_xfrm_state_info *i)
{
	struct xfrmnl_ltime_cfg *lt = xfrmnl_sa_get_lifetime_cfg(sa);
	unsigned long long bytes = 0, packets = 0, dummy = 0;
	unsigned int key_bits = 0, icv = 0;
	char name[64] = "";
	char key[128];

	memset(i, 0, sizeof(*i));
	i->spi = (uint32_t)xfrmnl_sa_get_spi(sa);
	i->reqid = (uint32_t)xfrmnl_sa_get_reqid(sa);
	i->mode = xfrmnl_sa_get_mode(sa) == XFRM_MODE_TUNNEL ? NL_XFRM_MODE_TUNNEL
							     : NL_XFRM_MODE_TRANSPORT;
	if (xfrmnl_sa_get_aead_params(sa, name, &key_bits, &icv, NULL) == 0 &&
	    key_bits / 8 <= sizeof(key) &&
	    xfrmnl_sa_get_aead_params(sa, name, &key_bits, &icv, key) == 0) {
		snprintf(i->aead, sizeof(i->aead), "%s", name);
		i->icv_bits = icv;
		i->key_len = key_bits / 8 < sizeof(i->key) ? key_bits / 8 : sizeof(i->key);
		memcpy(i->key, key, i->key_len);
	}
	secret_wipe(key, sizeof(key));
	if (xfrmnl_sa_get_curlifetime(sa, &bytes, &packets, &dummy, &dummy) == 0) {
		i->bytes = bytes;
		i->packets = packets;
	}
	if (lt) {
		i->soft_s = xfrmnl_ltime_cfg_get_soft_addexpires(lt);
		i->hard_s = xfrmnl_ltime_cfg_get_hard_addexpires(lt);
	}
}

int nl_xfrm_state_get(struct nl_xfrm *x, const char *dst, uint32_t spi,
		      struct nl_xfrm_state_info *ret)
{
	struct xfrmnl_sa *sa = NULL;
	struct nl_addr *d = NULL;
	int family = AF_UNSPEC, r;

	r = host_addr(dst, &family, &d);
	if (r < 0)
		return r;
	nl_xfrm_begin(x);
	r = xfrmnl_sa_get_kernel(x->sock, d, spi, IPPROTO_ESP, 0, 0, &sa);
	nl_addr_put(d);
	if (r < 0)
		return nl_xfrm_result(x, r);
	info_from_sa(sa, ret);
	/* libnl's object frees its key copy unwiped: reading keys back is for tests only. */
	xfrmnl_sa_put(sa);
	return 0;
}

/* The NEWSA answer to ALLOCSPI: take the SPI. */
static int on_alloc_reply(struct nl_msg *msg, void *arg)
{
	struct nlmsghdr *h = nlmsg_hdr(msg);
	uint32_t *spi = arg;

	if (h->nlmsg_type == XFRM_MSG_NEWSA &&
	    nlmsg_datalen(h) >= (int)sizeof(struct xfrm_usersa_info)) {
		const struct xfrm_usersa_info *info = nlmsg_data(h);

		*spi = ntohl(info->id.spi);
	}
	return NL_STOP;
}

int nl_xfrm_alloc_spi(struct nl_xfrm *x, const char *src, const char *dst, uint32_t reqid,
		      uint32_t *ret_spi)
{
	struct xfrm_userspi_info req = { 0 };
	struct nl_msg *msg;
	uint32_t spi = 0;
	int family = AF_UNSPEC, r;

	if ((reqid & NL_XFRM_REQID_MASK) != NL_XFRM_REQID_BASE)
		return -EINVAL;
	r = nl_xfrm_parse_addr(src, &family, &req.info.saddr);
	if (r == 0)
		r = nl_xfrm_parse_addr(dst, &family, &req.info.id.daddr);
	if (r < 0)
		return r;
	req.info.sel.family = req.info.family = (uint16_t)family;
	req.info.id.proto = IPPROTO_ESP;
	req.info.reqid = reqid;
	req.info.mode = XFRM_MODE_TRANSPORT;
	req.min = NL_XFRM_SPI_MIN;
	req.max = NL_XFRM_SPI_MAX;
	msg = nlmsg_alloc_simple(XFRM_MSG_ALLOCSPI, 0);
	if (!msg)
		return -ENOMEM;
	if (nlmsg_append(msg, &req, sizeof(req), NLMSG_ALIGNTO) < 0) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	nl_xfrm_begin(x);
	r = nl_send_auto(x->sock, msg);
	nlmsg_free(msg);
	if (r >= 0)
		r = nl_socket_modify_cb(x->sock, NL_CB_VALID, NL_CB_CUSTOM, on_alloc_reply, &spi);
	if (r >= 0)
		r = nl_recvmsgs_default(x->sock);
	if (r >= 0)
		r = nl_wait_for_ack(x->sock);
	nl_socket_modify_cb(x->sock, NL_CB_VALID, NL_CB_DEFAULT, NULL, NULL);
	if (r < 0)
		return nl_xfrm_result(x, r);
	if (spi < NL_XFRM_SPI_MIN || spi > NL_XFRM_SPI_MAX)
		return -EPROTO;
	*ret_spi = spi;
	return 0;
}

int nl_xfrm_socket_bypass(int fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int level, opt;

	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
		return -errno;
	if (ss.ss_family == AF_INET) {
		level = IPPROTO_IP;
		opt = IP_XFRM_POLICY;
	} else if (ss.ss_family == AF_INET6) {
		level = IPPROTO_IPV6;
		opt = IPV6_XFRM_POLICY;
	} else {
		return -EAFNOSUPPORT;
	}
	for (int dir = XFRM_POLICY_IN; dir <= XFRM_POLICY_OUT; dir++) {
		struct xfrm_userpolicy_info pol = { 0 };

		pol.lft.soft_byte_limit = pol.lft.hard_byte_limit = XFRM_INF;
		pol.lft.soft_packet_limit = pol.lft.hard_packet_limit = XFRM_INF;
		pol.dir = (uint8_t)dir;
		pol.action = XFRM_POLICY_ALLOW;
		pol.sel.family = ss.ss_family;
		if (setsockopt(fd, level, opt, &pol, sizeof(pol)) < 0)
			return -errno;
	}
	return 0;
}
