/* SPDX-License-Identifier: Apache-2.0 */
/* The state m2masd's workers share: budgets, connection counts, timeouts, log throttles. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mas/server-shared.h"

#define BUDGET_SLOTS 4096 /* sources tracked per port */
/* Lines a second about failed or hostile connections before they are only counted. */
#define HOSTILE_LOG_PER_S 10
#define HOSTILE_WHAT "messages about failed or refused connections"
#define REFUSED_WHAT "connection refusals"

int mas_shared_new(size_t max_conns, size_t retrieval_conns, struct mas_server_shared **ret)
{
	struct mas_server_shared *sh = calloc(1, sizeof(*sh));
	int r;

	if (!sh)
		return -ENOMEM;
	pthread_mutex_init(&sh->log_lock, NULL);
	sh->hostile.per_second = HOSTILE_LOG_PER_S;
	sh->refusals.per_second = 1;
	sh->max_conns = max_conns;
	/* The retrieval port's share: at most half, at least one. */
	sh->max_port[1] = retrieval_conns;
	if (sh->max_port[1] > max_conns / 2)
		sh->max_port[1] = max_conns / 2 ? max_conns / 2 : 1;
	sh->max_port[0] = max_conns - sh->max_port[1] ? max_conns - sh->max_port[1] : 1;
	for (int i = 0; i < 2; i++) {
		r = mas_connbudget_new(BUDGET_SLOTS, &sh->budget[i]);
		if (r < 0) {
			mas_shared_free(sh);
			return r;
		}
	}
	*ret = sh;
	return 0;
}

void mas_shared_free(struct mas_server_shared *sh)
{
	if (!sh)
		return;
	mas_connbudget_free(sh->budget[0]);
	mas_connbudget_free(sh->budget[1]);
	pthread_mutex_destroy(&sh->log_lock);
	free(sh);
}

/* Take one of the global and one of the port's connections, or none. */
static bool take_slot(struct mas_server_shared *sh, bool retrieval)
{
	if (atomic_fetch_add(&sh->n_conns, 1) >= sh->max_conns) {
		atomic_fetch_sub(&sh->n_conns, 1);
		return false;
	}
	if (atomic_fetch_add(&sh->n_port[retrieval], 1) >= sh->max_port[retrieval]) {
		atomic_fetch_sub(&sh->n_port[retrieval], 1);
		atomic_fetch_sub(&sh->n_conns, 1);
		return false;
	}
	return true;
}

int mas_shared_admit(struct mas_server_shared *sh, bool retrieval,
		     const struct sockaddr_storage *ss, char source[MAS_SOURCE_MAX], char *why,
		     size_t why_len)
{
	int r;

	if (!take_slot(sh, retrieval)) {
		snprintf(why, why_len, "%zu connections open (the maximum), %zu on this port",
			 atomic_load(&sh->n_conns), atomic_load(&sh->n_port[retrieval]));
		return -EMFILE;
	}
	mas_source_of(ss, source);
	r = mas_connbudget_open(sh->budget[retrieval], source, mas_now_ms());
	if (r == 0)
		return 0;
	atomic_fetch_sub(&sh->n_port[retrieval], 1);
	atomic_fetch_sub(&sh->n_conns, 1);
	if (r == -EMFILE)
		snprintf(why, why_len, "%s holds as many connections as one source may", source);
	else if (r == -EAGAIN)
		snprintf(why, why_len, "%s opens connections faster than one source may", source);
	else
		snprintf(why, why_len, "too many sources hold connections");
	return r;
}

void mas_shared_release(struct mas_server_shared *sh, bool retrieval, const char *source)
{
	mas_connbudget_close(sh->budget[retrieval], source);
	atomic_fetch_sub(&sh->n_port[retrieval], 1);
	atomic_fetch_sub(&sh->n_conns, 1);
}

static bool throttle_ok(struct mas_server_shared *sh, struct log_throttle *t, const char *what)
{
	bool ok;

	pthread_mutex_lock(&sh->log_lock);
	ok = log_throttle_ok(t, mas_now_ms(), what);
	pthread_mutex_unlock(&sh->log_lock);
	return ok;
}

bool mas_shared_hostile_log(struct mas_server_shared *sh)
{
	return throttle_ok(sh, &sh->hostile, HOSTILE_WHAT);
}

bool mas_shared_refusal_log(struct mas_server_shared *sh)
{
	return throttle_ok(sh, &sh->refusals, REFUSED_WHAT);
}

void mas_shared_log_flush(struct mas_server_shared *sh)
{
	uint64_t now = mas_now_ms();

	pthread_mutex_lock(&sh->log_lock);
	log_throttle_flush(&sh->hostile, now, HOSTILE_WHAT);
	log_throttle_flush(&sh->refusals, now, REFUSED_WHAT);
	pthread_mutex_unlock(&sh->log_lock);
}

void mas_peer_from(const struct sockaddr_storage *ss, struct mas_peer *p)
{
	unsigned port = 0;

	snprintf(p->addr, sizeof(p->addr), "unknown");
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &in->sin_addr, p->addr, sizeof(p->addr));
		port = ntohs(in->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;

		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
			inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], p->addr, sizeof(p->addr));
		else
			inet_ntop(AF_INET6, &in6->sin6_addr, p->addr, sizeof(p->addr));
		port = ntohs(in6->sin6_port);
	}
	if (strchr(p->addr, ':'))
		snprintf(p->name, sizeof(p->name), "[%s]:%u", p->addr, port);
	else
		snprintf(p->name, sizeof(p->name), "%s:%u", p->addr, port);
}
