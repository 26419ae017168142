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
};

struct pk_op {
	struct pk_op *prev, *next;
	struct peer_keys *pk;
	struct establish_op *op;
	struct loop_watch *io, *timer;
	int timeout_ms;
	void *owner; /* NULL once cancelled */
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
};

static uint64_t now_s(void)
{
	return (uint64_t)time(NULL);
}

static void view_of(const struct pk_entry *e, struct peer_key_view *v)
{
	*v = (struct peer_key_view){ .key_id = e->key_id, .key = e->key, .expiry = e->expiry,
				     .node_id = e->node_id, .ae_id = e->ae_id, .target = e->target };
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
			secret_wipe(e, sizeof(*e));
			continue;
		}
		/* A resolution is answered from the cache only for a target on this node:
		 * the originator's agent holds the key too, and must not hand it to a
		 * local client posing as the target AE. */
		if (key_id && strcmp(e->key_id, key_id) == 0 &&
		    wire_target_names_node(e->target, sa_manager_node_id(pk->sam)))
			return e;
		if (!key_id && e->expiry > now + PEER_KEYS_REUSE_MARGIN_S &&
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
	}
	secret_wipe(e, sizeof(*e));
	e->used = true;
	memcpy(e->key_id, res->key_id, sizeof(e->key_id));
	memcpy(e->node_id, res->peer_node_id, sizeof(e->node_id));
	memcpy(e->ae_id, res->peer_ae_id, sizeof(e->ae_id));
	memcpy(e->target, res->peer_target, sizeof(e->target));
	memcpy(e->key, res->kc->data, WIRE_KEY_LEN);
	e->expiry = res->expiry;
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

/* The exchange ended: cache, answer, free. */
static void op_done(struct pk_op *o, int r, struct establish_result *res, const char *reason)
{
	struct peer_keys *pk = o->pk;
	struct peer_key_view v;
	struct pk_entry *e;

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
	struct m2msa_err err = { .wire_code = 0 };
	struct pk_op *o;
	int r;

	if (pk->n_ops >= PEER_KEYS_OPS_MAX) {
		pk->fn(owner, req, -EBUSY, NULL, "too many end-to-end requests in flight; retry",
		       pk->userdata);
		return;
	}
	o = calloc(1, sizeof(*o));
	if (!o) {
		pk->fn(owner, req, -ENOMEM, NULL, "out of memory", pk->userdata);
		return;
	}
	o->pk = pk;
	o->owner = owner;
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
	*ret = pk;
	return 0;
}

void peer_keys_free(struct peer_keys *pk)
{
	if (!pk)
		return;
	while (pk->ops)
		op_free(pk->ops);
	secret_wipe(pk->cache, PEER_KEYS_CACHE_MAX * sizeof(*pk->cache));
	(void)munlock(pk->cache, PEER_KEYS_CACHE_MAX * sizeof(*pk->cache));
	free(pk->cache);
	free(pk);
}
