/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What every worker of one m2masd shares (docs/architecture.md "Event loops"):
 * the connection budgets per source, the connection counts against
 * --max-connections and the retrieval port's share, the timeouts (changed on
 * SIGHUP by the main thread, read by every worker) and the log throttles for
 * refused and hostile connections. Safe to use from any worker thread: the
 * counts and timeouts are atomics, the budgets hold their own mutex
 * (connbudget.h), the throttles are under one mutex here.
 */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/log-throttle.h"
#include "mas/connbudget.h"
#include "mas/exchange.h"

struct mas_server_shared {
	struct mas_connbudget *budget[2]; /* [0] establishment, [1] retrieval */
	atomic_size_t n_conns, n_port[2];
	size_t max_conns, max_port[2];
	_Atomic uint64_t handshake_timeout_ms, idle_timeout_ms, first_byte_timeout_ms;
	pthread_mutex_t log_lock;
	struct log_throttle refusals; /* connections over a budget: one line a second */
	struct log_throttle hostile;  /* lines about failed or hostile connections */
	atomic_int worker_error; /* -errno of a worker whose loop failed: m2masd stops */
};

int mas_shared_new(size_t max_conns, size_t retrieval_conns, struct mas_server_shared **ret);
void mas_shared_free(struct mas_server_shared *sh);

/*
 * Admit one connection on a port from the address ss: the global and per-port
 * caps, then the source's budget. 0 (source filled in: release it with
 * mas_shared_release()), else -errno with why filled in for the log.
 */
int mas_shared_admit(struct mas_server_shared *sh, bool retrieval,
		     const struct sockaddr_storage *ss, char source[MAS_SOURCE_MAX], char *why,
		     size_t why_len);
void mas_shared_release(struct mas_server_shared *sh, bool retrieval, const char *source);

/* May one more line about a failed or hostile connection (or a refusal) be logged? */
bool mas_shared_hostile_log(struct mas_server_shared *sh);
bool mas_shared_refusal_log(struct mas_server_shared *sh);
/* The counts of suppressed lines of a second that is over. */
void mas_shared_log_flush(struct mas_server_shared *sh);

/* "addr" and "addr:port" ("[v6]:port") of a peer address. */
void mas_peer_from(const struct sockaddr_storage *ss, struct mas_peer *p);
