/* SPDX-License-Identifier: Apache-2.0 */
/*
 * netlink/esp-xfrm against the real kernel, each test in its own network
 * namespace (unshare(CLONE_NEWNET) in the forked test process). iproute2's
 * `ip xfrm` is the independent reader. SPI allocation and policies work on any
 * kernel with xfrm_user; the tests that install ESP states need esp4 and
 * rfc4106(gcm(aes)) and skip with a message where the kernel lacks them (this
 * build machine's kernel does; Debian's kernel in the qemu guest test has them,
 * and the guest runs this program too: tests/qemu/).
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/util.h"
#include "harness.h"
#include "ip-fixture.h"
#include "netlink/esp-xfrm.h"

#define REQID (NL_XFRM_REQID_BASE + 7)
#define LOCAL "192.0.2.1"
#define PEER "192.0.2.2"

static struct nl_xfrm *x;

static void enter_netns(void)
{
	int r;

	if (geteuid() != 0)
		cr_skip_test("needs root: creates a network namespace and XFRM states");
	if (!harness_have_program("ip"))
		cr_skip_test("the ip command is missing (apt install iproute2)");
	if (unshare(CLONE_NEWNET) < 0)
		cr_skip_test("unshare(CLONE_NEWNET) failed: %s", strerror(errno));
	r = nl_xfrm_new(&x);
	if (r == -EPROTONOSUPPORT)
		cr_skip_test("the kernel has no xfrm_user (NETLINK_XFRM)");
	cr_assert_eq(r, 0, "nl_xfrm_new: %s", strerror(-r));
}

static void fini(void)
{
	nl_xfrm_free(x);
	x = NULL;
}

static struct nl_xfrm_state state(const char *src, const char *dst, uint32_t spi)
{
	struct nl_xfrm_state st = { .spi = spi, .reqid = REQID, .mode = NL_XFRM_MODE_TRANSPORT,
				    .sel = { .proto = 6, .dport = 443 }, .soft_s = 50, .hard_s = 60 };

	snprintf(st.src, sizeof(st.src), "%s", src);
	snprintf(st.dst, sizeof(st.dst), "%s", dst);
	for (size_t i = 0; i < sizeof(st.key); i++)
		st.key[i] = (uint8_t)(0xa0 + i);
	return st;
}

/* Add st, or skip the test when the kernel has no ESP/GCM (this build machine). */
static void add_or_skip(const struct nl_xfrm_state *st, bool update)
{
	int r = nl_xfrm_state_add(x, st, update);

	if (r == -ENOENT || r == -EPROTONOSUPPORT || r == -EOPNOTSUPP || r == -ENOSYS)
		cr_skip_test("the kernel cannot add an ESP state with %s (%s): no esp4 or GCM; "
			     "the qemu guest test (tests/qemu/) runs this with Debian's kernel",
			     NL_XFRM_AEAD_NAME, strerror(-r));
	cr_assert_eq(r, 0, "nl_xfrm_state_add: %s", strerror(-r));
}

TestSuite(xfrm, .init = enter_netns, .fini = fini);

Test(xfrm, alloc_spi_is_in_range_and_unique)
{
	uint32_t a = 0, b = 0;
	char *out;

	cr_assert_eq(nl_xfrm_alloc_spi(x, PEER, LOCAL, REQID, &a), 0);
	cr_assert_eq(nl_xfrm_alloc_spi(x, PEER, LOCAL, REQID, &b), 0);
	cr_assert(a >= NL_XFRM_SPI_MIN && a <= NL_XFRM_SPI_MAX, "SPI %#x", a);
	cr_assert(b >= NL_XFRM_SPI_MIN && b <= NL_XFRM_SPI_MAX, "SPI %#x", b);
	cr_assert_neq(a, b);
	out = ip_fx_out("xfrm state");
	cr_assert(strstr(out, "src " PEER " dst " LOCAL), "ip xfrm state: %s", out);
	free(out);
}

Test(xfrm, alloc_spi_refuses_foreign_reqid_and_bad_addresses)
{
	uint32_t spi = 0;

	cr_assert_eq(nl_xfrm_alloc_spi(x, PEER, LOCAL, 5, &spi), -EINVAL);
	cr_assert_eq(nl_xfrm_alloc_spi(x, PEER, "::1", REQID, &spi), -EINVAL);
	cr_assert_eq(nl_xfrm_alloc_spi(x, "nonsense", LOCAL, REQID, &spi), -EINVAL);
	cr_assert_eq(spi, 0);
}

Test(xfrm, policies_install_and_delete)
{
	struct nl_xfrm_state out_st = state(LOCAL, PEER, 0x1000), in_st = state(PEER, LOCAL, 0x1001);
	char *out;

	cr_assert_eq(nl_xfrm_policy_add(x, NL_XFRM_DIR_OUT, &out_st), 0);
	cr_assert_eq(nl_xfrm_policy_add(x, NL_XFRM_DIR_IN, &in_st), 0);
	/* Replacing is fine (UPDPOLICY). */
	cr_assert_eq(nl_xfrm_policy_add(x, NL_XFRM_DIR_OUT, &out_st), 0);
	out = ip_fx_out("xfrm policy");
	/* "proto 6" where /etc/protocols is missing (the qemu guest). */
	cr_assert(strstr(out, "src " LOCAL "/32 dst " PEER "/32 proto tcp dport 443") ||
		  strstr(out, "src " LOCAL "/32 dst " PEER "/32 proto 6 dport 443"), "%s", out);
	cr_assert(strstr(out, "dir out"), "%s", out);
	cr_assert(strstr(out, "dir in"), "%s", out);
	cr_assert(strstr(out, "proto esp reqid 1831993351 mode transport"), "%s", out);
	free(out);
	cr_assert_eq(nl_xfrm_policy_del(x, NL_XFRM_DIR_OUT, &out_st), 0);
	cr_assert_eq(nl_xfrm_policy_del(x, NL_XFRM_DIR_OUT, &out_st), -ENOENT);
	out = ip_fx_out("xfrm policy");
	cr_assert_null(strstr(out, "dir out"), "%s", out);
	cr_assert(strstr(out, "dir in"), "%s", out);
	free(out);
}

static void sysctl_write(const char *path, const char *value)
{
	FILE *f = fopen(path, "we");

	cr_assert_not_null(f, "cannot open %s: %s", path, strerror(errno));
	cr_assert_geq(fputs(value, f), 0);
	cr_assert_eq(fclose(f), 0, "cannot write %s", path);
}

/* Send one UDP datagram 127.0.0.1 -> 127.0.0.2:9999; true when it arrives in 300 ms. */
static bool udp_passes_bypass(bool bypass)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(9999) };
	struct sockaddr_in b = { .sin_family = AF_INET };
	struct pollfd p;
	int rx, tx, n;
	bool got;

	inet_pton(AF_INET, "127.0.0.2", &a.sin_addr);
	inet_pton(AF_INET, "127.0.0.1", &b.sin_addr);
	rx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	tx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert(rx >= 0 && tx >= 0);
	cr_assert_eq(bind(rx, (struct sockaddr *)&a, sizeof(a)), 0, "bind: %s", strerror(errno));
	cr_assert_eq(bind(tx, (struct sockaddr *)&b, sizeof(b)), 0, "bind: %s", strerror(errno));
	if (bypass)
		cr_assert_eq(nl_xfrm_socket_bypass(tx), 0);
	n = (int)sendto(tx, "clear", 5, 0, (struct sockaddr *)&a, sizeof(a));
	(void)n; /* blocked: EAGAIN or a silent drop, depending on xfrm_larval_drop */
	p = (struct pollfd){ .fd = rx, .events = POLLIN };
	got = poll(&p, 1, 300) == 1;
	close(rx);
	close(tx);
	return got;
}

static bool udp_passes(void)
{
	return udp_passes_bypass(false);
}

Test(xfrm, required_policy_blocks_clear_traffic)
{
	struct nl_xfrm_state out_st = state("127.0.0.1", "127.0.0.2", 0x1000);

	out_st.sel = (struct nl_xfrm_sel){ 0 };
	ip_fx("link set lo up");
	ip_fx("addr add 127.0.0.2/8 dev lo");
	/* Loopback skips XFRM by default (disable_xfrm=1, this namespace only). */
	sysctl_write("/proc/sys/net/ipv4/conf/lo/disable_xfrm", "0");
	sysctl_write("/proc/sys/net/ipv4/conf/lo/disable_policy", "0");
	cr_assert(udp_passes(), "control: without a policy the datagram must arrive");
	cr_assert_eq(nl_xfrm_policy_add(x, NL_XFRM_DIR_OUT, &out_st), 0);
	cr_assert_not(udp_passes(), "with a required ESP policy and no state, clear traffic passed");
	cr_assert(udp_passes_bypass(true), "a socket with the bypass policy must get through");
	cr_assert_eq(nl_xfrm_policy_del(x, NL_XFRM_DIR_OUT, &out_st), 0);
	cr_assert(udp_passes(), "after deleting the policy the datagram must arrive again");
}

Test(xfrm, flush_owned_leaves_foreign_entries)
{
	struct nl_xfrm_state out_st = state(LOCAL, PEER, 0x1000);
	uint32_t spi = 0;
	char *out;
	int n;

	cr_assert_eq(nl_xfrm_policy_add(x, NL_XFRM_DIR_OUT, &out_st), 0);
	cr_assert_eq(nl_xfrm_alloc_spi(x, PEER, LOCAL, REQID, &spi), 0);
	ip_fx("xfrm policy add src 198.51.100.1/32 dst 198.51.100.2/32 dir out "
	      "tmpl src 198.51.100.1 dst 198.51.100.2 proto esp reqid 1 mode transport");
	/* The other owner's range first: nothing of ours goes. */
	cr_assert_eq(nl_xfrm_flush_owned(x, NL_XFRM_REQID_ESPD, NL_XFRM_REQID_OWNER_MASK), 0);
	n = nl_xfrm_flush_owned(x, NL_XFRM_REQID_AGENT, NL_XFRM_REQID_OWNER_MASK);
	cr_assert_geq(n, 1, "flush: %s", n < 0 ? strerror(-n) : "nothing deleted");
	out = ip_fx_out("xfrm policy");
	cr_assert_null(strstr(out, PEER), "%s", out);
	cr_assert(strstr(out, "198.51.100.2"), "the foreign policy went too: %s", out);
	free(out);
	out = ip_fx_out("xfrm state");
	cr_assert_null(strstr(out, "src " PEER), "%s", out);
	free(out);
	cr_assert_eq(nl_xfrm_flush_owned(x, NL_XFRM_REQID_BASE, NL_XFRM_REQID_MASK), 0);
}

Test(xfrm, state_refuses_bad_parameters)
{
	struct nl_xfrm_state st = state(LOCAL, PEER, 0xc0000001);

	st.reqid = 1;
	cr_assert_eq(nl_xfrm_state_add(x, &st, false), -EINVAL);
	st = state(LOCAL, "2001:db8::1", 0xc0000001);
	cr_assert_eq(nl_xfrm_state_add(x, &st, false), -EINVAL);
	st = state(LOCAL, PEER, 0xc0000001);
	st.sel.proto = 1; /* ICMP with a port */
	cr_assert_eq(nl_xfrm_state_add(x, &st, false), -EINVAL);
	st = state(LOCAL, PEER, 0xc0000001);
	st.soft_s = 61;
	cr_assert_eq(nl_xfrm_state_add(x, &st, false), -EINVAL);
	st = state(LOCAL, PEER, 0);
	cr_assert_eq(nl_xfrm_state_add(x, &st, false), -EINVAL);
}

Test(xfrm, state_add_get_delete)
{
	struct nl_xfrm_state st = state(LOCAL, PEER, 0xc0000042);
	struct nl_xfrm_state_info info;
	char *out;

	add_or_skip(&st, false);
	cr_assert_eq(nl_xfrm_state_add(x, &st, false), -EEXIST);
	cr_assert_eq(nl_xfrm_state_get(x, PEER, 0xc0000042, &info), 0);
	cr_assert_eq(info.spi, 0xc0000042u);
	cr_assert_eq(info.reqid, REQID);
	cr_assert_str_eq(info.aead, NL_XFRM_AEAD_NAME);
	cr_assert_eq(info.icv_bits, NL_XFRM_ICV_BITS);
	cr_assert_eq(info.key_len, NL_XFRM_AEAD_KEY_LEN);
	cr_assert_arr_eq(info.key, st.key, NL_XFRM_AEAD_KEY_LEN);
	cr_assert_eq(info.soft_s, 50);
	cr_assert_eq(info.hard_s, 60);
	out = ip_fx_out("-s xfrm state");
	/* Count limits are XFRM_INF (ip prints "(INF)"), never 0 (= expire at once). */
	cr_assert(strstr(out, "soft (INF)(packets), hard (INF)(packets)"), "%s", out);
	cr_assert(strstr(out, "soft (INF)(bytes), hard (INF)(bytes)"), "%s", out);
	free(out);
	cr_assert_eq(nl_xfrm_state_del(x, PEER, 0xc0000042), 0);
	cr_assert_eq(nl_xfrm_state_get(x, PEER, 0xc0000042, &info), -ENOENT);
	cr_assert_eq(nl_xfrm_state_del(x, PEER, 0xc0000042), -ENOENT);
}

Test(xfrm, allocated_spi_is_filled_by_update)
{
	struct nl_xfrm_state st;
	struct nl_xfrm_state_info info;
	uint32_t spi = 0;

	cr_assert_eq(nl_xfrm_alloc_spi(x, PEER, LOCAL, REQID, &spi), 0);
	st = state(PEER, LOCAL, spi);
	add_or_skip(&st, true);
	cr_assert_eq(nl_xfrm_state_get(x, LOCAL, spi, &info), 0);
	cr_assert_arr_eq(info.key, st.key, NL_XFRM_AEAD_KEY_LEN);
}

/* The next expire event within timeout_ms, or false. */
static bool next_expire(struct nl_xfrm_monitor *m, int timeout_ms, bool *got, bool *hard,
			struct nl_xfrm_expire_event *ev);

static struct nl_xfrm_expire_event seen[8];
static size_t n_seen;

static void on_expire(const struct nl_xfrm_expire_event *ev, void *userdata)
{
	(void)userdata;
	if (n_seen < ARRAY_SIZE(seen))
		seen[n_seen++] = *ev;
}

static bool next_expire(struct nl_xfrm_monitor *m, int timeout_ms, bool *got, bool *hard,
			struct nl_xfrm_expire_event *ev)
{
	struct pollfd p = { .fd = nl_xfrm_monitor_fd(m), .events = POLLIN };
	size_t before = n_seen;

	while (n_seen == before) {
		if (poll(&p, 1, timeout_ms) <= 0)
			return false;
		cr_assert_eq(nl_xfrm_monitor_process(m), 0);
	}
	*ev = seen[before];
	*got = true;
	*hard = ev->hard;
	return true;
}

Test(xfrm, soft_then_hard_expiry_is_reported)
{
	struct nl_xfrm_state st = state(LOCAL, PEER, 0xc0000077);
	struct nl_xfrm_monitor *m = NULL;
	struct nl_xfrm_expire_event ev;
	bool got = false, hard = false;

	st.soft_s = 1;
	st.hard_s = 2;
	cr_assert_eq(nl_xfrm_monitor_new(on_expire, NULL, &m), 0);
	add_or_skip(&st, false);
	cr_assert(next_expire(m, 4000, &got, &hard, &ev), "no soft expiry within 4 s");
	cr_assert_not(hard);
	cr_assert_eq(ev.spi, 0xc0000077u);
	cr_assert_eq(ev.reqid, REQID);
	cr_assert_str_eq(ev.dst, PEER);
	cr_assert(next_expire(m, 4000, &got, &hard, &ev), "no hard expiry within 4 s");
	cr_assert(hard);
	nl_xfrm_monitor_free(m);
}
