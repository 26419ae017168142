/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test program for the ESP guest test (tests/qemu/esp-guest.sh), not installed:
 * the node side of the ESP agreement (common/esp-session.c) with a random, so
 * wrong, Kc for a key ID the MAS knows, against the real m2msa-espd, with the
 * real XFRM ops (netlink/esp-pair.c). The guest asserts that the handshake
 * fails with the clear error and that nothing was installed.
 *   esp-wrong-kc KEY_ID ADDRESS:PORT
 * Prints the error on stderr. Exit 0: failed as a wrong Kc must (-EACCES);
 * 1: another failure; 2: bad arguments; 3: the agreement succeeded (a defect).
 */
#include <wolfssl/options.h>

#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include "common/crypto.h"
#include "common/esp-session.h"
#include "common/frame.h"
#include "common/secret.h"
#include "common/tls.h"
#include "netlink/esp-pair.h"
#include "netlink/esp-xfrm.h"

/* A reqid of m2msad's range that the agent (base + 1 + peer index) does not use. */
#define WRONG_KC_REQID (NL_XFRM_REQID_AGENT + 0x100u)

static int connect_bypass(const char *host, uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd, r;

	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		return -EINVAL;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* Like m2msad: the agreement passes the blocking policies. */
	r = nl_xfrm_socket_bypass(fd);
	if (r == 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		r = -errno;
	if (r == 0)
		r = frame_set_timeouts(fd, 10000);
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

static int run(const char *key_id, int fd, struct nl_xfrm *x, WOLFSSL_CTX *ctx)
{
	char local[ESP_ADDR_MAX], peer[ESP_ADDR_MAX], err[ESP_SESSION_ERR_MAX] = "";
	_cleanup_key32_ struct key32 kc = { { 0 } };
	struct esp_node_request req = { .key_id = key_id, .kc = kc.b,
					.expiry = (uint64_t)time(NULL) + 3600,
					.local = local, .peer = peer, .reqid = WRONG_KC_REQID,
					.sel = { .mode = ESP_MODE_TRANSPORT } };
	struct esp_pair pair;
	int r;

	r = crypto_random(kc.b, sizeof(kc.b));
	if (r == 0)
		r = esp_sock_addr(fd, false, local, sizeof(local));
	if (r == 0)
		r = esp_sock_addr(fd, true, peer, sizeof(peer));
	if (r < 0) {
		fprintf(stderr, "esp-wrong-kc: setup: %s\n", strerror(-r));
		return 1;
	}
	r = esp_session_node(ctx, fd, &req, &nl_esp_pair_ops, x, &pair, err, sizeof(err));
	if (r == 0) {
		fprintf(stderr, "esp-wrong-kc: the agreement with a wrong Kc succeeded "
			"(SPI in 0x%08" PRIx32 ")\n", pair.spi_in);
		return 3;
	}
	fprintf(stderr, "esp-wrong-kc: %s (%s)\n", err, strerror(-r));
	return r == -EACCES ? 0 : 1;
}

int main(int argc, char **argv)
{
	char host[64];
	uint16_t port;
	struct nl_xfrm *x = NULL;
	WOLFSSL_CTX *ctx = NULL;
	int fd, r;

	if (argc != 3 || tcp_parse_hostport(argv[2], host, sizeof(host), &port) < 0) {
		fprintf(stderr, "usage: esp-wrong-kc KEY_ID ADDRESS:PORT (IPv4)\n");
		return 2;
	}
	r = tls_init();
	if (r == 0)
		r = nl_xfrm_new(&x);
	if (r == 0) {
		ctx = esp_session_client_ctx_new();
		r = ctx ? 0 : -ENOMEM;
	}
	if (r < 0) {
		fprintf(stderr, "esp-wrong-kc: setup: %s\n", strerror(-r));
		nl_xfrm_free(x);
		return 1;
	}
	fd = connect_bypass(host, port);
	if (fd < 0) {
		fprintf(stderr, "esp-wrong-kc: cannot connect to %s: %s\n", argv[2], strerror(-fd));
		r = 1;
	} else {
		r = run(argv[1], fd, x, ctx);
		close(fd);
	}
	wolfSSL_CTX_free(ctx);
	nl_xfrm_free(x);
	return r;
}
