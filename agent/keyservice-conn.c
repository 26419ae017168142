/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The key service's connections (keyservice-int.h): accepting a client (refused
 * when unknown to clients.d or over its uid's share), reading one request per
 * wakeup, sending without blocking (queued, and a client that does not read is
 * dropped), closing idle connections, and freeing the closed ones.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "agent/keyservice-int.h"
#include "common/log.h"
#include "common/secret.h"

uint64_t ks_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

#define KS_LOG_WHAT "refusals and denials"

/* May one more line about a refused connection or a denied request be logged? */
bool ks_log_ok(struct keyservice *ks)
{
	return log_throttle_ok(&ks->log, ks_now_ms(), KS_LOG_WHAT);
}

/* ---- one connection ---- */

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

void ks_client_free(struct keyservice *ks, struct ks_client *c)
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
			ks_client_free(ks, c);
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
void ks_client_send(struct keyservice *ks, struct ks_client *c, const struct local_msg *m)
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

void ks_send_error(struct keyservice *ks, struct ks_client *c, uint32_t req, uint32_t code,
		   const char *fmt, ...)
{
	struct local_msg m = { .type = LOCAL_MSG_ERROR, .req = req, .code = code };
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m.reason, sizeof(m.reason), fmt, ap);
	va_end(ap);
	ks_client_send(ks, c, &m);
}

/* A request that breaks the protocol: answer with an error, then close. */
void ks_protocol_error(struct keyservice *ks, struct ks_client *c, uint32_t req, uint32_t code,
		       const char *what)
{
	log_warning("closing the connection of pid %ld uid %u: %s", (long)c->peer.pid,
		    (unsigned)c->peer.uid, what);
	ks_send_error(ks, c, req, code, "%s; closing the connection", what);
	/* Let the error go out if the socket takes it; then the connection ends. */
	c->dead = true;
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
		ks_protocol_error(ks, c, 0, LOCAL_ERR_MALFORMED, what);
	} else {
		ks_on_message(ks, c, buf, (size_t)n);
	}
	secret_wipe(buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf));
}

/* ---- the listener, limits ---- */

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

void ks_on_listener(struct loop_watch *w, int listen_fd, uint32_t events, void *userdata)
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
void ks_on_idle_timer(struct loop_watch *w, bool clock_set, void *userdata)
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
