/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One m2masd worker's epoll loop: its listeners, non-blocking TLS connections and,
 * on the primary (the main thread's), signals and the purge timer. What the
 * workers share is in server-shared.c; their threads in workers.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/loop.h"
#include "common/secret.h"
#include "common/tls.h"
#include "mas/connbudget.h"
#include "mas/server-int.h"
#include "mas/server-shared.h"
#include "mas/server.h"
#include "mas/zn-client.h"

/* After the final reply and close_notify: drain the peer until EOF for at most this long. */
#define LINGER_MS 2000
#define ACCEPT_BATCH 64 /* connections accepted per wake-up */
#define ACCEPT_RETRY_MS 100 /* after running out of fds: accept again this much later */

enum step {
	STEP_AGAIN,
	STEP_WANT_READ,
	STEP_WANT_WRITE,
	STEP_CLOSE,
	STEP_PARK, /* nothing to do until a callback moves the connection on */
};

static const char *conn_role(const struct mas_conn *c)
{
	return c->retrieval ? "target" : "node";
}

/* "node /mn-cse-1 at 192.0.2.1:4711" once the node has said who it is, else "node 192.0.2.1:4711". */
static const char *conn_who(const struct mas_conn *c, char *buf, size_t len)
{
	if (c->est.node_id[0])
		snprintf(buf, len, "node %s at %s", c->est.node_id, c->peer.name);
	else
		snprintf(buf, len, "%s %s", conn_role(c), c->peer.name);
	return buf;
}

#define WHO_MAX (WIRE_ID_MAX + sizeof(((struct mas_peer *)0)->name) + 16)

static void accept_pause(struct mas_server *s, bool pause)
{
	uint32_t ev = pause ? 0 : EPOLLIN;

	if (s->accept_paused == pause)
		return;
	s->accept_paused = pause;
	if (s->est_watch) /* NULL once mas_server_fail() closed the listeners */
		(void)loop_io_set_events(s->est_watch, ev);
	if (s->ret_watch)
		(void)loop_io_set_events(s->ret_watch, ev);
}

/* May one more line about a failed or hostile connection be logged (log-throttle.h)? */
static bool hostile_log(struct mas_server *s)
{
	return mas_shared_hostile_log(s->sh);
}

void mas_conn_free(struct mas_server *s, struct mas_conn *c)
{
	mas_shared_release(s->sh, c->retrieval, c->source);
	if (c->zn_req)
		zn_cancel(s->ctx->zn, c->zn_req);
	loop_remove(c->watch);
	wolfSSL_free(c->ssl);
	close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->n_local--;
	/* rbuf may hold a proof, wbuf a key: wipe the whole connection. */
	secret_wipe(c, sizeof(*c));
	free(c);
	accept_pause(s, false);
}

static enum step conn_queue(struct mas_conn *c, const struct wire_msg *reply, enum mas_next next)
{
	int r = wire_encode(reply, c->wbuf, sizeof(c->wbuf), &c->wlen);

	if (r < 0) {
		log_error("cannot encode the %s reply to %s %s: %s",
			  wire_msg_type_to_string(reply->type), conn_role(c), c->peer.name,
			  strerror(-r));
		return STEP_CLOSE;
	}
	c->after_write = next;
	c->state = CONN_WRITE;
	return STEP_AGAIN;
}

static enum step conn_error(struct mas_conn *c, enum wire_error_code code, const char *reason)
{
	struct wire_msg reply;

	mas_reply_error(&reply, code, "%s", reason);
	return conn_queue(c, &reply, MAS_NEXT_CLOSE);
}

static enum step want(WOLFSSL *ssl, int ret)
{
	int e = wolfSSL_get_error(ssl, ret);

	if (e == WOLFSSL_ERROR_WANT_READ)
		return STEP_WANT_READ;
	if (e == WOLFSSL_ERROR_WANT_WRITE)
		return STEP_WANT_WRITE;
	return STEP_CLOSE;
}

/*
 * Wait for the peer's first byte before creating its TLS session: a silent
 * connection costs only its mas_conn and is closed after first_byte_timeout.
 */
static enum step conn_first_byte(struct mas_server *s, struct mas_conn *c)
{
	uint8_t b;
	ssize_t n = recv(c->fd, &b, 1, MSG_PEEK);

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return STEP_WANT_READ;
	if (n <= 0)
		return STEP_CLOSE;
	c->ssl = wolfSSL_new(c->retrieval ? s->ret_ctx : s->est_ctx);
	if (!c->ssl || wolfSSL_set_fd(c->ssl, c->fd) != WOLFSSL_SUCCESS) {
		log_error("cannot create a TLS session for %s (out of memory?)", c->peer.name);
		return STEP_CLOSE;
	}
	c->state = CONN_HANDSHAKE;
	c->deadline_ms = mas_now_ms() + s->sh->handshake_timeout_ms;
	return STEP_AGAIN;
}

static enum step conn_handshake(struct mas_server *s, struct mas_conn *c)
{
	char err[TLS_ERR_MAX];
	int r = wolfSSL_accept(c->ssl);
	enum step st;

	if (r == WOLFSSL_SUCCESS) {
		log_debug("TLS handshake with %s %s done (%s)", conn_role(c), c->peer.name,
			  wolfSSL_get_cipher(c->ssl));
		c->state = CONN_READ;
		c->need = WIRE_PREFIX_LEN;
		c->deadline_ms = mas_now_ms() + s->sh->idle_timeout_ms;
		return STEP_AGAIN;
	}
	st = want(c->ssl, r);
	if (st != STEP_CLOSE)
		return st;
	r = tls_error(c->ssl, r, err, sizeof(err));
	if (c->retrieval) {
		if (hostile_log(s))
			log_warning("TLS handshake with target %s failed: %s", c->peer.name, err);
		return STEP_CLOSE;
	}
	if (r == -EPERM) {
		/*
		 * A node certificate refused (method pki: other CA, expired). wolfSSL
		 * has sent the alert; the node's Certificate, CertificateVerify and
		 * Finished are still unread, and closing now would reset the
		 * connection and destroy the alert before the node reads it. Linger.
		 */
		if (hostile_log(s))
			log_warning("refused the certificate of node %s: %s", c->peer.name, err);
		(void)shutdown(c->fd, SHUT_WR);
		c->state = CONN_LINGER;
		c->deadline_ms = mas_now_ms() + LINGER_MS;
		return STEP_AGAIN;
	}
	if (hostile_log(s))
		log_info("TLS handshake with node %s failed: %s", c->peer.name, err);
	return STEP_CLOSE;
}

static void conn_run(struct mas_server *s, struct mas_conn *c);

/*
 * A connection that did what it came for gives its token back to the source's
 * rate budget: an association, a key for a target, and a pairwise key (register,
 * resolve and the version-4 checks an agent makes every minute per cached key),
 * so a node with many cached keys, or many nodes behind one NAT, stay within it.
 */
static void refund(struct mas_server *s, const struct mas_conn *c, const struct wire_msg *reply)
{
	if (reply->type == WIRE_MSG_ESTABLISHED || reply->type == WIRE_MSG_KEY_RESPONSE ||
	    reply->type == WIRE_MSG_PEER_KEY)
		mas_connbudget_refund(s->sh->budget[c->retrieval], c->source);
}

/*
 * What the exchange a reply ends was, for the metrics: req is the request it answers,
 * NULL for a HELLO answered after a Zn wait (the HELLO does not say what follows it).
 */
static enum mas_metrics_kind exchange_kind(const struct mas_conn *c, const struct wire_msg *req)
{
	if (c->retrieval)
		return MAS_METRICS_RETRIEVAL;
	if (req && (req->type == WIRE_MSG_PEER_REGISTER || req->type == WIRE_MSG_PEER_RESOLVE))
		return MAS_METRICS_PAIRWISE;
	return MAS_METRICS_ESTABLISHMENT;
}

/* The Zn answer for a connection in CONN_WAIT_ZN: its reply, then the connection goes on. */
static void on_zn_done(int r, const struct zn_key *key, const char *err, void *userdata)
{
	struct mas_conn *c = userdata;
	struct mas_server *s = c->server;
	struct wire_msg reply;
	enum mas_next next;

	c->zn_req = NULL;
	next = mas_establish_zn_done(s->ctx, &c->est, &c->peer, r, key, err, &reply);
	refund(s, c, &reply);
	mas_metrics_exchange(s->ctx->metrics, exchange_kind(c, NULL), &reply,
			     mas_now_ms() - c->started_ms);
	c->deadline_ms = mas_now_ms() + s->sh->idle_timeout_ms;
	if (conn_queue(c, &reply, next) == STEP_CLOSE) {
		wire_msg_wipe(&reply);
		mas_conn_free(s, c);
		return;
	}
	wire_msg_wipe(&reply);
	conn_run(s, c);
}

/*
 * Method gba: fetch Ks_NAF over Zn off the loop; until the answer the
 * connection is parked (its idle deadline still runs: a BSF slower than
 * idle_timeout closes it, and other connections never wait for it).
 */
static enum step conn_wait_zn(struct mas_server *s, struct mas_conn *c, struct wire_msg *reply)
{
	char err[256] = "";
	int r = zn_fetch(s->ctx->zn, c->est.btid, on_zn_done, c, &c->zn_req, err, sizeof(err));

	if (r < 0) {
		log_error("node %s from %s: cannot ask the BSF for B-TID %s: %s", c->est.node_id,
			  c->peer.name, c->est.btid, err[0] ? err : strerror(-r));
		mas_reply_error(reply, WIRE_ERR_INTERNAL, "the MAS cannot reach the BSF (Zn)");
		mas_metrics_exchange(s->ctx->metrics, exchange_kind(c, NULL), reply,
				     mas_now_ms() - c->started_ms);
		return conn_queue(c, reply, MAS_NEXT_CLOSE);
	}
	c->state = CONN_WAIT_ZN;
	/* Not even EPOLLIN while parked (a level-triggered loop would spin on unread data). */
	if (loop_io_set_events(c->watch, 0) == 0)
		c->events = 0;
	return STEP_PARK;
}

static enum step conn_dispatch(struct mas_server *s, struct mas_conn *c)
{
	struct wire_msg msg, reply;
	char who[WHO_MAX];
	enum mas_next next;
	enum step st;
	int r;

	r = wire_decode(c->rbuf + WIRE_PREFIX_LEN, c->need - WIRE_PREFIX_LEN, &msg);
	secret_wipe(c->rbuf, c->need);
	c->have = 0;
	c->need = WIRE_PREFIX_LEN;
	c->deadline_ms = mas_now_ms() + s->sh->idle_timeout_ms;
	if (r == -EPROTONOSUPPORT) {
		char reason[WIRE_REASON_MAX + 1];

		if (hostile_log(s))
			log_warning("%s speaks protocol version %" PRIu32 "; this MAS speaks %d to %d",
				    conn_who(c, who, sizeof(who)), msg.version, WIRE_VERSION_MIN,
				    WIRE_VERSION_MAX);
		snprintf(reason, sizeof(reason), "protocol version %" PRIu32
			 " not supported; this MAS speaks versions %d to %d", msg.version,
			 WIRE_VERSION_MIN, WIRE_VERSION_MAX);
		wire_msg_wipe(&msg);
		return conn_error(c, WIRE_ERR_VERSION, reason);
	}
	if (r < 0) {
		if (hostile_log(s))
			log_warning("malformed message from %s", conn_who(c, who, sizeof(who)));
		return conn_error(c, WIRE_ERR_MALFORMED, "malformed message");
	}
	if (c->retrieval)
		next = mas_retrieve_handle(s->ctx, c->ssl, &c->peer, &msg, &reply);
	else
		next = mas_establish_handle(s->ctx, &c->est, c->ssl, &c->peer, &msg, &reply);
	refund(s, c, &reply);
	if (next == MAS_NEXT_WAIT) /* counted when the Zn answer gives the reply */
		st = conn_wait_zn(s, c, &reply);
	else {
		mas_metrics_exchange(s->ctx->metrics, exchange_kind(c, &msg), &reply,
				     mas_now_ms() - c->started_ms);
		st = conn_queue(c, &reply, next);
	}
	wire_msg_wipe(&msg);
	wire_msg_wipe(&reply);
	return st;
}

static enum step conn_read(struct mas_server *s, struct mas_conn *c)
{
	while (c->have < c->need) {
		int n = wolfSSL_read(c->ssl, c->rbuf + c->have, (int)(c->need - c->have));

		if (n <= 0) {
			enum step st = want(c->ssl, n);
			char err[TLS_ERR_MAX];

			if (st != STEP_CLOSE)
				return st;
			tls_error(c->ssl, n, err, sizeof(err));
			if ((c->have > 0 || c->est.step == MAS_EST_WAIT_PROOF) && hostile_log(s))
				log_info("%s %s went away in the middle of the exchange: %s",
					 conn_role(c), c->peer.name, err);
			else
				log_debug("%s %s closed the connection: %s", conn_role(c),
					  c->peer.name, err);
			return STEP_CLOSE;
		}
		c->have += (size_t)n;
		if (c->need == WIRE_PREFIX_LEN && c->have == WIRE_PREFIX_LEN) {
			int len = wire_frame_length(c->rbuf);

			if (len < 0) {
				uint32_t v = (uint32_t)c->rbuf[0] << 24 | (uint32_t)c->rbuf[1] << 16 |
					     (uint32_t)c->rbuf[2] << 8 | c->rbuf[3];
				char reason[WIRE_REASON_MAX + 1], who[WHO_MAX];

				if (hostile_log(s))
					log_warning("%s sent a frame of %" PRIu32
						    " bytes (limit %d); closing",
						    conn_who(c, who, sizeof(who)), v, WIRE_FRAME_MAX);
				snprintf(reason, sizeof(reason),
					 "frame length %" PRIu32 " is outside 1..%d", v,
					 WIRE_FRAME_MAX);
				c->have = 0;
				return conn_error(c, WIRE_ERR_MALFORMED, reason);
			}
			c->need = WIRE_PREFIX_LEN + (size_t)len;
		}
	}
	return conn_dispatch(s, c);
}

static enum step conn_write(struct mas_conn *c)
{
	int n = wolfSSL_write(c->ssl, c->wbuf, (int)c->wlen);

	if (n <= 0) {
		enum step st = want(c->ssl, n);
		char err[TLS_ERR_MAX];

		if (st != STEP_CLOSE)
			return st;
		tls_error(c->ssl, n, err, sizeof(err));
		log_info("cannot send to %s %s: %s", conn_role(c), c->peer.name, err);
		return STEP_CLOSE;
	}
	secret_wipe(c->wbuf, c->wlen);
	c->wlen = 0;
	c->state = c->after_write == MAS_NEXT_CONTINUE ? CONN_READ : CONN_SHUTDOWN;
	return STEP_AGAIN;
}

static enum step conn_shutdown(struct mas_conn *c)
{
	int r = wolfSSL_shutdown(c->ssl);

	if (r != WOLFSSL_SUCCESS && r != WOLFSSL_SHUTDOWN_NOT_DONE) {
		enum step st = want(c->ssl, r);

		if (st == STEP_WANT_WRITE)
			return st;
		/* Anything else: the peer is gone or broken; nothing more to tell it. */
	}
	(void)shutdown(c->fd, SHUT_WR);
	c->state = CONN_LINGER;
	c->deadline_ms = mas_now_ms() + LINGER_MS;
	return STEP_AGAIN;
}

/*
 * Closing with unread input makes the kernel send a reset, which can destroy our
 * last reply before the peer reads it; so read and discard until the peer closes.
 */
static enum step conn_linger(struct mas_conn *c)
{
	uint8_t buf[4096];

	/* At most 64 KiB per wake-up, so a peer that keeps sending cannot hog the loop. */
	for (int i = 0; i < 16;) {
		ssize_t n = recv(c->fd, buf, sizeof(buf), 0);

		if (n > 0) {
			i++;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return STEP_WANT_READ;
		return STEP_CLOSE;
	}
	return STEP_WANT_READ;
}

static void conn_run(struct mas_server *s, struct mas_conn *c)
{
	for (;;) {
		enum step st = STEP_CLOSE;
		uint32_t ev;

		switch (c->state) {
		case CONN_FIRST_BYTE:
			st = conn_first_byte(s, c);
			break;
		case CONN_HANDSHAKE:
			st = conn_handshake(s, c);
			break;
		case CONN_READ:
			st = conn_read(s, c);
			break;
		case CONN_WRITE:
			st = conn_write(c);
			break;
		case CONN_SHUTDOWN:
			st = conn_shutdown(c);
			break;
		case CONN_LINGER:
			st = conn_linger(c);
			break;
		case CONN_WAIT_ZN:
			st = STEP_PARK;
			break;
		case _CONN_STATE_MAX:
			break;
		}
		if (st == STEP_AGAIN)
			continue;
		if (st == STEP_PARK)
			return;
		if (st == STEP_CLOSE) {
			mas_conn_free(s, c);
			return;
		}
		ev = st == STEP_WANT_READ ? EPOLLIN : EPOLLOUT;
		if (ev != c->events) {
			if (loop_io_set_events(c->watch, ev) < 0) {
				mas_conn_free(s, c);
				return;
			}
			c->events = ev;
		}
		return;
	}
}

static void on_conn(struct loop_watch *w, int fd, uint32_t events, void *userdata)
{
	struct mas_conn *c = userdata;

	if (c->state == CONN_WAIT_ZN) {
		/* Only a hangup or an error gets here: the node is gone, stop asking. */
		if (events & (EPOLLHUP | EPOLLERR))
			mas_conn_free(c->server, c);
		return;
	}
	conn_run(c->server, c);
}

static void conn_new(struct mas_server *s, int fd, bool retrieval,
		     const struct sockaddr_storage *ss, const char *source)
{
	struct mas_conn *c = calloc(1, sizeof(*c));
	int r;

	if (!c) {
		log_error("out of memory: dropping a connection");
		mas_shared_release(s->sh, retrieval, source);
		close(fd);
		return;
	}
	c->server = s;
	c->fd = fd;
	c->retrieval = retrieval;
	c->state = CONN_FIRST_BYTE;
	c->need = WIRE_PREFIX_LEN;
	/* Never later than the handshake timeout would be. */
	c->deadline_ms = mas_now_ms() + (s->sh->first_byte_timeout_ms < s->sh->handshake_timeout_ms
						 ? s->sh->first_byte_timeout_ms
						 : s->sh->handshake_timeout_ms);
	c->started_ms = mas_now_ms();
	mas_peer_from(ss, &c->peer);
	snprintf(c->source, sizeof(c->source), "%s", source);
	(void)tcp_set_nodelay(fd);
	c->events = EPOLLIN;
	r = loop_add_io(s->loop, fd, c->events, on_conn, c, &c->watch);
	if (r < 0) {
		log_error("cannot watch the connection from %s: %s", c->peer.name, strerror(-r));
		mas_shared_release(s->sh, retrieval, source);
		close(fd);
		free(c);
		return;
	}
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->n_local++;
	log_debug("connection from %s %s (worker %u, %zu open)", conn_role(c), c->peer.name,
		  s->index, atomic_load(&s->sh->n_conns));
	conn_run(s, c);
}

/* The connection budgets (server.h): true when this connection may stay. */
static bool admit(struct mas_server *s, bool retrieval, const struct sockaddr_storage *ss,
		  char source[MAS_SOURCE_MAX])
{
	struct mas_peer p;
	char why[160];

	if (mas_shared_admit(s->sh, retrieval, ss, source, why, sizeof(why)) == 0)
		return true;
	/* One warning a second at most, counting the others: a flood must not flood the log too. */
	if (mas_shared_refusal_log(s->sh)) {
		mas_peer_from(ss, &p);
		log_warning("refusing connection from %s to the %s port: %s", p.name,
			    retrieval ? "retrieval" : "establishment", why);
	}
	return false;
}

void mas_server_on_accept(struct loop_watch *w, int listen_fd, uint32_t events, void *userdata)
{
	struct mas_server *s = userdata;
	bool retrieval = w == s->ret_watch;

	/* A bounded batch per wake-up; the listener stays readable for the rest. */
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct sockaddr_storage ss;
		char source[MAS_SOURCE_MAX];
		socklen_t len = sizeof(ss);
		int fd = accept4(listen_fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			/*
			 * Out of fds (process- or system-wide: any worker's or anyone's
			 * close frees them) or memory: pause and try again after
			 * ACCEPT_RETRY_MS, whoever frees them; never spin on a readable
			 * listener meanwhile.
			 */
			if (!s->accept_failing)
				log_warning("cannot accept connections: %s; trying again every "
					    "%d ms",
					    strerror(errno), ACCEPT_RETRY_MS);
			s->accept_failing = true;
			accept_pause(s, true);
			(void)loop_timer_set(s->accept_timer, ACCEPT_RETRY_MS, 0, 0);
			return;
		}
		if (s->accept_failing) {
			s->accept_failing = false;
			log_notice("accepting connections again");
		}
		if (admit(s, retrieval, &ss, source))
			conn_new(s, fd, retrieval, &ss, source);
		else
			close(fd);
	}
}

static void purge(struct mas_server *s)
{
	int r = store_assoc_purge_expired(s->ctx->store, (uint64_t)time(NULL));

	if (r < 0)
		log_error("cannot purge expired associations from the store: %s", strerror(-r));
	else if (r > 0)
		log_info("purged %d expired association%s", r, r == 1 ? "" : "s");
	r = store_peer_key_purge_expired(s->ctx->store, (uint64_t)time(NULL));
	if (r < 0)
		log_error("cannot purge expired pairwise keys from the store: %s", strerror(-r));
	else if (r > 0)
		log_info("purged %d expired pairwise key%s", r, r == 1 ? "" : "s");
}

void mas_server_on_accept_timer(struct loop_watch *w, bool clock_set, void *userdata)
{
	accept_pause(userdata, false);
}

void mas_server_on_purge_timer(struct loop_watch *w, bool clock_set, void *userdata)
{
	purge(userdata);
}

void mas_server_on_signal(struct loop_watch *w, const struct signalfd_siginfo *si,
			  void *userdata)
{
	struct mas_server *s = userdata;

	if (si->ssi_signo == SIGHUP) {
		log_info("received SIGHUP, reloading the configuration");
		if (s->reload)
			s->reload(s, s->reload_userdata);
	} else {
		log_notice("received %s, stopping", si->ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
		s->quit = true;
	}
}

static void expire_conns(struct mas_server *s, uint64_t now)
{
	struct mas_conn *c, *next;

	for (c = s->conns; c; c = next) {
		next = c->next;
		if (c->deadline_ms > now)
			continue;
		if (c->state != CONN_LINGER && !hostile_log(s))
			;
		else if (c->state == CONN_FIRST_BYTE)
			log_info("closing connection from %s %s: it sent nothing within %" PRIu64
				 " ms",
				 conn_role(c), c->peer.name,
				 s->sh->first_byte_timeout_ms < s->sh->handshake_timeout_ms
					 ? s->sh->first_byte_timeout_ms
					 : s->sh->handshake_timeout_ms);
		else if (c->state == CONN_HANDSHAKE)
			log_info("closing connection from %s %s: no TLS handshake within %" PRIu64
				 " ms",
				 conn_role(c), c->peer.name, s->sh->handshake_timeout_ms);
		else if (c->state != CONN_LINGER)
			log_info("closing connection from %s %s%s%s: idle for %" PRIu64 " ms",
				 conn_role(c), c->peer.name, c->est.node_id[0] ? " of node " : "",
				 c->est.node_id, s->sh->idle_timeout_ms);
		mas_conn_free(s, c);
	}
}

static int next_timeout(const struct mas_server *s, uint64_t now)
{
	uint64_t min = UINT64_MAX;

	for (const struct mas_conn *c = s->conns; c; c = c->next)
		if (c->deadline_ms < min)
			min = c->deadline_ms;
	if (min == UINT64_MAX)
		return -1;
	if (min <= now)
		return 0;
	return min - now > 60000 ? 60000 : (int)(min - now);
}

void mas_server_ports(const struct mas_server *s, uint16_t *ret_est, uint16_t *ret_ret)
{
	*ret_est = s->est_port;
	*ret_ret = s->ret_port;
}

struct loop *mas_server_loop(const struct mas_server *s)
{
	return s->loop;
}

void mas_server_set_reload(struct mas_server *s, mas_reload_fn fn, void *userdata)
{
	s->reload = fn;
	s->reload_userdata = userdata;
}

size_t mas_server_n_conns(const struct mas_server *s)
{
	return atomic_load(&s->sh->n_conns);
}

int mas_server_run(struct mas_server *s)
{
	if (s->primary)
		purge(s);
	while (!s->quit) {
		int r = loop_iterate(s->loop, next_timeout(s, mas_now_ms()));

		if (r < 0) {
			log_error("event loop of worker %u failed: %s", s->index, strerror(-r));
			return r;
		}
		expire_conns(s, mas_now_ms());
		/* A second with suppressed lines gets its count at the next wake-up. */
		mas_shared_log_flush(s->sh);
	}
	/* A worker that failed stopped the primary (mas_server_fail()): m2masd exits non-zero. */
	return s->primary ? atomic_load(&s->sh->worker_error) : 0;
}
