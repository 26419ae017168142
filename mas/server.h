/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One m2masd worker's event loop (common/loop.h) with the establishment and
 * retrieval listeners, every connection (non-blocking wolfSSL), and on the
 * primary worker (the main thread's) the signals (SIGTERM, SIGINT: stop;
 * SIGHUP: reload) and a timer that purges expired associations.
 * Each connection carries one exchange (exchange.h) and is closed after its
 * final reply; handshake and idle timeouts and a connection cap keep slow or
 * silent peers from holding the MAS. The server never logs key bytes.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include "common/util.h"
#include "mas/exchange.h"

#define MAS_MAX_CONNS_DEFAULT 1024
#define MAS_RETRIEVAL_CONNS_DEFAULT 128 /* of the maximum, kept for the retrieval port */
#define MAS_FIRST_BYTE_TIMEOUT_MS_DEFAULT 3000
#define MAS_PURGE_INTERVAL_MS (60 * 1000)

struct mas_server;

/*
 * What one source (an IPv4 address or an IPv6 /64) may take (docs/m2masd.md
 * "Connection budgets"). The retrieval port has retrieval_conns of max_conns to
 * itself (at most half), the establishment port the rest, so neither port can
 * starve the other; on each port a source may hold per_source connections and
 * open per_source_rate a second (0: unlimited). A connection that sends no byte
 * within first_byte_timeout_ms is closed; its TLS session is created only then.
 */
struct mas_server_budgets {
	size_t retrieval_conns;
	uint32_t per_source;
	uint32_t per_source_rate;
	uint64_t first_byte_timeout_ms;
};

struct mas_server_conf {
	const char *listen;           /* "host:port" for establishment (port 0: any) */
	const char *retrieval_listen; /* "host:port" for key retrieval */
	WOLFSSL_CTX *est_ctx;         /* server certificate, no client certificate */
	WOLFSSL_CTX *ret_ctx;         /* mutual TLS against the targets' CA */
	size_t max_conns;             /* both ports together; 0: MAS_MAX_CONNS_DEFAULT */
	uint64_t handshake_timeout_ms;
	uint64_t idle_timeout_ms;
	struct mas_server_budgets budgets;
	bool reuseport; /* SO_REUSEPORT listeners: more workers will bind the same ports */
};

/* Called on SIGHUP from the loop; its errors are the callback's to log. */
typedef void (*mas_reload_fn)(struct mas_server *s, void *userdata);

/*
 * Block SIGTERM/SIGINT/SIGHUP, bind both listeners. The contexts and ctx must
 * outlive the server. Returns 0 or -errno with a message in err.
 */
int mas_server_new(const struct mas_server_conf *conf, struct mas_ctx *ctx,
		   struct mas_server **ret, char *err, size_t err_len);
/*
 * One more worker (docs/architecture.md "Event loops"): its own loop and its own
 * SO_REUSEPORT listeners on the primary's addresses, no signals and no purge
 * timer; it shares the primary's budgets, counts, timeouts and log throttles,
 * and uses ctx (its own store connection and Zn client). The primary must have
 * been made with reuseport and must outlive it. Run it with mas_server_run() in
 * its own thread; stop it with mas_server_stop().
 */
int mas_server_new_worker(struct mas_server *primary, struct mas_ctx *ctx,
			  struct mas_server **ret, char *err, size_t err_len);
/* Make mas_server_run() return soon; safe from any thread. */
void mas_server_stop(struct mas_server *s);
/*
 * From a worker's thread once its mas_server_run() failed with error: close the
 * worker's listeners (its share of new connections goes to the others) and stop
 * the primary, whose mas_server_run() then returns error (m2masd exits non-zero).
 */
void mas_server_fail(struct mas_server *primary, struct mas_server *worker, int error);
/* Close every connection and listener; the TLS contexts are the caller's. */
void mas_server_free(struct mas_server *s);
DEFINE_CLEANUP(struct mas_server *, mas_server_free)

void mas_server_ports(const struct mas_server *s, uint16_t *ret_est, uint16_t *ret_ret);
void mas_server_set_timeouts(struct mas_server *s, uint64_t handshake_timeout_ms,
			     uint64_t idle_timeout_ms);
/* SIGHUP: new per-source limits and first-byte timeout (the port split stays). */
void mas_server_set_budgets(struct mas_server *s, const struct mas_server_budgets *b);
void mas_server_set_reload(struct mas_server *s, mas_reload_fn fn, void *userdata);
/* Connections open now, over all workers. */
size_t mas_server_n_conns(const struct mas_server *s);
/* The server's event loop, for more watches (the Zn client, the metrics listener). */
struct loop *mas_server_loop(const struct mas_server *s);

/* Purge expired associations now, then run until SIGTERM/SIGINT. Returns 0 or -errno. */
int mas_server_run(struct mas_server *s);
