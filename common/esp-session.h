/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Both ends of the ESP agreement (docs/protocol.md, "ESP agreement"): a TLS 1.3
 * PSK session (identity = key ID, PSK = Kc, psk_dhe_ke only), ESP_OFFER /
 * ESP_ACCEPT over it, keys from the session's exporter, SAs and policies
 * installed through esp_kernel_ops (netlink/esp-pair.c gives the XFRM one).
 * Blocking on a connected socket whose timeouts the caller set (SO_RCVTIMEO /
 * SO_SNDTIMEO). Nothing is installed unless the handshake and the agreement
 * both succeed. Nothing here logs; failures come back as -errno plus err.
 */
#pragma once

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/esp-wire.h"

#define ESP_SESSION_ERR_MAX 512
#define ESP_ADDR_MAX 46 /* INET6_ADDRSTRLEN */
#define ESP_KC_LEN 32

/*
 * One agreed pair of ESP SAs, as one end sees it. The keys are filled only
 * while esp_kernel_ops.install runs; the copy esp_session_* return has them wiped.
 */
struct esp_pair {
	char local[ESP_ADDR_MAX];
	char peer[ESP_ADDR_MAX];
	bool node_side;           /* we are the node (sel.node_port is our port) */
	struct esp_selectors sel; /* from the node's point of view */
	uint32_t reqid;
	uint32_t spi_in;  /* peer -> us, allocated by our kernel */
	uint32_t spi_out; /* us -> peer, allocated by the peer's kernel */
	uint8_t key_in[ESP_WIRE_SA_KEY_LEN];
	uint8_t key_out[ESP_WIRE_SA_KEY_LEN];
	uint64_t soft_s; /* from now: the rekey point */
	uint64_t hard_s; /* from now: Kc's expiry */
	uint64_t expiry; /* Kc's expiry, epoch seconds */
};

/* Where the SAs go. The XFRM implementation is netlink/esp-pair.c. */
struct esp_kernel_ops {
	/* An inbound SPI for ESP from src (the peer) to dst (us). */
	int (*alloc_spi)(void *userdata, const char *src, const char *dst, uint32_t reqid,
			 uint32_t *ret_spi);
	/* Install both SAs (inbound into the allocated SPI) and both policies. */
	int (*install)(void *userdata, const struct esp_pair *p);
};

/* Wipe the keys of p. */
void esp_pair_wipe(struct esp_pair *p);

/*
 * Soft and hard lifetimes (seconds from now) for a key expiring at expiry:
 * hard = expiry - now, soft = 80 % of it (at least 1 s before hard when hard >= 2).
 * -ESTALE when the key has expired.
 */
int esp_lifetimes(uint64_t expiry, uint64_t now, uint64_t *ret_soft, uint64_t *ret_hard);

/* Client (node) and server (target) contexts: TLS 1.3, one PSK suite, ECDHE groups. */
WOLFSSL_CTX *esp_session_client_ctx_new(void);
/*
 * The lookup gives Kc and its expiry for a key ID, or a negative errno and a
 * reason in err (unknown key, MAS refused, expired...).
 */
typedef int (*esp_key_lookup_fn)(void *userdata, const char *key_id, uint8_t kc[ESP_KC_LEN],
				 uint64_t *ret_expiry, char *err, size_t err_len);
WOLFSSL_CTX *esp_session_server_ctx_new(void);

/* What the node asks for. */
struct esp_node_request {
	const char *key_id;
	const uint8_t *kc; /* ESP_KC_LEN bytes */
	uint64_t expiry;   /* Kc's expiry */
	const char *local; /* our address, numeric */
	const char *peer;  /* m2msa-espd's address, numeric */
	uint32_t reqid;
	struct esp_selectors sel;
};

/*
 * Node side on a connected fd: handshake, allocate our inbound SPI, OFFER,
 * ACCEPT, exporter keys, install. *ret describes what was installed.
 * -EACCES: the handshake failed (wrong Kc, unknown key ID: err says so);
 * -EPROTO: the target refused or answered out of order (err has its reason).
 */
int esp_session_node(WOLFSSL_CTX *ctx, int fd, const struct esp_node_request *req,
		     const struct esp_kernel_ops *ops, void *ops_userdata, struct esp_pair *ret,
		     char *err, size_t err_len);

/* The target's policy: may this node (key ID) have these selectors? */
typedef bool (*esp_selectors_allowed_fn)(void *userdata, const char *key_id,
					 const struct esp_selectors *sel);

struct esp_target_conf {
	const char *local; /* our address, numeric */
	const char *peer;  /* the node's address, numeric (from accept()) */
	uint32_t reqid;
	esp_key_lookup_fn lookup;
	esp_selectors_allowed_fn allowed; /* NULL: everything valid is allowed */
	void *userdata;
};

/*
 * Target side on an accepted fd: handshake (Kc from conf->lookup), OFFER,
 * allocate our inbound SPI, install, ACCEPT. On a refusal the node gets an
 * ESP_ERROR with the reason. key_id (ESP_WIRE_REASON_MAX + 1 bytes, may be
 * NULL) receives the node's key ID once known.
 */
int esp_session_target(WOLFSSL_CTX *ctx, int fd, const struct esp_target_conf *conf,
		       const struct esp_kernel_ops *ops, void *ops_userdata, struct esp_pair *ret,
		       char *key_id, char *err, size_t err_len);

/*
 * The numeric address of fd's local (peer false) or remote end, IPv4-mapped
 * IPv6 addresses as plain IPv4: what the SAs of a session over fd use.
 */
int esp_sock_addr(int fd, bool peer, char *buf, size_t len);
