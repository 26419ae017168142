/* SPDX-License-Identifier: Apache-2.0 */
/* libm2msa: the client side of the agent's local key service (include/m2msa/m2msa.h). */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <m2msa/m2msa.h>

#include "libm2msa/libm2msa-int.h"
#include "common/local-wire.h"
#include "common/secret.h"

#define SUBS_MAX 8
#define RETRY_MS 500

struct m2msa_key {
	char key_id[WIRE_KEY_ID_MAX + 1];
	char ae_id[WIRE_ID_MAX + 1];
	char suite[WIRE_SUITE_MAX + 1];
	uint64_t expiry;
	size_t len;
	uint8_t data[M2MSA_KEY_LEN];
	char target[WIRE_TARGET_MAX + 1]; /* pairwise keys: the registered target */
	char node_id[WIRE_ID_MAX + 1];	  /* pairwise keys: the originator's node */
	bool has_hmac;
	struct crypto_hmac_key hmac; /* of data, for sealed messages (libm2msa_key_hmac) */
};

struct event {
	struct event *next;
	enum m2msa_event_type type;
	struct m2msa_key *key;
};

struct m2msa {
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int sock;  /* -1 while the agent is away */
	int epfd;  /* what m2msa_fd() returns: holds sock, or timer while disconnected */
	int timer; /* reconnect retries */
	int timeout_ms;
	uint32_t next_req;
	char subs[SUBS_MAX][WIRE_ID_MAX + 1];
	size_t n_subs;
	struct event *eq_head, *eq_tail;
	char last_error[WIRE_REASON_MAX + 1];
	bool reconnecting; /* restoring subscriptions: a lost connection is not retried */
};

/* ---- key objects ---- */

/*
 * Key objects are mlocked (best effort: RLIMIT_MEMLOCK may be small). mlock and
 * munlock are system calls, so freed objects are wiped and kept, locked, on a
 * small process-wide free list for the next key instead of going back to malloc.
 */
#define KEY_POOL_MAX 64
static pthread_mutex_t key_pool_lock = PTHREAD_MUTEX_INITIALIZER;
static struct m2msa_key *key_pool[KEY_POOL_MAX];
static size_t key_pool_n;

static struct m2msa_key *key_alloc(void)
{
	struct m2msa_key *k = NULL;

	pthread_mutex_lock(&key_pool_lock);
	if (key_pool_n > 0)
		k = key_pool[--key_pool_n];
	pthread_mutex_unlock(&key_pool_lock);
	if (k)
		return k; /* wiped when it was freed */
	k = calloc(1, sizeof(*k));
	if (k)
		(void)mlock(k, sizeof(*k));
	return k;
}

struct m2msa_key *libm2msa_key_new(const struct local_msg *m)
{
	struct m2msa_key *k = key_alloc();

	if (!k)
		return NULL;
	snprintf(k->key_id, sizeof(k->key_id), "%s", m->key_id);
	snprintf(k->ae_id, sizeof(k->ae_id), "%s", m->ae_id);
	snprintf(k->suite, sizeof(k->suite), "%s", m->suite);
	snprintf(k->target, sizeof(k->target), "%s", m->target);
	snprintf(k->node_id, sizeof(k->node_id), "%s", m->node_id);
	k->expiry = m->expiry;
	k->len = m->key_len;
	if (m->key_len)
		memcpy(k->data, m->key, M2MSA_KEY_LEN);
	/* Two SHA-256 blocks now save two in every seal and open with this key. */
	if (m->key_len == M2MSA_KEY_LEN)
		k->has_hmac = crypto_hmac_key_init(&k->hmac, k->data, M2MSA_KEY_LEN) == 0;
	return k;
}

const struct crypto_hmac_key *libm2msa_key_hmac(const struct m2msa_key *k)
{
	return k && k->has_hmac ? &k->hmac : NULL;
}

void m2msa_key_free(struct m2msa_key *k)
{
	if (!k)
		return;
	secret_wipe(k, sizeof(*k));
	pthread_mutex_lock(&key_pool_lock);
	if (key_pool_n < KEY_POOL_MAX) {
		key_pool[key_pool_n++] = k;
		k = NULL;
	}
	pthread_mutex_unlock(&key_pool_lock);
	if (k) {
		(void)munlock(k, sizeof(*k));
		free(k);
	}
}

const char *m2msa_key_id(const struct m2msa_key *k)
{
	return k ? k->key_id : NULL;
}

const uint8_t *m2msa_key_data(const struct m2msa_key *k)
{
	return k && k->len ? k->data : NULL;
}

size_t m2msa_key_len(const struct m2msa_key *k)
{
	return k ? k->len : 0;
}

uint64_t m2msa_key_expiry(const struct m2msa_key *k)
{
	return k ? k->expiry : 0;
}

const char *m2msa_key_ae_id(const struct m2msa_key *k)
{
	return k ? k->ae_id : NULL;
}

const char *m2msa_key_target(const struct m2msa_key *k)
{
	return k ? k->target : "";
}

const char *m2msa_key_node_id(const struct m2msa_key *k)
{
	return k ? k->node_id : "";
}

const char *m2msa_key_suite(const struct m2msa_key *k)
{
	return k ? k->suite : NULL;
}

/* ---- connection ---- */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * The process that answers on path must be the agent: its SO_PEERCRED uid is
 * $M2MSA_AGENT_UID when set, else the owner of the socket's folder; root is
 * always accepted. Someone who could swap the socket (docs/libm2msa.md) then
 * cannot answer in the agent's place. -EPERM when another uid answers.
 */
static int check_peer(int fd, const char *path)
{
	const char *env = getenv("M2MSA_AGENT_UID");
	struct ucred cred;
	socklen_t len = sizeof(cred);
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct stat st;
	uid_t want;
	char *slash;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return -errno;
	if (env && env[0]) {
		char *end;
		unsigned long v;

		errno = 0;
		v = strtoul(env, &end, 10);
		if (errno || *end || env[0] == '-' || v > UINT32_MAX - 1)
			return -EINVAL;
		want = (uid_t)v;
	} else {
		snprintf(dir, sizeof(dir), "%s", path);
		slash = strrchr(dir, '/');
		if (!slash)
			snprintf(dir, sizeof(dir), ".");
		else if (slash == dir)
			dir[1] = '\0';
		else
			*slash = '\0';
		if (stat(dir, &st) < 0)
			return -errno;
		want = st.st_uid;
	}
	return cred.uid == want || cred.uid == 0 ? 0 : -EPERM;
}

static int sock_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, r;

	memcpy(sa.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	r = check_peer(fd, path);
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

static void disconnect(struct m2msa *h)
{
	struct itimerspec its = { .it_interval = { 0, RETRY_MS * 1000000L },
				  .it_value = { 0, RETRY_MS * 1000000L } };

	if (h->sock < 0)
		return;
	(void)epoll_ctl(h->epfd, EPOLL_CTL_DEL, h->sock, NULL);
	close(h->sock);
	h->sock = -1;
	/* While the agent is away, the timer makes m2msa_fd() readable for the retries. */
	(void)timerfd_settime(h->timer, 0, &its, NULL);
	(void)epoll_ctl(h->epfd, EPOLL_CTL_ADD, h->timer,
			&(struct epoll_event){ .events = EPOLLIN });
}

/* The socket's receive timeout: the first receive of a request blocks in recv() itself. */
static void set_rcvtimeo(int fd, int timeout_ms)
{
	struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };

	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

static int attach(struct m2msa *h, int fd)
{
	struct itimerspec off = { .it_value = { 0, 0 } };
	uint64_t n;

	if (epoll_ctl(h->epfd, EPOLL_CTL_ADD, fd, &(struct epoll_event){ .events = EPOLLIN }) < 0)
		return -errno;
	(void)epoll_ctl(h->epfd, EPOLL_CTL_DEL, h->timer, NULL);
	(void)timerfd_settime(h->timer, 0, &off, NULL);
	(void)!read(h->timer, &n, sizeof(n));
	set_rcvtimeo(fd, h->timeout_ms);
	h->sock = fd;
	return 0;
}

static int send_msg(struct m2msa *h, const struct local_msg *m)
{
	uint8_t buf[LOCAL_WIRE_MSG_MAX];
	size_t len = 0;
	int r = local_wire_encode(m, buf, sizeof(buf), &len);

	if (r < 0)
		return r;
	if (h->sock < 0)
		return -ENOTCONN;
	if (send(h->sock, buf, len, MSG_NOSIGNAL) < 0)
		return -errno;
	return 0;
}

static void queue_event(struct m2msa *h, enum m2msa_event_type type, struct m2msa_key *key)
{
	struct event *e = calloc(1, sizeof(*e));

	if (!e) {
		m2msa_key_free(key); /* out of memory: the event is lost, the key wiped */
		return;
	}
	e->type = type;
	e->key = key;
	if (h->eq_tail)
		h->eq_tail->next = e;
	else
		h->eq_head = e;
	h->eq_tail = e;
}

static void queue_msg_event(struct m2msa *h, const struct local_msg *m)
{
	struct m2msa_key *k = libm2msa_key_new(m);

	if (k)
		queue_event(h, (enum m2msa_event_type)m->event, k);
}

/*
 * Receive one message, waiting until deadline (monotonic ms; 0: do not wait).
 * fresh: the first receive of a request, whose deadline is the socket's receive
 * timeout: recv() blocks by itself, one system call instead of poll() + recv().
 * -EAGAIN: nothing arrived in time; -ECONNRESET: the agent closed the connection.
 */
static int recv_msg(struct m2msa *h, uint64_t deadline, bool fresh, struct local_msg *ret)
{
	uint8_t buf[LOCAL_WIRE_MSG_MAX + 1];
	ssize_t n = -1;
	int r;

	if (h->sock < 0)
		return -ENOTCONN;
	if (deadline && fresh) {
		n = recv(h->sock, buf, sizeof(buf), 0);
		if (n < 0 && errno != EINTR)
			return errno == EAGAIN ? -EAGAIN : -ECONNRESET;
	}
	while (n < 0) {
		struct pollfd p = { .fd = h->sock, .events = POLLIN };
		uint64_t now = now_ms();
		int wait = deadline > now ? (int)(deadline - now) : 0;

		r = poll(&p, 1, wait);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EAGAIN;
		n = recv(h->sock, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? -EAGAIN : -ECONNRESET;
	}
	if (n == 0)
		return -ECONNRESET;
	r = local_wire_decode(buf, (size_t)n, ret);
	secret_wipe(buf, (size_t)n);
	return r;
}

/* Reconnect and restore subscriptions. */
static int reconnect(struct m2msa *h);

/*
 * The agent refuses a connection it will never serve (docs/protocol.md "Local
 * key service") with an ERROR for request 0 and closes it: -errno of its code
 * with the reason in last_error, or 0 when no such message waits.
 */
static int refusal(struct m2msa *h)
{
	struct local_msg m;
	int r = recv_msg(h, 0, false, &m);

	/* A reset is reported once, before the data that is still queued. */
	if (r == -ECONNRESET)
		r = recv_msg(h, 0, false, &m);
	if (r < 0)
		return 0;
	r = 0;
	if (m.type == LOCAL_MSG_ERROR && m.req == 0) {
		snprintf(h->last_error, sizeof(h->last_error), "%s", m.reason);
		r = -local_error_to_errno(m.code);
	}
	local_msg_wipe(&m);
	return r;
}

/*
 * Send req and wait for the answer with its number; events that arrive meanwhile
 * are queued. On a lost connection: reconnect once and send again.
 */
int libm2msa_request(struct m2msa *h, struct local_msg *req, struct local_msg *ret)
{
	int r = 0;

	h->last_error[0] = '\0';
	for (int attempt = 0; attempt < 2; attempt++) {
		uint64_t deadline = now_ms() + (uint64_t)h->timeout_ms;

		if (h->sock < 0 || r == -ECONNRESET) {
			if (h->reconnecting)
				return -ECONNRESET;
			r = reconnect(h);
			if (r < 0)
				return r;
		}
		req->req = ++h->next_req;
		r = send_msg(h, req);
		if (r == -EPIPE || r == -ECONNRESET || r == -ENOTCONN) {
			/* The agent may have said why it closed (an ERROR for request 0). */
			r = refusal(h);
			disconnect(h);
			if (r < 0)
				return r;
			r = -ECONNRESET;
			continue;
		}
		if (r < 0)
			return r;
		for (bool fresh = true;; fresh = false) {
			struct local_msg m;

			r = recv_msg(h, deadline, fresh, &m);
			if (r == -EAGAIN)
				return -ETIMEDOUT;
			if (r == -ECONNRESET) {
				r = refusal(h);
				disconnect(h);
				if (r < 0)
					return r;
				r = -ECONNRESET;
				break;
			}
			if (r < 0)
				return r;
			if (m.type == LOCAL_MSG_EVENT) {
				queue_msg_event(h, &m);
				local_msg_wipe(&m);
				continue;
			}
			if (m.req != req->req && !(m.req == 0 && m.type == LOCAL_MSG_ERROR)) {
				local_msg_wipe(&m); /* the answer to an abandoned request */
				continue;
			}
			if (m.type == LOCAL_MSG_ERROR) {
				snprintf(h->last_error, sizeof(h->last_error), "%s", m.reason);
				r = -local_error_to_errno(m.code);
				local_msg_wipe(&m);
				return r;
			}
			*ret = m;
			local_msg_wipe(&m);
			return 0;
		}
	}
	return r;
}

static int subscribe_one(struct m2msa *h, const char *ae_id)
{
	struct local_msg req = { .type = LOCAL_MSG_SUBSCRIBE }, rep;
	int r;

	snprintf(req.ae_id, sizeof(req.ae_id), "%s", ae_id);
	r = libm2msa_request(h, &req, &rep);
	if (r < 0)
		return r;
	return rep.type == LOCAL_MSG_OK ? 0 : -EBADMSG;
}

static int reconnect(struct m2msa *h)
{
	int fd, r;

	disconnect(h);
	fd = sock_connect(h->path);
	if (fd < 0)
		return fd;
	r = attach(h, fd);
	if (r < 0) {
		close(fd);
		return r;
	}
	h->reconnecting = true;
	for (size_t i = 0; i < h->n_subs && r == 0; i++)
		r = subscribe_one(h, h->subs[i]);
	h->reconnecting = false;
	if (r < 0)
		disconnect(h);
	return r;
}

int m2msa_open(const char *socket_path, struct m2msa **ret)
{
	struct m2msa *h;
	const char *env = getenv("M2MSA_SOCKET");
	int r;

	if (!ret)
		return -EINVAL;
	if (!socket_path)
		socket_path = env && env[0] ? env : M2MSA_SOCKET_DEFAULT;
	if (!socket_path[0])
		return -EINVAL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->sock = h->epfd = h->timer = -1;
	h->timeout_ms = M2MSA_TIMEOUT_DEFAULT_MS;
	if (strlen(socket_path) >= sizeof(h->path)) {
		r = -ENAMETOOLONG;
		goto fail;
	}
	snprintf(h->path, sizeof(h->path), "%s", socket_path);
	h->epfd = epoll_create1(EPOLL_CLOEXEC);
	h->timer = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (h->epfd < 0 || h->timer < 0) {
		r = -errno;
		goto fail;
	}
	r = sock_connect(h->path);
	if (r < 0)
		goto fail;
	h->sock = r;
	r = attach(h, h->sock);
	if (r < 0)
		goto fail;
	*ret = h;
	return 0;
fail:
	m2msa_close(h);
	return r;
}

void m2msa_close(struct m2msa *h)
{
	struct event *e, *n;

	if (!h)
		return;
	for (e = h->eq_head; e; e = n) {
		n = e->next;
		m2msa_key_free(e->key);
		free(e);
	}
	if (h->sock >= 0)
		close(h->sock);
	if (h->epfd >= 0)
		close(h->epfd);
	if (h->timer >= 0)
		close(h->timer);
	free(h);
}

int m2msa_set_timeout(struct m2msa *h, int timeout_ms)
{
	if (!h || timeout_ms <= 0)
		return -EINVAL;
	h->timeout_ms = timeout_ms;
	if (h->sock >= 0)
		set_rcvtimeo(h->sock, timeout_ms);
	return 0;
}

static int check_ae(const char *ae_id)
{
	if (!ae_id || !ae_id[0])
		return 0;
	if (strlen(ae_id) > WIRE_ID_MAX || !wire_id_valid(ae_id) || strchr(ae_id, '@'))
		return -EINVAL;
	return 0;
}

int m2msa_get_key(struct m2msa *h, const char *ae_id, struct m2msa_key **ret)
{
	struct local_msg req = { .type = LOCAL_MSG_GET_KEY }, rep;
	struct m2msa_key *k;
	int r;

	if (!h || !ret || check_ae(ae_id) < 0)
		return -EINVAL;
	snprintf(req.ae_id, sizeof(req.ae_id), "%s", ae_id ? ae_id : "");
	r = libm2msa_request(h, &req, &rep);
	if (r < 0)
		return r;
	if (rep.type != LOCAL_MSG_KEY || rep.key_len != M2MSA_KEY_LEN ||
	    strcmp(rep.ae_id, req.ae_id) != 0) {
		local_msg_wipe(&rep);
		return -EBADMSG;
	}
	k = libm2msa_key_new(&rep);
	local_msg_wipe(&rep);
	if (!k)
		return -ENOMEM;
	*ret = k;
	return 0;
}

int m2msa_subscribe(struct m2msa *h, const char *ae_id)
{
	const char *ae = ae_id ? ae_id : "";
	int r;

	if (!h || check_ae(ae_id) < 0)
		return -EINVAL;
	for (size_t i = 0; i < h->n_subs; i++)
		if (strcmp(h->subs[i], ae) == 0)
			return subscribe_one(h, ae);
	if (h->n_subs >= SUBS_MAX)
		return -ENOSPC;
	r = subscribe_one(h, ae);
	if (r < 0)
		return r;
	snprintf(h->subs[h->n_subs++], sizeof(h->subs[0]), "%s", ae);
	return 0;
}

int m2msa_fd(const struct m2msa *h)
{
	return h ? h->epfd : -EINVAL;
}

int m2msa_read_event(struct m2msa *h, enum m2msa_event_type *ret_type, struct m2msa_key **ret_key)
{
	struct epoll_event ev;
	int r;

	if (!h || !ret_type)
		return -EINVAL;
	/* Drain the epoll fd's readiness; the work happens below. */
	(void)epoll_wait(h->epfd, &ev, 1, 0);
	while (!h->eq_head && h->sock >= 0) {
		struct local_msg m;

		r = recv_msg(h, 0, false, &m);
		if (r == -EAGAIN)
			break;
		if (r == -ECONNRESET) {
			disconnect(h);
			break;
		}
		if (r < 0)
			return r;
		if (m.type == LOCAL_MSG_EVENT)
			queue_msg_event(h, &m);
		local_msg_wipe(&m); /* anything else: a late answer nobody waits for */
	}
	if (!h->eq_head && h->sock < 0) {
		uint64_t n;

		(void)!read(h->timer, &n, sizeof(n));
		if (reconnect(h) == 0)
			queue_event(h, M2MSA_EVENT_RECONNECTED, NULL);
		else
			disconnect(h); /* keep retrying on the timer */
	}
	if (!h->eq_head)
		return -EAGAIN;
	{
		struct event *e = h->eq_head;

		h->eq_head = e->next;
		if (!h->eq_head)
			h->eq_tail = NULL;
		*ret_type = e->type;
		if (ret_key)
			*ret_key = e->key;
		else
			m2msa_key_free(e->key);
		free(e);
	}
	return 0;
}

int m2msa_rekey(struct m2msa *h)
{
	struct local_msg req = { .type = LOCAL_MSG_REKEY }, rep;
	int r;

	if (!h)
		return -EINVAL;
	r = libm2msa_request(h, &req, &rep);
	if (r < 0)
		return r;
	return rep.type == LOCAL_MSG_OK ? 0 : -EBADMSG;
}

int m2msa_status(struct m2msa *h, char **ret_json)
{
	struct local_msg req = { .type = LOCAL_MSG_STATUS }, rep;
	char *s;
	int r;

	if (!h || !ret_json)
		return -EINVAL;
	r = libm2msa_request(h, &req, &rep);
	if (r < 0)
		return r;
	if (rep.type != LOCAL_MSG_STATUS_REPLY)
		return -EBADMSG;
	s = strdup(rep.status);
	if (!s)
		return -ENOMEM;
	*ret_json = s;
	return 0;
}

const char *m2msa_last_error(const struct m2msa *h)
{
	return h ? h->last_error : "";
}
