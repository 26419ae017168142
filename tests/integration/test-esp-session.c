/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ESP agreement (common/esp-session.c) over real wolfSSL TLS 1.3 on
 * 127.0.0.1: the node end and the target end run in two threads of this test.
 * The kernel side is a recorder of what would be installed (named so: this
 * machine's kernel has no ESP; the qemu guest test installs for real). It
 * checks that both ends agree on SPIs and derive the same keys crosswise, that
 * a wrong Kc fails the handshake with a clear error and allocates and installs
 * nothing, and that refusals reach the node with the target's reason.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/esp-session.h"
#include "common/frame.h"
#include "common/tls.h"

#define KEY_ID "00112233445566778899aabbccddeeff@mas.example"
#define NODE_ADDR "192.0.2.10"
#define TARGET_ADDR "192.0.2.20"
#define REQID_NODE 0x6d320001u
#define REQID_TARGET 0x6d320002u

/* Records what one end's kernel would get (a stand-in: no ESP in this kernel). */
struct recording_kernel {
	uint32_t next_spi;
	int n_alloc;
	int n_install;
	struct esp_pair installed; /* with keys, copied during install() */
	int fail_install;          /* -errno to return from install() */
};

static int rec_alloc(void *userdata, const char *src, const char *dst, uint32_t reqid,
		     uint32_t *ret_spi)
{
	struct recording_kernel *k = userdata;

	(void)src;
	(void)dst;
	(void)reqid;
	k->n_alloc++;
	*ret_spi = k->next_spi++;
	return 0;
}

static int rec_install(void *userdata, const struct esp_pair *p)
{
	struct recording_kernel *k = userdata;

	if (k->fail_install)
		return k->fail_install;
	k->n_install++;
	k->installed = *p;
	return 0;
}

static const struct esp_kernel_ops recording_ops = { rec_alloc, rec_install };

static uint8_t target_kc[ESP_KC_LEN], node_kc[ESP_KC_LEN];
static uint64_t kc_expiry;
static bool allow_all = true;
static uint64_t target_expiry;  /* 0: kc_expiry */
static int target_fail_install; /* -errno for the target's install */
static const char *node_key_id;

static int lookup(void *userdata, const char *key_id, uint8_t kc[ESP_KC_LEN],
		  uint64_t *ret_expiry, char *err, size_t err_len)
{
	(void)userdata;
	if (strcmp(key_id, KEY_ID) != 0) {
		snprintf(err, err_len, "MAS refused key ID %s: unknown-key", key_id);
		return -EACCES;
	}
	memcpy(kc, target_kc, ESP_KC_LEN);
	*ret_expiry = target_expiry ? target_expiry : kc_expiry;
	return 0;
}

static bool allowed(void *userdata, const char *key_id, const struct esp_selectors *sel)
{
	(void)userdata;
	(void)key_id;
	return allow_all || sel->proto == IPPROTO_UDP;
}

struct target_run {
	int fd;
	struct recording_kernel kernel;
	struct esp_pair pair;
	char key_id[ESP_WIRE_REASON_MAX + 1];
	char err[ESP_SESSION_ERR_MAX];
	int r;
};

static void *target_thread(void *arg)
{
	struct target_run *t = arg;
	struct esp_target_conf conf = { .local = TARGET_ADDR, .peer = NODE_ADDR,
					.reqid = REQID_TARGET, .lookup = lookup,
					.allowed = allowed };
	WOLFSSL_CTX *ctx = esp_session_server_ctx_new();

	cr_assert_not_null(ctx);
	t->r = esp_session_target(ctx, t->fd, &conf, &recording_ops, &t->kernel, &t->pair,
				  t->key_id, t->err, sizeof(t->err));
	wolfSSL_CTX_free(ctx);
	close(t->fd);
	return NULL;
}

struct node_run {
	struct recording_kernel kernel;
	struct esp_pair pair;
	char err[ESP_SESSION_ERR_MAX];
	int r;
};

/* One session over a real TCP connection on 127.0.0.1. */
static void run(struct esp_selectors sel, struct node_run *n, struct target_run *t)
{
	struct esp_node_request req = { .key_id = node_key_id, .kc = node_kc, .expiry = kc_expiry,
					.local = NODE_ADDR, .peer = TARGET_ADDR,
					.reqid = REQID_NODE, .sel = sel };
	uint16_t port = 0;
	int lfd, fd;
	pthread_t th;
	WOLFSSL_CTX *ctx;

	memset(n, 0, sizeof(*n));
	memset(t, 0, sizeof(*t));
	n->kernel.next_spi = 0xc0000100;
	t->kernel.next_spi = 0xc0000900;
	t->kernel.fail_install = target_fail_install;
	lfd = tcp_listen("127.0.0.1", 0, &port);
	cr_assert_geq(lfd, 0);
	fd = tcp_connect("127.0.0.1", port, 2000);
	cr_assert_geq(fd, 0);
	for (int i = 0; i < 200 && (t->fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) < 0; i++)
		usleep(10000);
	cr_assert_geq(t->fd, 0, "accept: %s", strerror(errno));
	close(lfd);
	/* accept4 on a non-blocking listener gives a blocking socket on Linux. */
	cr_assert_eq(frame_set_timeouts(t->fd, 5000), 0);
	cr_assert_eq(frame_set_timeouts(fd, 5000), 0);
	cr_assert_eq(pthread_create(&th, NULL, target_thread, t), 0);
	ctx = esp_session_client_ctx_new();
	cr_assert_not_null(ctx);
	n->r = esp_session_node(ctx, fd, &req, &recording_ops, &n->kernel, &n->pair, n->err,
				sizeof(n->err));
	close(fd);
	cr_assert_eq(pthread_join(th, NULL), 0);
	wolfSSL_CTX_free(ctx);
}

static void setup(void)
{
	for (size_t i = 0; i < ESP_KC_LEN; i++)
		target_kc[i] = node_kc[i] = (uint8_t)(0x40 + i);
	kc_expiry = (uint64_t)time(NULL) + 3600;
	allow_all = true;
	target_expiry = 0;
	target_fail_install = 0;
	node_key_id = KEY_ID;
}

TestSuite(esp_session, .init = setup);

static const struct esp_selectors tcp_443 = { .mode = ESP_MODE_TRANSPORT, .proto = IPPROTO_TCP,
					      .target_port = 443 };

Test(esp_session, both_ends_agree_on_spis_and_keys)
{
	struct node_run n;
	struct target_run t;
	static const uint8_t zero[ESP_WIRE_SA_KEY_LEN];

	run(tcp_443, &n, &t);
	cr_assert_eq(n.r, 0, "node: %s", n.err);
	cr_assert_eq(t.r, 0, "target: %s", t.err);
	cr_assert_str_eq(t.key_id, KEY_ID);
	cr_assert_eq(n.kernel.n_alloc, 1);
	cr_assert_eq(t.kernel.n_alloc, 1);
	cr_assert_eq(n.kernel.n_install, 1);
	cr_assert_eq(t.kernel.n_install, 1);
	/* SPIs crosswise: each end's inbound is the other's outbound. */
	cr_assert_eq(n.pair.spi_in, 0xc0000100u);
	cr_assert_eq(t.pair.spi_in, 0xc0000900u);
	cr_assert_eq(n.pair.spi_out, t.pair.spi_in);
	cr_assert_eq(t.pair.spi_out, n.pair.spi_in);
	cr_assert(esp_selectors_equal(&n.pair.sel, &t.pair.sel));
	cr_assert(n.pair.node_side);
	cr_assert_not(t.pair.node_side);
	cr_assert_str_eq(n.pair.peer, TARGET_ADDR);
	cr_assert_str_eq(t.pair.peer, NODE_ADDR);
	/* Keys crosswise, distinct per direction, not zero. */
	cr_assert_arr_eq(n.kernel.installed.key_out, t.kernel.installed.key_in, ESP_WIRE_SA_KEY_LEN);
	cr_assert_arr_eq(n.kernel.installed.key_in, t.kernel.installed.key_out, ESP_WIRE_SA_KEY_LEN);
	cr_assert_arr_neq(n.kernel.installed.key_in, n.kernel.installed.key_out, ESP_WIRE_SA_KEY_LEN);
	cr_assert_arr_neq(n.kernel.installed.key_in, zero, ESP_WIRE_SA_KEY_LEN);
	/* The returned pairs carry no keys. */
	cr_assert_arr_eq(n.pair.key_in, zero, ESP_WIRE_SA_KEY_LEN);
	cr_assert_arr_eq(t.pair.key_out, zero, ESP_WIRE_SA_KEY_LEN);
	/* Lifetimes from Kc's expiry: hard = time left, soft = 80 %. */
	cr_assert(n.pair.hard_s >= 3598 && n.pair.hard_s <= 3600, "hard %llu",
		  (unsigned long long)n.pair.hard_s);
	cr_assert(n.pair.soft_s >= 2878 && n.pair.soft_s <= 2880, "soft %llu",
		  (unsigned long long)n.pair.soft_s);
	cr_assert(t.pair.hard_s >= 3598 && t.pair.hard_s <= 3600);
	cr_assert_eq(t.pair.expiry, kc_expiry);
}

Test(esp_session, two_sessions_give_different_keys)
{
	struct node_run n1, n2;
	struct target_run t1, t2;

	run(tcp_443, &n1, &t1);
	run(tcp_443, &n2, &t2);
	cr_assert_eq(n1.r, 0, "%s", n1.err);
	cr_assert_eq(n2.r, 0, "%s", n2.err);
	/* psk_dhe_ke: a fresh ECDHE share per session, so fresh ESP keys with the same Kc. */
	cr_assert_arr_neq(n1.kernel.installed.key_out, n2.kernel.installed.key_out,
			  ESP_WIRE_SA_KEY_LEN);
}

Test(esp_session, wrong_kc_fails_clearly_and_installs_nothing)
{
	struct node_run n;
	struct target_run t;

	node_kc[0] ^= 1;
	run(tcp_443, &n, &t);
	cr_assert_eq(n.r, -EACCES, "node: %d %s", n.r, n.err);
	cr_assert_eq(t.r, -EACCES, "target: %d %s", t.r, t.err);
	cr_assert(strstr(n.err, "PSK handshake") && strstr(n.err, KEY_ID) &&
		  strstr(n.err, "wrong or expired Kc"), "node error: %s", n.err);
	cr_assert(strstr(t.err, KEY_ID) && strstr(t.err, "another Kc"), "target error: %s", t.err);
	cr_assert_eq(n.kernel.n_alloc + n.kernel.n_install, 0);
	cr_assert_eq(t.kernel.n_alloc + t.kernel.n_install, 0);
}

Test(esp_session, node_refuses_its_expired_kc)
{
	struct node_run n;
	struct target_run t;

	kc_expiry = (uint64_t)time(NULL) - 1;
	run(tcp_443, &n, &t);
	cr_assert_eq(n.r, -ESTALE, "node: %d %s", n.r, n.err);
	cr_assert(strstr(n.err, "expired"), "%s", n.err);
	cr_assert_eq(n.kernel.n_alloc + n.kernel.n_install, 0);
	cr_assert_eq(t.kernel.n_alloc + t.kernel.n_install, 0);
}

Test(esp_session, target_refuses_a_kc_the_mas_says_expired)
{
	struct node_run n;
	struct target_run t;

	target_expiry = (uint64_t)time(NULL) - 10;
	run(tcp_443, &n, &t);
	cr_assert_eq(t.r, -EACCES, "target: %s", t.err);
	cr_assert(strstr(t.err, "expired"), "target error: %s", t.err);
	cr_assert_eq(n.r, -EACCES, "node: %s", n.err);
	cr_assert_eq(n.kernel.n_alloc + t.kernel.n_alloc, 0);
}

Test(esp_session, unknown_key_id_names_the_mas_reason)
{
	struct node_run n;
	struct target_run t;

	node_key_id = "ffeeddccbbaa99887766554433221100@mas.example";
	run(tcp_443, &n, &t);
	cr_assert_eq(t.r, -EACCES);
	cr_assert(strstr(t.err, "unknown-key"), "target error: %s", t.err);
	cr_assert_eq(n.r, -EACCES);
	cr_assert(strstr(n.err, "ffeeddccbbaa99887766554433221100@mas.example"), "%s", n.err);
}

Test(esp_session, target_install_failure_reaches_the_node)
{
	struct node_run n;
	struct target_run t;

	target_fail_install = -ENOSYS;
	run(tcp_443, &n, &t);
	cr_assert_eq(t.r, -ENOSYS, "target: %s", t.err);
	cr_assert_eq(n.r, -EPROTO, "node: %s", n.err);
	cr_assert(strstr(n.err, "kernel"), "node error: %s", n.err);
	cr_assert_eq(n.kernel.n_install, 0);
}

Test(esp_session, refused_selectors_reach_the_node)
{
	struct node_run n;
	struct target_run t;

	allow_all = false;
	run(tcp_443, &n, &t);
	cr_assert_eq(t.r, -EPERM, "target: %s", t.err);
	cr_assert_eq(n.r, -EPROTO, "node: %s", n.err);
	cr_assert(strstr(n.err, "selectors-refused"), "node error: %s", n.err);
	cr_assert(strstr(t.err, "not allowed"), "target error: %s", t.err);
	cr_assert_eq(n.kernel.n_install, 0);
	cr_assert_eq(t.kernel.n_alloc + t.kernel.n_install, 0);
}

Test(esp_session, whole_host_udp_allowed)
{
	struct node_run n;
	struct target_run t;
	struct esp_selectors udp = { .mode = ESP_MODE_TUNNEL, .proto = IPPROTO_UDP };

	allow_all = false;
	run(udp, &n, &t);
	cr_assert_eq(n.r, 0, "node: %s", n.err);
	cr_assert_eq(t.r, 0, "target: %s", t.err);
	cr_assert_eq(t.pair.sel.mode, ESP_MODE_TUNNEL);
}

Test(esp_session, lifetimes)
{
	uint64_t soft = 0, hard = 0;

	cr_assert_eq(esp_lifetimes(1000, 1000, &soft, &hard), -ESTALE);
	cr_assert_eq(esp_lifetimes(1001, 1000, &soft, &hard), 0);
	cr_assert_eq(hard, 1);
	cr_assert_eq(soft, 1);
	cr_assert_eq(esp_lifetimes(1002, 1000, &soft, &hard), 0);
	cr_assert_eq(hard, 2);
	cr_assert_eq(soft, 1);
	cr_assert_eq(esp_lifetimes(1000 + 86400, 1000, &soft, &hard), 0);
	cr_assert_eq(hard, 86400);
	cr_assert_eq(soft, 69120);
}
