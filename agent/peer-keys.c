/* SPDX-License-Identifier: Apache-2.0 */
/* m2msad's end-to-end key requests and their cache (agent/peer-keys.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "agent/establish.h"
#include "agent/peer-keys.h"
#include "common/log.h"
#include "common/loop.h"
#include "common/secret.h"
#include "common/wire.h"

/* A cached key is handed to a new registration only while it has this much life left. */
#define PEER_KEYS_REUSE_MARGIN_S 60

struct pk_entry {
	bool used;
	char key_id[WIRE_KEY_ID_MAX + 1];
	char node_id[WIRE_ID_MAX + 1];
	char ae_id[WIRE_ID_MAX + 1];
	char target[WIRE_TARGET_MAX + 1];
	uint8_t key[WIRE_KEY_LEN];
	uint64_t expiry;
	uint64_t next_check; /* wall-clock seconds */
};

struct pk_op {
	struct pk_op *prev, *next;
	struct peer_keys *pk;
	struct establish_op *op;
	struct loop_watch *io, *timer;
	int timeout_ms;
	void *owner; /* NULL once cancelled */
	bool check;  /* a re-validation of the cached key_id (§14.6) */
	int wire_code; /* the MAS's error code when it answered one, else 0 */
	uint32_t req;
	char what[WIRE_TARGET_MAX + 64]; /* for logs: "Cae1 -> /mn-cse-2/Cae2" or the key ID */
};

struct peer_keys {
	struct sa_manager *sam;
	struct loop *loop;
	peer_keys_fn fn;
	void *userdata;
	struct pk_op *ops;
	size_t n_ops;
	struct pk_entry *cache; /* PEER_KEYS_CACHE_MAX, mlocked, wiped when dropped */
	size_t cache_next;
	peer_keys_event_fn event_fn;
	void *event_userdata;
	uint64_t check_s;
	struct loop_watch *tick; /* the next expiry or due check */
	uint64_t rng;		 /* jitter only (splitmix64), not for keys */
	bool warned_no_check;
};

static void rearm(struct peer_keys *pk);

static uint64_t now_s(void)
{
	return (uint64_t)time(NULL);
}

static void view_of(const struct pk_entry *e, struct peer_key_view *v)
{
	*v = (struct peer_key_view){ .key_id = e->key_id, .key = e->key, .expiry = e->expiry,
				     .node_id = e->node_id, .ae_id = e->ae_id, .target = e->target };
}

/* Forget a cached key and tell the subscribers why. */
static void drop(struct peer_keys *pk, struct pk_entry *e, enum peer_keys_event ev)
{
	struct peer_key_view v;

	log_info("pairwise key %s (%s on %s towards %s) %s: dropped from the cache", e->key_id,
		 e->ae_id, e->node_id, e->target,
		 ev == PEER_KEYS_EVENT_REVOKED ? "revoked" : "expired");
	view_of(e, &v);
	if (pk->event_fn)
		pk->event_fn(ev, &v, pk->event_userdata);
	secret_wipe(e, sizeof(*e));
}

/* splitmix64 (Steele, Lea, Flood 2014): spreads the checks, nothing secret. */
static uint64_t next_rand(struct peer_keys *pk)
{
	uint64_t z = (pk->rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* now + the check interval, jittered to 75..125 % so the agents do not align. */
static uint64_t check_due(struct peer_keys *pk, uint64_t now)
{
	uint64_t span = pk->check_s / 2 + 1;

	return now + pk->check_s - pk->check_s / 4 + next_rand(pk) % span;
}

/* A valid cached entry: by key ID, or (key_id NULL) by this node's (ae_id, target). */
static struct pk_entry *cache_find(struct peer_keys *pk, const char *key_id, const char *ae_id,
				   const char *target)
{
	uint64_t now = now_s();

	for (size_t i = 0; i < PEER_KEYS_CACHE_MAX; i++) {
		struct pk_entry *e = &pk->cache[i];

		if (!e->used)
			continue;
		if (e->expiry <= now) {
			drop(pk, e, PEER_KEYS_EVENT_EXPIRED);
			continue;
		}
		/* A resolution is answered from the cache only for a target on this node:
		 * the originator's agent holds the key too, and must not hand it to a
		 * local client posing as the target AE. */
		if (key_id && strcmp(e->key_id, key_id) == 0 &&
		    wire_target_names_node(e->target, sa_manager_node_id(pk->sam)))
			return e;
		if (!key_id && ae_id && target && e->expiry > now + PEER_KEYS_REUSE_MARGIN_S &&
		    strcmp(e->node_id, sa_manager_node_id(pk->sam)) == 0 &&
		    strcmp(e->ae_id, ae_id) == 0 && strcmp(e->target, target) == 0)
			return e;
	}
	return NULL;
}

static struct pk_entry *cache_put(struct peer_keys *pk, const struct establish_result *res)
{
	struct pk_entry *e = NULL;

	for (size_t i = 0; i < PEER_KEYS_CACHE_MAX && !e; i++)
		if (pk->cache[i].used && strcmp(pk->cache[i].key_id, res->key_id) == 0)
			e = &pk->cache[i];
	if (!e) {
		e = &pk->cache[pk->cache_next];
		pk->cache_next = (pk->cache_next + 1) % PEER_KEYS_CACHE_MAX;
		if (e->used) /* evicted to make room: still valid, so no event */
			log_warning("pairwise key %s leaves the full cache: a revocation of it "
				    "is no longer pushed (AEs holding it learn at its expiry)",
				    e->key_id);
	}
	secret_wipe(e, sizeof(*e));
	e->used = true;
	memcpy(e->key_id, res->key_id, sizeof(e->key_id));
	memcpy(e->node_id, res->peer_node_id, sizeof(e->node_id));
	memcpy(e->ae_id, res->peer_ae_id, sizeof(e->ae_id));
	memcpy(e->target, res->peer_target, sizeof(e->target));
	memcpy(e->key, res->kc->data, WIRE_KEY_LEN);
	e->expiry = res->expiry;
	e->next_check = check_due(pk, now_s());
	rearm(pk);
	return e;
}

static void op_free(struct pk_op *o)
{
	struct peer_keys *pk = o->pk;

	loop_remove(o->io);
	loop_remove(o->timer);
	establish_op_free(o->op);
	if (o->prev)
		o->prev->next = o->next;
	else
		pk->ops = o->next;
	if (o->next)
		o->next->prev = o->prev;
	pk->n_ops--;
	free(o);
}

static struct pk_entry *cache_by_id(struct peer_keys *pk, const char *key_id)
{
	for (size_t i = 0; i < PEER_KEYS_CACHE_MAX; i++)
		if (pk->cache[i].used && strcmp(pk->cache[i].key_id, key_id) == 0)
			return &pk->cache[i];
	return NULL;
}

/*
 * A check ended: keep the key, or drop it when the MAS said so. Only the MAS's
 * own answer drops a key: a local failure (a certificate not readable, the TPM
 * busy, no route) keeps it for the next check.
 */
static void check_done(struct pk_op *o, int r, const struct establish_result *res,
		       const char *reason)
{
	struct peer_keys *pk = o->pk;
	struct pk_entry *e = cache_by_id(pk, o->what);

	if (!e)
		return; /* dropped meanwhile */
	if (r < 0 && e->expiry <= now_s()) {
		/* The key ran out during its check (an answer sent in its last second
		 * reads here as "an expiry in the past"): it expired, whatever the
		 * check said, and is not a check that failed. */
		drop(pk, e, PEER_KEYS_EVENT_EXPIRED);
		return;
	}
	if (r == 0 && strcmp(res->key_id, e->key_id) == 0 &&
	    secret_equal(res->kc->data, e->key, WIRE_KEY_LEN)) {
		log_debug("pairwise key %s is still valid at the MAS", e->key_id);
		return;
	}
	switch (r == 0 ? -1 : o->wire_code) {
	case -1: /* another key under its ID */
	case WIRE_ERR_REVOKED:
	case WIRE_ERR_UNKNOWN_KEY:
	case WIRE_ERR_NOT_AUTHORISED:
		/* revoked, purged, or no longer this node's: it must not be used */
		log_warning("pairwise key %s refused by the MAS: %s", e->key_id,
			    r == 0 ? "another key under its ID" : reason);
		drop(pk, e, PEER_KEYS_EVENT_REVOKED);
		break;
	case WIRE_ERR_EXPIRED:
		drop(pk, e, PEER_KEYS_EVENT_EXPIRED);
		break;
	case WIRE_ERR_VERSION:
		/* No version 4 at this MAS: stop asking until a reload or a new key. */
		if (!pk->warned_no_check)
			log_warning("the MAS does not re-validate pairwise keys (no protocol "
				    "version 4): cached keys stay until their expiry");
		pk->warned_no_check = true;
		for (size_t i = 0; i < PEER_KEYS_CACHE_MAX; i++)
			if (pk->cache[i].used)
				pk->cache[i].next_check = pk->cache[i].expiry;
		break;
	default:
		log_warning("cannot check pairwise key %s with the MAS (kept, next check later): "
			    "%s",
			    e->key_id, reason);
	}
}

/* The exchange ended: cache, answer, free. */
static void op_done(struct pk_op *o, int r, struct establish_result *res, const char *reason)
{
	struct peer_keys *pk = o->pk;
	struct peer_key_view v;
	struct pk_entry *e;

	if (o->check) {
		check_done(o, r, res, reason);
		op_free(o);
		rearm(pk);
		return;
	}
	if (r == 0) {
		e = cache_put(pk, res);
		log_info("pairwise key %s (%s on %s towards %s) from the MAS, expires %llu",
			 e->key_id, e->ae_id, e->node_id, e->target, (unsigned long long)e->expiry);
		view_of(e, &v);
		if (o->owner)
			pk->fn(o->owner, o->req, 0, &v, NULL, pk->userdata);
	} else {
		log_warning("end-to-end request %s failed: %s", o->what, reason);
		if (o->owner)
			pk->fn(o->owner, o->req, r, NULL, reason, pk->userdata);
	}
	op_free(o);
}

static void on_io(struct loop_watch *w, int fd, uint32_t events, void *userdata)
{
	struct pk_op *o = userdata;
	struct establish_result res = { .kc = NULL };
	struct m2msa_err err = { .wire_code = 0 };
	int r = establish_op_step(o->op, &res, &err);

	if (r == -EAGAIN) {
		(void)loop_io_set_events(o->io, (uint32_t)establish_op_events(o->op));
		(void)loop_timer_set(o->timer, (uint64_t)o->timeout_ms, 0, 0);
		return;
	}
	if (r < 0)
		sa_manager_peer_op_failed(o->pk->sam, &err);
	o->wire_code = r < 0 ? (int)err.wire_code : 0;
	op_done(o, r, &res, err.msg[0] ? err.msg : strerror(-r));
	establish_result_clear(&res);
}

static void on_timeout(struct loop_watch *w, bool clock_set, void *userdata)
{
	struct pk_op *o = userdata;
	char reason[96];

	snprintf(reason, sizeof(reason), "no answer from the MAS within %d ms", o->timeout_ms);
	op_done(o, -ETIMEDOUT, NULL, reason);
}

static void start(struct peer_keys *pk, void *owner, uint32_t req, const struct wire_msg *q,
		  const char *what)
{
	bool check = q->type == WIRE_MSG_PEER_RESOLVE && q->peer_resolve.check;
	struct m2msa_err err = { .wire_code = 0 };
	struct pk_op *o;
	int r;

	if (pk->n_ops >= PEER_KEYS_OPS_MAX) {
		if (!check)
			pk->fn(owner, req, -EBUSY, NULL,
			       "too many end-to-end requests in flight; retry", pk->userdata);
		return;
	}
	o = calloc(1, sizeof(*o));
	if (!o) {
		if (!check)
			pk->fn(owner, req, -ENOMEM, NULL, "out of memory", pk->userdata);
		return;
	}
	o->pk = pk;
	o->owner = owner;
	o->check = check;
	o->req = req;
	snprintf(o->what, sizeof(o->what), "%s", what);
	o->next = pk->ops;
	if (pk->ops)
		pk->ops->prev = o;
	pk->ops = o;
	pk->n_ops++;
	r = sa_manager_peer_op_new(pk->sam, q, &o->op, &o->timeout_ms, &err);
	if (r == 0)
		r = loop_add_io(pk->loop, establish_op_fd(o->op),
				(uint32_t)establish_op_events(o->op), on_io, o, &o->io);
	if (r == 0)
		r = loop_add_timer(pk->loop, CLOCK_MONOTONIC, on_timeout, o, &o->timer);
	if (r == 0)
		r = loop_timer_set(o->timer, (uint64_t)o->timeout_ms, 0, 0);
	if (r < 0)
		op_done(o, r, NULL, err.msg[0] ? err.msg : strerror(-r));
}

void peer_keys_register(struct peer_keys *pk, void *owner, uint32_t req, const char *ae_id,
			const char *target)
{
	struct wire_msg q = { .type = WIRE_MSG_PEER_REGISTER };
	struct peer_key_view v;
	struct pk_entry *e = cache_find(pk, NULL, ae_id, target);
	char what[WIRE_TARGET_MAX + 64];

	if (e) {
		view_of(e, &v);
		pk->fn(owner, req, 0, &v, NULL, pk->userdata);
		return;
	}
	snprintf(q.peer_register.ae_id, sizeof(q.peer_register.ae_id), "%s", ae_id);
	snprintf(q.peer_register.target, sizeof(q.peer_register.target), "%s", target);
	snprintf(what, sizeof(what), "register %s -> %s", ae_id, target);
	start(pk, owner, req, &q, what);
}

void peer_keys_resolve(struct peer_keys *pk, void *owner, uint32_t req, const char *key_id)
{
	struct wire_msg q = { .type = WIRE_MSG_PEER_RESOLVE };
	struct peer_key_view v;
	struct pk_entry *e = cache_find(pk, key_id, NULL, NULL);
	char what[WIRE_TARGET_MAX + 64];

	if (e) {
		view_of(e, &v);
		pk->fn(owner, req, 0, &v, NULL, pk->userdata);
		return;
	}
	snprintf(q.peer_resolve.key_id, sizeof(q.peer_resolve.key_id), "%s", key_id);
	snprintf(what, sizeof(what), "resolve %s", key_id);
	start(pk, owner, req, &q, what);
}

/* Checks in flight leave this many exchanges to the AEs' own requests. */
#define PEER_KEYS_CHECK_RESERVE 4

static void on_tick(struct loop_watch *w, bool clock_set, void *userdata)
{
	struct peer_keys *pk = userdata;
	uint64_t now = now_s();

	for (size_t i = 0; i < PEER_KEYS_CACHE_MAX; i++) {
		struct pk_entry *e = &pk->cache[i];
		struct wire_msg q = { .type = WIRE_MSG_PEER_RESOLVE };

		if (!e->used)
			continue;
		if (e->expiry <= now) {
			drop(pk, e, PEER_KEYS_EVENT_EXPIRED);
			continue;
		}
		if (e->next_check > now || pk->n_ops + PEER_KEYS_CHECK_RESERVE >= PEER_KEYS_OPS_MAX)
			continue;
		e->next_check = check_due(pk, now);
		snprintf(q.peer_resolve.key_id, sizeof(q.peer_resolve.key_id), "%s", e->key_id);
		q.peer_resolve.check = true;
		start(pk, NULL, 0, &q, e->key_id); /* what = the key ID, for check_done */
	}
	rearm(pk);
}

/* Arm the tick for the earliest expiry or due check (at least 1 s ahead). */
static void rearm(struct peer_keys *pk)
{
	uint64_t now = now_s(), next = UINT64_MAX;

	if (!pk->tick)
		return;
	for (size_t i = 0; i < PEER_KEYS_CACHE_MAX; i++) {
		const struct pk_entry *e = &pk->cache[i];

		if (!e->used)
			continue;
		if (e->expiry < next)
			next = e->expiry;
		if (e->next_check < next)
			next = e->next_check;
	}
	if (next == UINT64_MAX) {
		(void)loop_timer_set(pk->tick, 0, 0, 0);
		return;
	}
	(void)loop_timer_set(pk->tick, next > now + 1 ? (next - now) * 1000 : 1000, 0, 0);
}

void peer_keys_set_event_handler(struct peer_keys *pk, peer_keys_event_fn fn, void *userdata)
{
	pk->event_fn = fn;
	pk->event_userdata = userdata;
}

void peer_keys_set_check_interval(struct peer_keys *pk, uint64_t seconds)
{
	if (!pk || seconds == 0 || seconds == pk->check_s)
		return;
	pk->check_s = seconds;
	for (size_t i = 0; i < PEER_KEYS_CACHE_MAX; i++)
		if (pk->cache[i].used)
			pk->cache[i].next_check = check_due(pk, now_s());
	rearm(pk);
}

void peer_keys_cancel(struct peer_keys *pk, const void *owner)
{
	if (!pk)
		return;
	for (struct pk_op *o = pk->ops; o; o = o->next)
		if (o->owner == owner)
			o->owner = NULL;
}

int peer_keys_new(struct sa_manager *sam, struct loop *loop, peer_keys_fn fn, void *userdata,
		  struct peer_keys **ret)
{
	struct peer_keys *pk = calloc(1, sizeof(*pk));

	if (!pk)
		return -ENOMEM;
	pk->cache = calloc(PEER_KEYS_CACHE_MAX, sizeof(*pk->cache));
	if (!pk->cache) {
		free(pk);
		return -ENOMEM;
	}
	(void)mlock(pk->cache, PEER_KEYS_CACHE_MAX * sizeof(*pk->cache));
	pk->sam = sam;
	pk->loop = loop;
	pk->fn = fn;
	pk->userdata = userdata;
	pk->check_s = PEER_KEYS_CHECK_DEFAULT_S;
	pk->rng = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)pk;
	if (loop_add_timer(loop, CLOCK_MONOTONIC, on_tick, pk, &pk->tick) < 0) {
		peer_keys_free(pk);
		return -ENOMEM;
	}
	*ret = pk;
	return 0;
}

void peer_keys_free(struct peer_keys *pk)
{
	if (!pk)
		return;
	loop_remove(pk->tick);
	while (pk->ops)
		op_free(pk->ops);
	secret_wipe(pk->cache, PEER_KEYS_CACHE_MAX * sizeof(*pk->cache));
	(void)munlock(pk->cache, PEER_KEYS_CACHE_MAX * sizeof(*pk->cache));
	free(pk->cache);
	free(pk);
}
