/* SPDX-License-Identifier: Apache-2.0 */
/* m2msad's local key service: the Unix socket, authorisation, keys and pushes (keyservice.h). */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "agent/clients.h"
#include "agent/keyservice.h"
#include "agent/peer-keys.h"
#include "agent/status.h"
#include "common/local-wire.h"
#include "common/log-throttle.h"
#include "common/log.h"
#include "common/loop.h"
#include "common/sa.h"
#include "common/secret.h"
#include "common/wire.h"

#define KS_SUBS_MAX 8     /* subscriptions per connection */
#define KS_PENDING_MAX 16 /* get-key requests waiting for an establishment */
#define KS_OUT_MAX 64     /* queued messages before a non-reading client is dropped */
#define KS_LOG_PER_S 10   /* refusal and denial lines a second before they are only counted */
#define KS_IDLE_CHECK_MS 1000

/* One request bound to an AE-ID ("" for the node's CSE). */
struct ks_ref {
	uint32_t req;
	char ae_id[WIRE_ID_MAX + 1];
};

/* An encoded message that did not fit into the socket yet (may hold a key: wiped). */
struct ks_out {
	struct ks_out *next;
	size_t len;
	uint8_t buf[];
};

struct ks_client {
	struct ks_client *prev, *next;
	struct keyservice *ks;
	int fd;
	struct clients_peer peer;
	struct ks_ref subs[KS_SUBS_MAX];
	size_t n_subs;
	struct ks_ref pending[KS_PENDING_MAX];
	size_t n_pending;
	struct ks_ref peer_pending[KS_PENDING_MAX]; /* get-peer-key, resolve-key (ae_id: the AE) */
	bool peer_is_resolve[KS_PENDING_MAX];
	size_t n_peer_pending;
	struct ks_out *out_head, *out_tail;
	size_t n_out;
	struct loop_watch *watch;
	uint32_t epoll_events;
	uint64_t last_ms;  /* last request (or the connect) */
	unsigned denials;  /* denied requests so far */
	bool dead; /* closed at the end of keyservice_process() */
};

/* A derived per-AE key, so repeated get-keys skip the KDF and the key ID formatting. */
#define KS_CACHE_MAX 32
struct ks_cache_entry {
	char assoc_id[WIRE_KEY_ID_MAX + 1]; /* the node key ID it was derived under; "" = free */
	char ae_id[WIRE_ID_MAX + 1];
	char key_id[WIRE_KEY_ID_MAX + 1];
	uint8_t key[LOCAL_WIRE_KEY_LEN];
};

struct keyservice {
	struct loop *loop; /* the agent's: the listener and every client are in it */
	int listen_fd;
	struct loop_watch *listen_watch;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t dev;
	ino_t ino;
	struct sa_manager *sam;
	keyservice_status_fn status_hook; /* m2msad's additions to the status (ESP) */
	void *status_hook_userdata;
	struct clients *clients;
	struct ks_client *head;
	size_t n_clients;
	struct ks_cache_entry *cache; /* KS_CACHE_MAX entries, mlocked, wiped when dropped */
	size_t cache_next;
	struct loop_watch *idle_timer;
	uint64_t idle_ms;
	uint32_t per_uid;
	struct log_throttle log; /* ks_log_ok() */
	struct peer_keys *peers; /* end-to-end keys (docs/protocol.md §14) */
};

static uint64_t ks_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

#define KS_LOG_WHAT "refusals and denials"

/* May one more line about a refused connection or a denied request be logged? */
static bool ks_log_ok(struct keyservice *ks)
{
	return log_throttle_ok(&ks->log, ks_now_ms(), KS_LOG_WHAT);
}

static const char *ae_or_cse(const char *ae_id)
{
	return ae_id[0] ? ae_id : "(the node's CSE)";
}

/* ---- connections ---- */

static void client_update_epoll(struct keyservice *ks, struct ks_client *c)
{
	/* While messages wait, stop reading requests: a client that sends but never
	 * reads then only costs its own queue. */
	uint32_t want = c->out_head ? EPOLLOUT : EPOLLIN;

	if (c->dead || want == c->epoll_events)
		return;
	if (loop_io_set_events(c->watch, want) == 0)
		c->epoll_events = want;
}

static void client_free(struct keyservice *ks, struct ks_client *c)
{
	struct ks_out *o, *n;

	for (o = c->out_head; o; o = n) {
		n = o->next;
		secret_free_buf(o, sizeof(*o) + o->len);
	}
	peer_keys_cancel(ks->peers, c);
	loop_remove(c->watch);
	if (c->fd >= 0)
		close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		ks->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	ks->n_clients--;
	secret_wipe(c, sizeof(*c));
	free(c);
}

static void reap(struct keyservice *ks)
{
	struct ks_client *c, *n;

	for (c = ks->head; c; c = n) {
		n = c->next;
		if (c->dead)
			client_free(ks, c);
	}
}

/* Write queued messages while the socket takes them. */
static void client_flush(struct keyservice *ks, struct ks_client *c)
{
	while (c->out_head && !c->dead) {
		struct ks_out *o = c->out_head;
		ssize_t n = send(c->fd, o->buf, o->len, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			c->dead = true;
			break;
		}
		c->out_head = o->next;
		if (!c->out_head)
			c->out_tail = NULL;
		c->n_out--;
		secret_free_buf(o, sizeof(*o) + o->len);
	}
	client_update_epoll(ks, c);
}

/* Queue an encoded message; a client that lets the queue overflow is dropped. */
static void client_queue(struct keyservice *ks, struct ks_client *c, const uint8_t *buf,
			 size_t len)
{
	struct ks_out *o;

	if (c->n_out >= KS_OUT_MAX) {
		log_warning("client pid %ld uid %u does not read its messages (%d queued): "
			    "disconnecting it", (long)c->peer.pid, (unsigned)c->peer.uid, KS_OUT_MAX);
		c->dead = true;
		return;
	}
	o = malloc(sizeof(*o) + len);
	if (!o) {
		c->dead = true;
		return;
	}
	o->next = NULL;
	o->len = len;
	memcpy(o->buf, buf, len);
	if (c->out_tail)
		c->out_tail->next = o;
	else
		c->out_head = o;
	c->out_tail = o;
	c->n_out++;
	client_update_epoll(ks, c);
}

/* Send one message now, or queue it behind those already waiting. */
static void client_send(struct keyservice *ks, struct ks_client *c, const struct local_msg *m)
{
	uint8_t buf[LOCAL_WIRE_MSG_MAX];
	size_t len = 0;
	int r;

	if (c->dead)
		return;
	r = local_wire_encode(m, buf, sizeof(buf), &len);
	if (r < 0) {
		log_error("cannot encode a %s message for pid %ld: %s", local_msg_type_to_string(m->type),
			  (long)c->peer.pid, strerror(-r));
		return;
	}
	if (c->out_head) {
		client_queue(ks, c, buf, len);
	} else if (send(c->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		if (errno == EAGAIN || errno == EINTR)
			client_queue(ks, c, buf, len);
		else
			c->dead = true;
	}
	secret_wipe(buf, len); /* the encoder wrote len bytes (and wiped all on failure) */
}

static void send_error(struct keyservice *ks, struct ks_client *c, uint32_t req, uint32_t code,
		       const char *fmt, ...) _printf_(5, 6);

static void send_error(struct keyservice *ks, struct ks_client *c, uint32_t req, uint32_t code,
		       const char *fmt, ...)
{
	struct local_msg m = { .type = LOCAL_MSG_ERROR, .req = req, .code = code };
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m.reason, sizeof(m.reason), fmt, ap);
	va_end(ap);
	client_send(ks, c, &m);
}

/* ---- keys ---- */

static void cache_drop(struct keyservice *ks, const char *assoc_id)
{
	for (size_t i = 0; i < KS_CACHE_MAX; i++)
		if (!assoc_id || strcmp(ks->cache[i].assoc_id, assoc_id) == 0)
			secret_wipe(&ks->cache[i], sizeof(ks->cache[i]));
}

/* The key for ae_id ("" = the CSE's Kc) from association k: ID, bytes, expiry, suite. */
static int fill_key(struct keyservice *ks, const struct sa_manager_key *k, const char *ae_id,
		    bool with_key, struct local_msg *m)
{
	uint8_t kcid[SA_KCID_LEN];
	char ae[WIRE_ID_MAX + 1], fqdn[WIRE_KEY_ID_MAX + 1];
	struct ks_cache_entry *e;
	int r;

	snprintf(m->ae_id, sizeof(m->ae_id), "%s", ae_id);
	snprintf(m->suite, sizeof(m->suite), "%s", k->suite ? k->suite : "");
	m->expiry = k->expiry;
	m->key_len = 0;
	if (!ae_id[0]) {
		snprintf(m->key_id, sizeof(m->key_id), "%s", k->key_id);
		if (with_key) {
			memcpy(m->key, k->kc, LOCAL_WIRE_KEY_LEN);
			m->key_len = LOCAL_WIRE_KEY_LEN;
		}
		return 0;
	}
	for (size_t i = 0; i < KS_CACHE_MAX; i++) {
		e = &ks->cache[i];
		if (e->assoc_id[0] && strcmp(e->assoc_id, k->key_id) == 0 &&
		    strcmp(e->ae_id, ae_id) == 0) {
			memcpy(m->key_id, e->key_id, sizeof(m->key_id));
			if (with_key) {
				memcpy(m->key, e->key, LOCAL_WIRE_KEY_LEN);
				m->key_len = LOCAL_WIRE_KEY_LEN;
			}
			return 0;
		}
	}
	/* Per-AE key ID hex(KcID)-AE-ID@FQDN and key KDF(AE root, "m2msa AE key", AE-ID). */
	r = sa_key_id_parse(k->key_id, kcid, ae, fqdn);
	if (r < 0)
		return r;
	r = sa_key_id_format(kcid, ae_id, fqdn, m->key_id, sizeof(m->key_id));
	if (r < 0)
		return r;
	if (!k->ae_root) /* an expiry or revocation: the ID is all that is needed */
		return 0;
	e = &ks->cache[ks->cache_next];
	ks->cache_next = (ks->cache_next + 1) % KS_CACHE_MAX;
	secret_wipe(e, sizeof(*e));
	r = sa_ae_key(k->ae_root, ae_id, e->key);
	if (r < 0) {
		secret_wipe(e, sizeof(*e));
		return r;
	}
	snprintf(e->assoc_id, sizeof(e->assoc_id), "%s", k->key_id);
	snprintf(e->ae_id, sizeof(e->ae_id), "%s", ae_id);
	memcpy(e->key_id, m->key_id, sizeof(e->key_id));
	if (with_key) {
		memcpy(m->key, e->key, LOCAL_WIRE_KEY_LEN);
		m->key_len = LOCAL_WIRE_KEY_LEN;
	}
	return 0;
}

static void answer_key(struct keyservice *ks, struct ks_client *c, const struct ks_ref *ref,
		       const struct sa_manager_key *k)
{
	struct local_msg m = { .type = LOCAL_MSG_KEY, .req = ref->req };
	int r = fill_key(ks, k, ref->ae_id, true, &m);

	if (r < 0)
		send_error(ks, c, ref->req, LOCAL_ERR_BAD_ID,
			   "'%s' cannot form a key ID with %s: %s", ref->ae_id, k->key_id,
			   strerror(-r));
	else
		client_send(ks, c, &m);
	local_msg_wipe(&m);
}

/* ---- requests ---- */

static bool authorised(struct keyservice *ks, struct ks_client *c, const struct local_msg *m)
{
	bool admin = m->type == LOCAL_MSG_STATUS || m->type == LOCAL_MSG_REKEY;
	bool ok = admin ? clients_is_admin(ks->clients, &c->peer)
			: clients_may_act_as(ks->clients, &c->peer, m->ae_id);

	if (ok)
		return true;
	c->denials++;
	if (admin && ks_log_ok(ks)) {
		log_warning("denied %s to pid %ld uid %u gid %u: not root, not in group %s and no "
			    "clients.d file with admin = yes",
			    local_msg_type_to_string(m->type), (long)c->peer.pid, (unsigned)c->peer.uid,
			    (unsigned)c->peer.gid, CLIENTS_ADMIN_GROUP);
	} else if (!admin && ks_log_ok(ks)) {
		log_warning("denied %s for %s%s to pid %ld uid %u gid %u: no clients.d file grants it",
			    local_msg_type_to_string(m->type), m->ae_id[0] ? "AE " : "",
			    ae_or_cse(m->ae_id), (long)c->peer.pid, (unsigned)c->peer.uid,
			    (unsigned)c->peer.gid);
	}
	if (admin) {
		send_error(ks, c, m->req, LOCAL_ERR_DENIED,
			   "%s needs root, group %s or admin = yes in clients.d",
			   local_msg_type_to_string(m->type), CLIENTS_ADMIN_GROUP);
	} else {
		send_error(ks, c, m->req, LOCAL_ERR_DENIED,
			   "uid %u may not act as %s (see clients.d)", (unsigned)c->peer.uid,
			   m->ae_id[0] ? m->ae_id : "the node's CSE");
	}
	if (c->denials >= KEYSERVICE_DENIALS_MAX) {
		if (ks_log_ok(ks))
			log_warning("closing the connection of pid %ld uid %u after %u denied requests",
				    (long)c->peer.pid, (unsigned)c->peer.uid, c->denials);
		c->dead = true;
	}
	return false;
}

static void on_get_key(struct keyservice *ks, struct ks_client *c, const struct local_msg *m)
{
	struct sa_manager_key k;
	struct ks_ref ref = { .req = m->req };

	snprintf(ref.ae_id, sizeof(ref.ae_id), "%s", m->ae_id);
	if (sa_manager_get_key(ks->sam, &k) == 0) {
		log_debug("get-key for %s by pid %ld uid %u", ae_or_cse(m->ae_id), (long)c->peer.pid,
			  (unsigned)c->peer.uid);
		answer_key(ks, c, &ref, &k);
		return;
	}
	if (c->n_pending >= KS_PENDING_MAX) {
		send_error(ks, c, m->req, LOCAL_ERR_BUSY,
			   "%d get-key requests already wait for the establishment", KS_PENDING_MAX);
		return;
	}
	c->pending[c->n_pending++] = ref;
	log_info("get-key for %s by pid %ld uid %u waits for the establishment",
		 ae_or_cse(m->ae_id), (long)c->peer.pid, (unsigned)c->peer.uid);
	/* May answer (and fail) synchronously through on_sa_event(). */
	(void)sa_manager_want_key(ks->sam);
}

static void on_subscribe(struct keyservice *ks, struct ks_client *c, const struct local_msg *m)
{
	size_t i;

	for (i = 0; i < c->n_subs; i++)
		if (strcmp(c->subs[i].ae_id, m->ae_id) == 0)
			break;
	if (i == c->n_subs) {
		if (c->n_subs >= KS_SUBS_MAX) {
			send_error(ks, c, m->req, LOCAL_ERR_BUSY,
				   "at most %d subscriptions per connection", KS_SUBS_MAX);
			return;
		}
		c->n_subs++;
	}
	c->subs[i].req = m->req;
	snprintf(c->subs[i].ae_id, sizeof(c->subs[i].ae_id), "%s", m->ae_id);
	log_info("pid %ld uid %u subscribed to the keys of %s", (long)c->peer.pid,
		 (unsigned)c->peer.uid, ae_or_cse(m->ae_id));
	client_send(ks, c, &(struct local_msg){ .type = LOCAL_MSG_OK, .req = m->req });
}

void keyservice_set_status_hook(struct keyservice *ks, keyservice_status_fn fn, void *userdata)
{
	ks->status_hook = fn;
	ks->status_hook_userdata = userdata;
}

static void on_status(struct keyservice *ks, struct ks_client *c, const struct local_msg *m)
{
	struct local_msg reply = { .type = LOCAL_MSG_STATUS_REPLY, .req = m->req };
	struct agent_status st;
	size_t n;

	sa_manager_status(ks->sam, &st);
	st.pid = (int64_t)getpid();
	if (ks->status_hook)
		ks->status_hook(ks->status_hook_userdata, &st);
	if (agent_status_format(&st, reply.status, sizeof(reply.status)) < 0) {
		send_error(ks, c, m->req, LOCAL_ERR_INTERNAL, "the status does not fit a message");
		return;
	}
	n = strlen(reply.status);
	while (n > 0 && (reply.status[n - 1] == '\n' || reply.status[n - 1] == '\r'))
		reply.status[--n] = '\0';
	client_send(ks, c, &reply);
}

static void on_rekey(struct keyservice *ks, struct ks_client *c, const struct local_msg *m)
{
	char why[96];

	snprintf(why, sizeof(why), "rekey requested by pid %ld uid %u", (long)c->peer.pid,
		 (unsigned)c->peer.uid);
	client_send(ks, c, &(struct local_msg){ .type = LOCAL_MSG_OK, .req = m->req });
	sa_manager_rekey(ks->sam, why);
}

/* A request that breaks the protocol: answer with an error, then close. */
static void protocol_error(struct keyservice *ks, struct ks_client *c, uint32_t req, uint32_t code,
			   const char *what)
{
	log_warning("closing the connection of pid %ld uid %u: %s", (long)c->peer.pid,
		    (unsigned)c->peer.uid, what);
	send_error(ks, c, req, code, "%s; closing the connection", what);
	/* Let the error go out if the socket takes it; then the connection ends. */
	c->dead = true;
}

/* ---- end-to-end keys between AEs (docs/protocol.md §14) ---- */

/* The local error code for a failed end-to-end request. */
static uint32_t peer_error_code(int r)
{
	switch (r) {
	case -EACCES:
		return LOCAL_ERR_DENIED;
	case -EKEYEXPIRED:
		return LOCAL_ERR_EXPIRED;
	case -EKEYREVOKED:
		return LOCAL_ERR_REVOKED;
	case -EBUSY:
		return LOCAL_ERR_BUSY;
	case -ENOMEM:
		return LOCAL_ERR_INTERNAL;
	default:
		return LOCAL_ERR_NO_KEY;
	}
}

/*
 * A resolved key goes only to a client acting as the AE its target names: the
 * MAS checked the target's CSE-ID is this node, the agent checks the AE-ID.
 */
static bool resolve_allowed(struct keyservice *ks, struct ks_client *c, const struct ks_ref *ref,
			    const struct peer_key_view *k)
{
	char cse[WIRE_ID_MAX + 1], ae[WIRE_ID_MAX + 1];

	if (wire_target_split(k->target, cse, ae) == 0 && strcmp(ae, ref->ae_id) == 0 &&
	    wire_target_names_node(k->target, sa_manager_node_id(ks->sam)))
		return true;
	log_warning("denied pairwise key %s to pid %ld uid %u acting as %s: it is registered for %s",
		    k->key_id, (long)c->peer.pid, (unsigned)c->peer.uid, ref->ae_id, k->target);
	send_error(ks, c, ref->req, LOCAL_ERR_DENIED, "key %s is for %s, not for AE %s", k->key_id,
		   k->target, ref->ae_id);
	return false;
}

/*
 * A cached pairwise key was revoked or expired (agent/peer-keys.c): an EVENT
 * (no key bytes) to every subscriber of the AE it belongs to on this node: the
 * originator AE on the originator's node, the target AE on the target's node.
 */
static void on_peer_event(enum peer_keys_event ev, const struct peer_key_view *k, void *userdata)
{
	struct keyservice *ks = userdata;
	const char *own = sa_manager_node_id(ks->sam);
	char cse[WIRE_ID_MAX + 1], target_ae[WIRE_ID_MAX + 1];
	bool originator = strcmp(k->node_id, own) == 0;
	bool target = wire_target_names_node(k->target, own) &&
		      wire_target_split(k->target, cse, target_ae) == 0;

	for (struct ks_client *c = ks->head; c; c = c->next) {
		for (size_t i = 0; i < c->n_subs && !c->dead; i++) {
			const char *sub = c->subs[i].ae_id;
			struct local_msg m = {
				.type = LOCAL_MSG_EVENT,
				.req = c->subs[i].req,
				.event = ev == PEER_KEYS_EVENT_REVOKED ? LOCAL_EVENT_REVOKED
								       : LOCAL_EVENT_EXPIRED,
				.expiry = k->expiry,
			};

			if (!(originator && strcmp(sub, k->ae_id) == 0) &&
			    !(target && strcmp(sub, target_ae) == 0))
				continue;
			snprintf(m.ae_id, sizeof(m.ae_id), "%s", sub);
			snprintf(m.key_id, sizeof(m.key_id), "%s", k->key_id);
			client_send(ks, c, &m);
		}
	}
}

static void on_peer_answer(void *owner, uint32_t req, int r, const struct peer_key_view *k,
			   const char *reason, void *userdata)
{
	_cleanup_(local_msg_wipe) struct local_msg m = { .type = LOCAL_MSG_PEER_KEY, .req = req };
	struct keyservice *ks = userdata;
	struct ks_client *c = owner;
	struct ks_ref ref;
	bool resolve;
	size_t i;

	for (i = 0; i < c->n_peer_pending; i++)
		if (c->peer_pending[i].req == req)
			break;
	if (i == c->n_peer_pending)
		return;
	ref = c->peer_pending[i];
	resolve = c->peer_is_resolve[i];
	c->peer_pending[i] = c->peer_pending[c->n_peer_pending - 1];
	c->peer_is_resolve[i] = c->peer_is_resolve[c->n_peer_pending - 1];
	c->n_peer_pending--;
	if (r < 0) {
		send_error(ks, c, req, peer_error_code(r), "%s", reason);
		return;
	}
	if (resolve && !resolve_allowed(ks, c, &ref, k))
		return;
	snprintf(m.ae_id, sizeof(m.ae_id), "%s", k->ae_id);
	snprintf(m.key_id, sizeof(m.key_id), "%s", k->key_id);
	memcpy(m.key, k->key, LOCAL_WIRE_KEY_LEN);
	m.key_len = LOCAL_WIRE_KEY_LEN;
	m.expiry = k->expiry;
	snprintf(m.target, sizeof(m.target), "%s", k->target);
	snprintf(m.node_id, sizeof(m.node_id), "%s", k->node_id);
	log_debug("pairwise key %s (%s towards %s) to pid %ld uid %u", k->key_id, k->ae_id,
		  k->target, (long)c->peer.pid, (unsigned)c->peer.uid);
	client_send(ks, c, &m);
}

static void on_peer_request(struct keyservice *ks, struct ks_client *c, const struct local_msg *m)
{
	bool resolve = m->type == LOCAL_MSG_RESOLVE_KEY;
	size_t i = c->n_peer_pending;

	for (size_t j = 0; j < c->n_peer_pending; j++)
		if (c->peer_pending[j].req == m->req) {
			send_error(ks, c, m->req, LOCAL_ERR_BUSY, "request %u is still waiting",
				   m->req);
			return;
		}
	if (i >= KS_PENDING_MAX) {
		send_error(ks, c, m->req, LOCAL_ERR_BUSY,
			   "%d end-to-end requests already wait on this connection", KS_PENDING_MAX);
		return;
	}
	if (!resolve && !clients_may_target(ks->clients, &c->peer, m->ae_id, m->target)) {
		c->denials++;
		if (ks_log_ok(ks))
			log_warning("denied get-peer-key for AE %s towards %s to pid %ld uid %u gid "
				    "%u: no targets= entry of its clients.d file allows it",
				    m->ae_id, m->target, (long)c->peer.pid, (unsigned)c->peer.uid,
				    (unsigned)c->peer.gid);
		send_error(ks, c, m->req, LOCAL_ERR_DENIED,
			   "uid %u may not request pairwise keys towards %s (see targets= in "
			   "clients.d)",
			   (unsigned)c->peer.uid, m->target);
		return;
	}
	c->peer_pending[i].req = m->req;
	snprintf(c->peer_pending[i].ae_id, sizeof(c->peer_pending[i].ae_id), "%s", m->ae_id);
	c->peer_is_resolve[i] = resolve;
	c->n_peer_pending++;
	log_debug("%s for %s %s by pid %ld uid %u", local_msg_type_to_string(m->type), m->ae_id,
		  resolve ? m->key_id : m->target, (long)c->peer.pid, (unsigned)c->peer.uid);
	if (resolve)
		peer_keys_resolve(ks->peers, c, m->req, m->key_id);
	else
		peer_keys_register(ks->peers, c, m->req, m->ae_id, m->target);
}

static void on_message(struct keyservice *ks, struct ks_client *c, const uint8_t *buf, size_t len)
{
	_cleanup_(local_msg_wipe) struct local_msg m;
	char what[128];
	int r = local_wire_decode(buf, len, &m);

	if (r == -EPROTONOSUPPORT) {
		snprintf(what, sizeof(what), "protocol version %u is not supported (this agent speaks %d)",
			 m.version, LOCAL_WIRE_VERSION);
		protocol_error(ks, c, m.req, LOCAL_ERR_VERSION, what);
		return;
	}
	if (r < 0) {
		protocol_error(ks, c, 0, LOCAL_ERR_MALFORMED, "malformed request (not a valid message)");
		return;
	}
	switch (m.type) {
	case LOCAL_MSG_GET_KEY:
	case LOCAL_MSG_SUBSCRIBE:
	case LOCAL_MSG_STATUS:
	case LOCAL_MSG_REKEY:
	case LOCAL_MSG_GET_PEER_KEY:
	case LOCAL_MSG_RESOLVE_KEY:
		break;
	default:
		snprintf(what, sizeof(what), "a %s message is not a request",
			 local_msg_type_to_string(m.type));
		protocol_error(ks, c, m.req, LOCAL_ERR_MALFORMED, what);
		return;
	}
	if (!authorised(ks, c, &m))
		return;
	switch (m.type) {
	case LOCAL_MSG_GET_KEY:
		on_get_key(ks, c, &m);
		break;
	case LOCAL_MSG_SUBSCRIBE:
		on_subscribe(ks, c, &m);
		break;
	case LOCAL_MSG_STATUS:
		on_status(ks, c, &m);
		break;
	case LOCAL_MSG_GET_PEER_KEY:
	case LOCAL_MSG_RESOLVE_KEY:
		on_peer_request(ks, c, &m);
		break;
	default:
		on_rekey(ks, c, &m);
		break;
	}
}

static void client_read(struct keyservice *ks, struct ks_client *c)
{
	/* One byte more than the largest message, to tell an oversize one by MSG_TRUNC too. */
	uint8_t buf[LOCAL_WIRE_MSG_MAX + 1];
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	/* One message per wakeup (epoll is level-triggered): a busy client cannot starve
	 * the others, and a ping-pong client costs no extra receive that finds nothing.
	 * While answers wait in the queue, requests stay unread. */
	if (c->dead || c->out_head)
		return;
	n = recvmsg(c->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			c->dead = true;
		return;
	}
	if (n == 0) {
		c->dead = true; /* the client closed */
		return;
	}
	c->last_ms = ks_now_ms();
	if ((mh.msg_flags & MSG_TRUNC) || (size_t)n > LOCAL_WIRE_MSG_MAX) {
		char what[96];

		snprintf(what, sizeof(what), "request longer than %d bytes", LOCAL_WIRE_MSG_MAX);
		protocol_error(ks, c, 0, LOCAL_ERR_MALFORMED, what);
	} else {
		on_message(ks, c, buf, (size_t)n);
	}
	secret_wipe(buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf));
}

static void on_client(struct loop_watch *w, int fd, uint32_t events, void *userdata);

/*
 * Why a new peer may not stay, or NULL: no clients.d file matches it (it could
 * only be denied), or its uid holds its share of connections already.
 */
static const char *refuse_peer(struct keyservice *ks, const struct clients_peer *p, char *buf,
			       size_t len)
{
	uint32_t n = 0;

	if (!clients_known(ks->clients, p))
		return "no clients.d file matches it and it is not an admin";
	if (p->uid == 0 || ks->per_uid == 0)
		return NULL;
	for (const struct ks_client *c = ks->head; c; c = c->next)
		n += !c->dead && c->peer.uid == p->uid;
	if (n < ks->per_uid)
		return NULL;
	snprintf(buf, len, "uid %u holds %u connections already (clients_per_uid)",
		 (unsigned)p->uid, (unsigned)n);
	return buf;
}

/* Tell a refused peer why (ERROR for request 0, if the socket takes it at once). */
static void refuse_now(int fd, const char *why)
{
	struct local_msg m = { .type = LOCAL_MSG_ERROR, .req = 0, .code = LOCAL_ERR_DENIED };
	uint8_t buf[LOCAL_WIRE_MSG_MAX];
	size_t len;

	snprintf(m.reason, sizeof(m.reason), "connection refused: %s", why);
	if (local_wire_encode(&m, buf, sizeof(buf), &len) == 0)
		(void)send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
}

static void on_listener(struct loop_watch *w, int listen_fd, uint32_t events, void *userdata)
{
	struct keyservice *ks = userdata;

	for (;;) {
		int fd = accept4(ks->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		struct ks_client *c;
		const char *why;
		char buf[96];

		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_warning("accepting a key service client: %s", strerror(errno));
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return;
		}
		if (ks->n_clients >= KEYSERVICE_MAX_CLIENTS) {
			if (ks_log_ok(ks))
				log_warning("refusing a key service client: %d connections already",
				    KEYSERVICE_MAX_CLIENTS);
			close(fd);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->ks = ks;
		if (clients_peer_from_fd(fd, &c->peer) < 0) {
			close(fd);
			free(c);
			continue;
		}
		why = refuse_peer(ks, &c->peer, buf, sizeof(buf));
		if (why) {
			if (ks_log_ok(ks))
				log_warning("refusing a key service client pid %ld uid %u gid %u: %s",
					    (long)c->peer.pid, (unsigned)c->peer.uid,
					    (unsigned)c->peer.gid, why);
			refuse_now(fd, why);
			close(fd);
			free(c);
			continue;
		}
		if (loop_add_io(ks->loop, fd, EPOLLIN, on_client, c, &c->watch) < 0) {
			close(fd);
			free(c);
			continue;
		}
		c->last_ms = ks_now_ms();
		c->epoll_events = EPOLLIN;
		c->next = ks->head;
		if (ks->head)
			ks->head->prev = c;
		ks->head = c;
		ks->n_clients++;
		log_debug("key service client connected: pid %ld uid %u gid %u", (long)c->peer.pid,
			  (unsigned)c->peer.uid, (unsigned)c->peer.gid);
	}
}

static void on_client(struct loop_watch *w, int fd, uint32_t events, void *userdata)
{
	struct ks_client *c = userdata;
	struct keyservice *ks = c->ks;

	if (c->dead)
		return;
	if (events & (EPOLLHUP | EPOLLERR)) {
		c->dead = true; /* the client is gone: nobody reads the answers */
		return;
	}
	if (events & EPOLLOUT)
		client_flush(ks, c);
	if (events & EPOLLIN)
		client_read(ks, c);
}

/* Close connections that wait for nothing and said nothing for idle_ms. */
static void on_idle_timer(struct loop_watch *w, bool clock_set, void *userdata)
{
	struct keyservice *ks = userdata;
	uint64_t now = ks_now_ms();

	for (struct ks_client *c = ks->head; c; c = c->next) {
		if (c->dead || c->n_subs || c->n_pending || c->out_head ||
		    now - c->last_ms < ks->idle_ms)
			continue;
		log_debug("closing the idle key service connection of pid %ld uid %u",
			  (long)c->peer.pid, (unsigned)c->peer.uid);
		c->dead = true;
	}
	/* A second with suppressed lines gets its count even if nothing follows. */
	log_throttle_flush(&ks->log, now, KS_LOG_WHAT);
}

void keyservice_set_limits(struct keyservice *ks, uint64_t idle_ms, uint32_t per_uid,
			   uint64_t peer_check_s)
{
	ks->idle_ms = idle_ms;
	ks->per_uid = per_uid;
	peer_keys_set_check_interval(ks->peers, peer_check_s);
}

void keyservice_reap(struct keyservice *ks)
{
	reap(ks);
}

/* ---- events from the association manager ---- */

static void push_event(struct keyservice *ks, uint32_t event, const struct sa_manager_key *k)
{
	for (struct ks_client *c = ks->head; c; c = c->next) {
		for (size_t i = 0; i < c->n_subs && !c->dead; i++) {
			struct local_msg m = { .type = LOCAL_MSG_EVENT, .req = c->subs[i].req,
					       .event = event };

			if (fill_key(ks, k, c->subs[i].ae_id, event == LOCAL_EVENT_NEW_KEY, &m) == 0)
				client_send(ks, c, &m);
			local_msg_wipe(&m);
		}
	}
}

static void answer_pending(struct keyservice *ks, const struct sa_manager_key *k, const char *reason)
{
	for (struct ks_client *c = ks->head; c; c = c->next) {
		for (size_t i = 0; i < c->n_pending; i++) {
			if (k)
				answer_key(ks, c, &c->pending[i], k);
			else
				send_error(ks, c, c->pending[i].req, LOCAL_ERR_NO_KEY,
					   "no key: establishment with the MAS failed: %s", reason);
		}
		c->n_pending = 0;
	}
}

static void on_sa_event(const struct sa_manager_event *ev, void *userdata)
{
	struct keyservice *ks = userdata;
	struct sa_manager_key k;

	switch (ev->type) {
	case SA_MANAGER_EVENT_NEW_KEY:
		answer_pending(ks, &ev->key, NULL);
		push_event(ks, LOCAL_EVENT_NEW_KEY, &ev->key);
		break;
	case SA_MANAGER_EVENT_EXPIRED:
		push_event(ks, LOCAL_EVENT_EXPIRED, &ev->key);
		cache_drop(ks, ev->key.key_id);
		break;
	case SA_MANAGER_EVENT_DROPPED:
		push_event(ks, LOCAL_EVENT_REVOKED, &ev->key);
		cache_drop(ks, ev->key.key_id);
		break;
	case SA_MANAGER_EVENT_FAILED:
		/* A failed rekey leaves the current key usable: waiting requests keep it. */
		if (sa_manager_get_key(ks->sam, &k) == 0)
			answer_pending(ks, &k, NULL);
		else
			answer_pending(ks, NULL, ev->reason ? ev->reason : "unknown reason");
		break;
	default:
		break;
	}
}

/* ---- setup ---- */

/*
 * The socket's folder must be one that only root or this agent's user can
 * change: else another user could replace the socket with their own and answer
 * the AEs (issue #16). Returns 0 or -EPERM with the folder and the fix in err.
 */
static int check_folder(const char *dir, const char *path, struct m2msa_err *err)
{
	struct stat st;

	if (stat(dir, &st) < 0)
		return err_set(err, -errno, "cannot check %s, the folder of %s: %s", dir, path,
			       strerror(errno));
	if (st.st_uid != 0 && st.st_uid != geteuid())
		return err_set(err, -EPERM,
			       "refusing to create %s: its folder %s belongs to uid %u, not to root "
			       "or to this agent (uid %u), so that user could replace the socket; set "
			       "[agent] socket to a path in a folder of root's or the agent's, such as "
			       "/run/m2msa/agent.sock",
			       path, dir, (unsigned)st.st_uid, (unsigned)geteuid());
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return err_set(err, -EPERM,
			       "refusing to create %s: its folder %s is writable by %s (mode %04o), "
			       "who could replace the socket; remove that write permission (chmod go-w "
			       "%s) or set [agent] socket to a path in a folder such as /run/m2msa",
			       path, dir, st.st_mode & S_IWOTH ? "every user" : "its group",
			       (unsigned)(st.st_mode & 07777), dir);
	return 0;
}

static int make_socket(struct keyservice *ks, const char *path, struct m2msa_err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[PATH_MAX], tmp[sizeof(sa.sun_path) + 24];
	char *slash;
	struct group gr, *gres = NULL;
	char gbuf[8192];
	struct stat st;
	mode_t old;
	int fd, r;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		return err_set(err, -ENAMETOOLONG, "socket path %s is longer than %zu bytes", path,
			       sizeof(sa.sun_path) - 1);
	}
	snprintf(ks->path, sizeof(ks->path), "%s", path);
	/* Bound and listening under a temporary name, then renamed into place: a client
	 * never finds a socket file that refuses connections, and a stale socket is
	 * replaced in one step. A path too long for the suffix is bound directly. */
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.%ld", path, (long)getpid()) >= sizeof(sa.sun_path))
		snprintf(tmp, sizeof(tmp), "%s", path);
	memcpy(sa.sun_path, tmp, strlen(tmp));
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
			r = -errno;
			return err_set(err, r, "cannot create %s for the key service socket: %s", dir,
				       strerror(-r));
		}
	}
	r = check_folder(slash && slash != dir ? dir : slash ? "/" : ".", path, err);
	if (r < 0)
		return r;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			return err_set(err, -EEXIST, "%s exists and is not a socket (remove it, or "
				       "set [agent] socket)", path);
		}
		/* A stale socket from a crash, or another agent's: this agent takes the path. */
		log_info("replacing the existing socket %s", path);
		if (strcmp(tmp, path) == 0)
			(void)unlink(path);
	}
	(void)unlink(tmp); /* left by an earlier agent with this pid */
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		r = -errno;
		return err_set(err, r, "socket(AF_UNIX, SOCK_SEQPACKET): %s", strerror(-r));
	}
	/* Created 0600 under a tight umask, opened to the group only after that. */
	old = umask(0177);
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
	umask(old);
	if (r < 0) {
		close(fd);
		return err_set(err, r, "cannot bind %s: %s", tmp, strerror(-r));
	}
	if (getgrnam_r(KEYSERVICE_GROUP, &gr, gbuf, sizeof(gbuf), &gres) == 0 && gres) {
		/* No chown when the socket has the group already (the agent runs as group
		 * m2msa): m2msad.service's system call filter denies @chown. */
		if ((lstat(tmp, &st) < 0 || st.st_gid != gr.gr_gid) &&
		    chown(tmp, (uid_t)-1, gr.gr_gid) < 0)
			log_warning("cannot give %s to group %s: %s (local clients in that group "
				    "cannot connect)", path, KEYSERVICE_GROUP, strerror(errno));
	} else {
		log_info("group %s does not exist: %s keeps the agent's group", KEYSERVICE_GROUP,
			 path);
	}
	if (chmod(tmp, 0660) < 0 || listen(fd, SOMAXCONN) < 0 ||
	    (strcmp(tmp, path) != 0 && rename(tmp, path) < 0) || stat(path, &st) < 0) {
		r = -errno;
		(void)unlink(tmp);
		close(fd);
		return err_set(err, r, "cannot set up %s: %s", path, strerror(-r));
	}
	ks->dev = st.st_dev;
	ks->ino = st.st_ino;
	ks->listen_fd = fd;
	return 0;
}

int keyservice_new(const char *path, const char *clients_dir, struct sa_manager *sam,
		   struct loop *loop, struct keyservice **ret, struct m2msa_err *err)
{
	_cleanup_(keyservice_freep) struct keyservice *ks = calloc(1, sizeof(*ks));
	int r;

	if (!ks)
		return err_set(err, -ENOMEM, "out of memory");
	ks->loop = loop;
	ks->listen_fd = -1;
	ks->log.per_second = KS_LOG_PER_S;
	ks->idle_ms = 60000;
	ks->per_uid = 64;
	ks->cache = calloc(KS_CACHE_MAX, sizeof(*ks->cache));
	if (!ks->cache)
		return err_set(err, -ENOMEM, "out of memory");
	(void)mlock(ks->cache, KS_CACHE_MAX * sizeof(*ks->cache));
	r = clients_load(clients_dir, &ks->clients, err);
	if (r < 0)
		return r;
	r = make_socket(ks, path, err);
	if (r < 0)
		return r;
	r = loop_add_io(ks->loop, ks->listen_fd, EPOLLIN, on_listener, ks, &ks->listen_watch);
	if (r < 0)
		return err_set(err, r, "cannot watch %s: %s", path, strerror(-r));
	r = loop_add_timer(ks->loop, CLOCK_MONOTONIC, on_idle_timer, ks, &ks->idle_timer);
	if (r == 0)
		r = loop_timer_set(ks->idle_timer, KS_IDLE_CHECK_MS, KS_IDLE_CHECK_MS, 0);
	if (r < 0)
		return err_set(err, r, "cannot set up the idle timer: %s", strerror(-r));
	ks->sam = sam;
	r = peer_keys_new(sam, loop, on_peer_answer, ks, &ks->peers);
	if (r < 0)
		return err_set(err, r, "out of memory");
	peer_keys_set_event_handler(ks->peers, on_peer_event, ks);
	sa_manager_set_event_handler(sam, on_sa_event, ks);
	log_info("key service listening on %s (%zu clients.d files from %s)", path,
		 clients_count(ks->clients), clients_dir);
	*ret = TAKE_PTR(ks);
	return 0;
}

void keyservice_free(struct keyservice *ks)
{
	struct stat st;

	if (!ks)
		return;
	if (ks->sam)
		sa_manager_set_event_handler(ks->sam, NULL, NULL);
	while (ks->head)
		client_free(ks, ks->head);
	if (ks->idle_timer)
		loop_remove(ks->idle_timer);
	peer_keys_free(ks->peers);
	ks->peers = NULL;
	if (ks->listen_fd >= 0) {
		/* Remove the path only while it is still this agent's socket. */
		if (stat(ks->path, &st) == 0 && st.st_dev == ks->dev && st.st_ino == ks->ino)
			(void)unlink(ks->path);
		loop_remove(ks->listen_watch);
		close(ks->listen_fd);
	}
	clients_free(ks->clients);
	if (ks->cache) {
		cache_drop(ks, NULL);
		(void)munlock(ks->cache, KS_CACHE_MAX * sizeof(*ks->cache));
		free(ks->cache);
	}
	free(ks);
}

int keyservice_reload(struct keyservice *ks, const char *clients_dir, struct m2msa_err *err)
{
	struct clients *c = NULL;
	int r = clients_load(clients_dir, &c, err);

	if (r < 0)
		return r;
	clients_free(ks->clients);
	ks->clients = c;
	log_info("reloaded %zu clients.d files from %s", clients_count(c), clients_dir);
	/* End the subscriptions the new policy no longer allows. */
	for (struct ks_client *cl = ks->head; cl; cl = cl->next) {
		size_t j = 0;

		for (size_t i = 0; i < cl->n_subs; i++) {
			if (clients_may_act_as(c, &cl->peer, cl->subs[i].ae_id)) {
				cl->subs[j++] = cl->subs[i];
				continue;
			}
			log_warning("ending the subscription of pid %ld uid %u to %s: clients.d no "
				    "longer allows it", (long)cl->peer.pid, (unsigned)cl->peer.uid,
				    ae_or_cse(cl->subs[i].ae_id));
			send_error(ks, cl, cl->subs[i].req, LOCAL_ERR_DENIED,
				   "subscription ended: uid %u may no longer act as %s",
				   (unsigned)cl->peer.uid,
				   cl->subs[i].ae_id[0] ? cl->subs[i].ae_id : "the node's CSE");
		}
		cl->n_subs = j;
	}
	return 0;
}
