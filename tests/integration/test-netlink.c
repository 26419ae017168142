/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The uplink monitor against the real kernel. Each test runs in its own process
 * (Criterion forks per test) and moves that process into a fresh network
 * namespace with unshare(CLONE_NEWNET), so the veth pairs and addresses it makes
 * exist only there and vanish with the process. Links change through iproute2's
 * `ip`, a separate implementation of rtnetlink. No packet leaves the namespace.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"
#include "harness.h"
#include "ip-fixture.h"
#include "netlink/uplink.h"

#define EVENT_TIMEOUT_MS 1000
#define QUIET_MS 250

struct recorder {
	struct nl_uplink_event ev[512];
	size_t n;    /* recorded */
	size_t seen; /* consumed by next_event() */
	bool overflow;
};

static struct recorder rec;
static struct nl_uplink *uplink;

static void on_event(const struct nl_uplink_event *ev, void *userdata)
{
	struct recorder *r = userdata;

	if (r->n < ARRAY_SIZE(r->ev))
		r->ev[r->n++] = *ev;
	else
		r->overflow = true;
}

static void fini(void)
{
	nl_uplink_free(uplink);
	uplink = NULL;
}

/* Best effort: IPv6 may be disabled; the tests that need it then fail with a clear message. */
static void sysctl_write(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	if (write(fd, value, strlen(value)) < 0)
		cr_log_warn("cannot write %s: %s", path, strerror(errno));
	close(fd);
}

/* Move this test process into its own network namespace, or skip. */
static void enter_netns(void)
{
	if (geteuid() != 0)
		cr_skip_test("needs root: creates a network namespace and veth pairs "
			     "(run the integration tests as root, e.g. in the CI container)");
	if (!harness_have_program("ip"))
		cr_skip_test("the ip command is missing (apt install iproute2)");
	if (unshare(CLONE_NEWNET) < 0)
		cr_skip_test("unshare(CLONE_NEWNET) failed: %s (no network namespaces here?)",
			     strerror(errno));
	/* Start IPv6 DAD at once on links made later (per namespace, nothing global changes). */
	sysctl_write("/proc/sys/net/ipv6/conf/default/router_solicitation_delay", "0");
}

static void veth_pair(const char *a, const char *b)
{
	ip_fx("link add %s type veth peer name %s", a, b);
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* The next event, polling the monitor's fd for up to timeout_ms; NULL on timeout. */
static const struct nl_uplink_event *next_event(int timeout_ms)
{
	long deadline = now_ms() + timeout_ms;

	while (rec.seen == rec.n) {
		struct pollfd pfd = { .fd = nl_uplink_fd(uplink), .events = POLLIN };
		long left = deadline - now_ms();
		int r;

		if (left <= 0)
			return NULL;
		r = poll(&pfd, 1, (int)left);
		cr_assert_geq(r, 0, "poll: %s", strerror(errno));
		if (r > 0)
			cr_assert_eq(nl_uplink_process(uplink), 0);
	}
	cr_assert_not(rec.overflow);
	return &rec.ev[rec.seen++];
}

static const char *type_name(enum nl_uplink_event_type t)
{
	const char *s = nl_uplink_event_type_to_string(t);

	return s ? s : "?";
}

static void expect(enum nl_uplink_event_type type, const char *ifname, const char *addr)
{
	const struct nl_uplink_event *ev = next_event(EVENT_TIMEOUT_MS);

	cr_assert_not_null(ev, "no %s event for %s %s within 1 s", type_name(type), ifname,
			   addr ? addr : "");
	cr_assert_eq(ev->type, type, "expected %s on %s, got %s on %s %s", type_name(type), ifname,
		     type_name(ev->type), ev->ifname, ev->addr);
	cr_assert_str_eq(ev->ifname, ifname);
	cr_assert_eq(ev->ifindex, (int)if_nametoindex(ifname));
	if (addr)
		cr_assert_str_eq(ev->addr, addr);
	else
		cr_assert_str_empty(ev->addr);
}

static void expect_quiet(int ms)
{
	const struct nl_uplink_event *ev = next_event(ms);

	cr_assert_null(ev, "unexpected %s on %s %s", ev ? type_name(ev->type) : "",
		       ev ? ev->ifname : "", ev ? ev->addr : "");
}

static bool is_up(void)
{
	bool up = false;

	cr_assert_eq(nl_uplink_is_up(uplink, &up), 0);
	return up;
}

static void watch(const char *ifname)
{
	memset(&rec, 0, sizeof(rec));
	cr_assert_eq(nl_uplink_new(ifname, on_event, &rec, &uplink), 0);
}

/* Bring both ends of a pair up and wait (outside the monitor) until a is running. */
static void pair_up_and_wait(const char *a, const char *b)
{
	const char *argv[] = { "ip", "-o", "link", "show", a, NULL };

	ip_fx("link set %s up", b);
	ip_fx("link set %s up", a);
	for (int i = 0; i < 100; i++) {
		char *out = NULL;
		int status = -1;
		bool up;

		cr_assert_eq(harness_run(argv, NULL, NULL, &status, &out, NULL), 0);
		up = status == 0 && strstr(out, "state UP");
		free(out);
		if (up)
			return;
		usleep(10000);
	}
	cr_assert_fail("%s did not come up within 1 s", a);
}

Test(netlink, bad_arguments)
{
	struct nl_uplink *u = NULL;

	cr_assert_eq(nl_uplink_new("an-interface-name-far-too-long", on_event, NULL, &u), -EINVAL);
	cr_assert_eq(nl_uplink_new("eth0", NULL, NULL, &u), -EINVAL);
	cr_assert_eq(nl_uplink_new("a/b", on_event, NULL, &u), -EINVAL);
	cr_assert_null(u, "ret written on failure");
	cr_assert_eq(nl_uplink_process(NULL), -EINVAL);
	cr_assert_eq(nl_uplink_is_up(NULL, &(bool){ false }), -EINVAL);
	cr_assert_null(nl_uplink_event_type_to_string(_NL_UPLINK_EVENT_MAX));
	cr_assert_str_eq(nl_uplink_event_type_to_string(NL_UPLINK_LINK_UP), "link-up");
	nl_uplink_free(NULL);
}

Test(netlink, fd_nonblocking_cloexec, .fini = fini)
{
	int fd, fl;
	long t0;

	enter_netns();
	watch("veth0");
	fd = nl_uplink_fd(uplink);
	cr_assert_geq(fd, 0);
	fl = fcntl(fd, F_GETFD);
	cr_assert(fl >= 0 && (fl & FD_CLOEXEC), "netlink fd is not close-on-exec");
	fl = fcntl(fd, F_GETFL);
	cr_assert(fl >= 0 && (fl & O_NONBLOCK), "netlink fd is blocking");
	/* Nothing pending: returns at once. */
	t0 = now_ms();
	cr_assert_eq(nl_uplink_process(uplink), 0);
	cr_assert_lt(now_ms() - t0, 100);
	cr_assert_eq(rec.n, 0);
	cr_assert_not(is_up(), "veth0 does not exist yet");
}

Test(netlink, initial_state_without_events, .fini = fini)
{
	enter_netns();
	veth_pair("veth0", "veth1");
	pair_up_and_wait("veth0", "veth1");
	ip_fx("addr add 10.200.0.1/24 dev veth0");

	watch("veth0");
	cr_assert(is_up(), "the dump at start did not see veth0 running");
	expect_quiet(QUIET_MS);
}

Test(netlink, link_transitions, .fini = fini)
{
	enter_netns();
	veth_pair("veth0", "veth1");
	watch("veth0");
	cr_assert_not(is_up());

	/* veth1 up alone: veth0 is still administratively down, nothing to report. */
	ip_fx("link set veth1 up");
	expect_quiet(QUIET_MS);
	cr_assert_not(is_up());

	ip_fx("link set veth0 up");
	expect(NL_UPLINK_LINK_UP, "veth0", NULL);
	cr_assert(is_up());

	/* veth0's carrier follows its peer. */
	ip_fx("link set veth1 down");
	expect(NL_UPLINK_LINK_DOWN, "veth0", NULL);
	cr_assert_not(is_up());
	ip_fx("link set veth1 up");
	expect(NL_UPLINK_LINK_UP, "veth0", NULL);
	cr_assert(is_up());

	ip_fx("link set veth0 down");
	expect(NL_UPLINK_LINK_DOWN, "veth0", NULL);
	cr_assert_not(is_up());
	ip_fx("link set veth0 up");
	expect(NL_UPLINK_LINK_UP, "veth0", NULL);
	cr_assert(is_up());

	/*
	 * More RTM_NEWLINK for veth0 without a change of run state: no LINK_UP.
	 * The address added afterwards is the marker: its event must be the next one,
	 * which proves the NEWLINKs before it were read and ignored.
	 */
	ip_fx("link set veth0 mtu 1400");
	ip_fx("link set veth0 alias uplink");
	ip_fx("link set veth0 txqueuelen 500");
	ip_fx("addr add 10.200.0.1/24 dev veth0");
	expect(NL_UPLINK_ADDR_ADDED, "veth0", "10.200.0.1");
	expect_quiet(QUIET_MS);
}

Test(netlink, address_events, .fini = fini)
{
	enter_netns();
	veth_pair("veth0", "veth1");
	/* One DAD probe 50 ms instead of 1 s. */
	sysctl_write("/proc/sys/net/ipv6/neigh/veth0/retrans_time_ms", "50");
	pair_up_and_wait("veth0", "veth1");
	watch("veth0");

	ip_fx("addr add 10.200.0.1/24 dev veth0");
	expect(NL_UPLINK_ADDR_ADDED, "veth0", "10.200.0.1");
	ip_fx("addr add 2001:db8::1/64 dev veth0 nodad");
	expect(NL_UPLINK_ADDR_ADDED, "veth0", "2001:db8::1");
	ip_fx("addr del 10.200.0.1/24 dev veth0");
	expect(NL_UPLINK_ADDR_REMOVED, "veth0", "10.200.0.1");
	ip_fx("addr del 2001:db8::1/64 dev veth0");
	expect(NL_UPLINK_ADDR_REMOVED, "veth0", "2001:db8::1");

	/*
	 * With DAD the kernel announces the address twice (tentative, then usable):
	 * exactly one ADDR_ADDED, once it is usable. Link-local fe80:: addresses
	 * generated meanwhile are never reported (expect_quiet would fail).
	 */
	ip_fx("addr add 2001:db8::2/64 dev veth0");
	expect(NL_UPLINK_ADDR_ADDED, "veth0", "2001:db8::2");
	expect_quiet(QUIET_MS);
}

Test(netlink, other_interface_ignored, .fini = fini)
{
	enter_netns();
	veth_pair("veth0", "veth1");
	veth_pair("veth2", "veth3");
	watch("veth0");

	pair_up_and_wait("veth2", "veth3");
	ip_fx("addr add 10.200.1.1/24 dev veth2");
	ip_fx("link set veth3 down");
	ip_fx("link set veth3 up");
	ip_fx("addr del 10.200.1.1/24 dev veth2");
	cr_assert_not(is_up(), "veth2 running must not count for a monitor of veth0");

	/* The first event must be veth0's, although veth2's came first. */
	ip_fx("link set veth1 up");
	ip_fx("link set veth0 up");
	expect(NL_UPLINK_LINK_UP, "veth0", NULL);
	cr_assert(is_up());
	expect_quiet(QUIET_MS);
}

/* Collect the next two events; both must be `type`, one on each of a and b. */
static void expect_pair(enum nl_uplink_event_type type, const char *a, const char *b)
{
	bool got_a = false, got_b = false;

	for (int i = 0; i < 2; i++) {
		const struct nl_uplink_event *ev = next_event(EVENT_TIMEOUT_MS);

		cr_assert_not_null(ev, "only %d of 2 %s events within 1 s", i, type_name(type));
		cr_assert_eq(ev->type, type, "expected %s, got %s on %s", type_name(type),
			     type_name(ev->type), ev->ifname);
		if (strcmp(ev->ifname, a) == 0 && !got_a)
			got_a = true;
		else if (strcmp(ev->ifname, b) == 0 && !got_b)
			got_b = true;
		else
			cr_assert_fail("unexpected %s on %s", type_name(type), ev->ifname);
	}
}

Test(netlink, any_non_loopback, .fini = fini)
{
	enter_netns();
	veth_pair("veth0", "veth1");
	watch(NULL);
	cr_assert_not(is_up());

	ip_fx("link set lo up");
	ip_fx("addr add 127.0.0.2/8 dev lo");
	expect_quiet(QUIET_MS);
	cr_assert_not(is_up(), "loopback must not count as an uplink");

	ip_fx("link set veth1 up");
	ip_fx("link set veth0 up");
	expect_pair(NL_UPLINK_LINK_UP, "veth0", "veth1");
	cr_assert(is_up());
	ip_fx("addr add 10.200.0.1/24 dev veth1");
	expect(NL_UPLINK_ADDR_ADDED, "veth1", "10.200.0.1");

	ip_fx("link set veth0 down");
	expect_pair(NL_UPLINK_LINK_DOWN, "veth0", "veth1");
	cr_assert_not(is_up());
}

Test(netlink, deleted_and_recreated, .fini = fini)
{
	const struct nl_uplink_event *ev;
	int ifindex;

	enter_netns();
	veth_pair("veth0", "veth1");
	pair_up_and_wait("veth0", "veth1");
	watch("veth0");
	cr_assert(is_up());

	ifindex = (int)if_nametoindex("veth0");
	ip_fx("link del veth0");
	ev = next_event(EVENT_TIMEOUT_MS);
	cr_assert_not_null(ev, "no link-down within 1 s after deleting veth0");
	cr_assert_eq(ev->type, NL_UPLINK_LINK_DOWN);
	cr_assert_str_eq(ev->ifname, "veth0");
	cr_assert_eq(ev->ifindex, ifindex);
	cr_assert_not(is_up());
	expect_quiet(QUIET_MS);

	/* Matched by name: the new veth0 has a new ifindex. */
	veth_pair("veth0", "veth1");
	ip_fx("link set veth1 up");
	ip_fx("link set veth0 up");
	expect(NL_UPLINK_LINK_UP, "veth0", NULL);
	cr_assert(is_up());
}

Test(netlink, overrun_resync, .fini = fini)
{
	enum { N_ADDRS = 120 };
	bool seen[N_ADDRS] = { false };
	bool link_up_again = false;
	char *batch = NULL, *path = NULL, *dir = NULL;
	size_t len = 0;
	FILE *f;
	int rcvbuf = 1; /* the kernel rounds up to its minimum (a few KiB) */

	enter_netns();
	veth_pair("veth0", "veth1");
	pair_up_and_wait("veth0", "veth1");
	watch("veth0");
	cr_assert_eq(setsockopt(nl_uplink_fd(uplink), SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf,
				sizeof(rcvbuf)), 0);

	/* Far more notifications than the shrunken buffer holds, none read meanwhile. */
	f = open_memstream(&batch, &len);
	cr_assert_not_null(f);
	for (int i = 0; i < N_ADDRS; i++)
		fprintf(f, "addr add 10.201.%d.%d/32 dev veth0\n", i / 200, 1 + i % 200);
	fclose(f);
	cr_assert_eq(harness_tmpdir(&dir), 0);
	path = harness_strdupf("%s/batch", dir);
	cr_assert_eq(harness_write_file(path, batch, len, 0600), 0);
	ip_fx("-batch %s", path);
	harness_rmtree(dir);

	/* Read until quiet; the overrun is handled inside nl_uplink_process(). */
	while (next_event(QUIET_MS))
		;
	for (size_t i = 0; i < rec.n; i++) {
		const struct nl_uplink_event *ev = &rec.ev[i];
		unsigned int a, b;

		if (ev->type == NL_UPLINK_LINK_UP) {
			cr_assert_str_eq(ev->ifname, "veth0");
			link_up_again = true;
			continue;
		}
		cr_assert_eq(ev->type, NL_UPLINK_ADDR_ADDED, "unexpected %s", type_name(ev->type));
		cr_assert_eq(sscanf(ev->addr, "10.201.%u.%u", &a, &b), 2, "odd address %s", ev->addr);
		cr_assert(a * 200 + b - 1 < N_ADDRS);
		cr_assert_not(seen[a * 200 + b - 1], "%s reported twice", ev->addr);
		seen[a * 200 + b - 1] = true;
	}
	for (int i = 0; i < N_ADDRS; i++)
		cr_assert(seen[i], "10.201.%d.%d never reported", i / 200, 1 + i % 200);
	/* Only the resync reports a running link again: proof the overrun happened. */
	cr_assert(link_up_again, "no overrun (ENOBUFS) occurred or it was not resynchronised");
	cr_assert(is_up());
	free(batch);
	free(path);
	free(dir);
}
