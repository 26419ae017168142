/* SPDX-License-Identifier: Apache-2.0 */
/*
 * m2msad's local key service (keyservice.h): the Unix socket, authorisation,
 * the requests and their keys, and the pushes of the association manager's
 * events. Connections are in keyservice-conn.c, end-to-end keys in
 * keyservice-peer.c (keyservice-int.h).
 */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/keyservice-int.h"
#include "agent/status.h"
#include "common/log.h"
#include "common/sa.h"
#include "common/secret.h"

static const char *ae_or_cse(const char *ae_id)
{
	return ae_id[0] ? ae_id : "(the node's CSE)";
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
		ks_send_error(ks, c, ref->req, LOCAL_ERR_BAD_ID,
			      "'%s' cannot form a key ID with %s: %s", ref->ae_id, k->key_id,
			      strerror(-r));
	else
		ks_client_send(ks, c, &m);
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
		ks_send_error(ks, c, m->req, LOCAL_ERR_DENIED,
			      "%s needs root, group %s or admin = yes in clients.d",
			      local_msg_type_to_string(m->type), CLIENTS_ADMIN_GROUP);
	} else {
		ks_send_error(ks, c, m->req, LOCAL_ERR_DENIED,
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
		ks_send_error(ks, c, m->req, LOCAL_ERR_BUSY,
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
			ks_send_error(ks, c, m->req, LOCAL_ERR_BUSY,
				      "at most %d subscriptions per connection", KS_SUBS_MAX);
			return;
		}
		c->n_subs++;
	}
	c->subs[i].req = m->req;
	snprintf(c->subs[i].ae_id, sizeof(c->subs[i].ae_id), "%s", m->ae_id);
	log_info("pid %ld uid %u subscribed to the keys of %s", (long)c->peer.pid,
		 (unsigned)c->peer.uid, ae_or_cse(m->ae_id));
	ks_client_send(ks, c, &(struct local_msg){ .type = LOCAL_MSG_OK, .req = m->req });
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
		ks_send_error(ks, c, m->req, LOCAL_ERR_INTERNAL, "the status does not fit a message");
		return;
	}
	n = strlen(reply.status);
	while (n > 0 && (reply.status[n - 1] == '\n' || reply.status[n - 1] == '\r'))
		reply.status[--n] = '\0';
	ks_client_send(ks, c, &reply);
}

static void on_rekey(struct keyservice *ks, struct ks_client *c, const struct local_msg *m)
{
	char why[96];

	snprintf(why, sizeof(why), "rekey requested by pid %ld uid %u", (long)c->peer.pid,
		 (unsigned)c->peer.uid);
	ks_client_send(ks, c, &(struct local_msg){ .type = LOCAL_MSG_OK, .req = m->req });
	sa_manager_rekey(ks->sam, why);
}

void ks_on_message(struct keyservice *ks, struct ks_client *c, const uint8_t *buf, size_t len)
{
	_cleanup_(local_msg_wipe) struct local_msg m;
	char what[128];
	int r = local_wire_decode(buf, len, &m);

	if (r == -EPROTONOSUPPORT) {
		snprintf(what, sizeof(what), "protocol version %u is not supported (this agent speaks %d)",
			 m.version, LOCAL_WIRE_VERSION);
		ks_protocol_error(ks, c, m.req, LOCAL_ERR_VERSION, what);
		return;
	}
	if (r < 0) {
		ks_protocol_error(ks, c, 0, LOCAL_ERR_MALFORMED,
				  "malformed request (not a valid message)");
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
		ks_protocol_error(ks, c, m.req, LOCAL_ERR_MALFORMED, what);
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
		ks_on_peer_request(ks, c, &m);
		break;
	default:
		on_rekey(ks, c, &m);
		break;
	}
}

/* ---- events from the association manager ---- */

static void push_event(struct keyservice *ks, uint32_t event, const struct sa_manager_key *k)
{
	for (struct ks_client *c = ks->head; c; c = c->next) {
		for (size_t i = 0; i < c->n_subs && !c->dead; i++) {
			struct local_msg m = { .type = LOCAL_MSG_EVENT, .req = c->subs[i].req,
					       .event = event };

			if (fill_key(ks, k, c->subs[i].ae_id, event == LOCAL_EVENT_NEW_KEY, &m) == 0)
				ks_client_send(ks, c, &m);
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
				ks_send_error(ks, c, c->pending[i].req, LOCAL_ERR_NO_KEY,
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
	r = loop_add_io(ks->loop, ks->listen_fd, EPOLLIN, ks_on_listener, ks, &ks->listen_watch);
	if (r < 0)
		return err_set(err, r, "cannot watch %s: %s", path, strerror(-r));
	r = loop_add_timer(ks->loop, CLOCK_MONOTONIC, ks_on_idle_timer, ks, &ks->idle_timer);
	if (r == 0)
		r = loop_timer_set(ks->idle_timer, KS_IDLE_CHECK_MS, KS_IDLE_CHECK_MS, 0);
	if (r < 0)
		return err_set(err, r, "cannot set up the idle timer: %s", strerror(-r));
	ks->sam = sam;
	r = peer_keys_new(sam, loop, ks_on_peer_answer, ks, &ks->peers);
	if (r < 0)
		return err_set(err, r, "out of memory");
	peer_keys_set_event_handler(ks->peers, ks_on_peer_event, ks);
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
		ks_client_free(ks, ks->head);
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
			ks_send_error(ks, cl, cl->subs[i].req, LOCAL_ERR_DENIED,
				      "subscription ended: uid %u may no longer act as %s",
				      (unsigned)cl->peer.uid,
				      cl->subs[i].ae_id[0] ? cl->subs[i].ae_id : "the node's CSE");
		}
		cl->n_subs = j;
	}
	return 0;
}
