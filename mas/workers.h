/* SPDX-License-Identifier: Apache-2.0 */
/*
 * m2masd's worker threads ([mas] workers, docs/architecture.md "Event loops"):
 * besides the primary server on the main thread, n more threads each run one
 * mas_server (server.h) with its own loop, its own SO_REUSEPORT listeners, its
 * own store connection and Zn client (made by the caller's init callback), and
 * share the rate limiter, the connection budgets, the Ks_NAF cache and the
 * metrics with the primary. The main thread keeps the signals, sd_notify, the
 * metrics responder and the purge timer; it stops the workers through their
 * eventfds and joins them.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "mas/exchange.h"
#include "mas/server.h"

/* [mas] workers = 0 takes one per online CPU, up to this many. */
#define MAS_WORKERS_MAX_AUTO 64

struct loop;
struct mas_workers;

/*
 * A worker's own resources, made on the main thread before the worker starts:
 * ctx->store (and ctx->zn on the worker's loop, when method gba is on). Returns
 * 0 or -errno with a message in err, and then leaves nothing behind. fini
 * undoes it after the worker stopped.
 */
typedef int (*mas_worker_init_fn)(struct mas_ctx *ctx, struct loop *loop, void *userdata,
				  char *err, size_t err_len);
typedef void (*mas_worker_fini_fn)(struct mas_ctx *ctx, void *userdata);

/*
 * Start n workers beside primary (made with reuseport); each gets a copy of
 * base (the shared rate limiter, cache, metrics, settings) with its own store
 * and Zn client from init. n 0: nothing to start (*ret NULL). On failure the
 * started ones are stopped again; -errno with a message in err.
 */
int mas_workers_start(struct mas_server *primary, const struct mas_ctx *base, size_t n,
		      mas_worker_init_fn init, mas_worker_fini_fn fini, void *userdata,
		      struct mas_workers **ret, char *err, size_t err_len);
/* SIGHUP: the default association lifetime in every worker's context. */
void mas_workers_set_lifetime(struct mas_workers *w, uint64_t lifetime);
/* Stop every worker (eventfd), join its thread, free it and its resources. NULL is fine. */
void mas_workers_stop(struct mas_workers *w);

/* [mas] workers = 0: the online CPUs this process may run on (its affinity), at least 1. */
unsigned mas_workers_default(void);
