/* SPDX-License-Identifier: Apache-2.0 */
/* m2msad's ESP peers: agreement with m2msa-espd per Kc, rekey, expiry, cleanup. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "agent/esp-peers.h"
#include "common/frame.h"
#include "common/log.h"
#include "common/loop.h"
#include "common/tls.h"
#include "netlink/esp-pair.h"
#include "netlink/esp-xfrm.h"

struct esp_peer {
	struct esp_peers *e;
	const struct agent_esp_peer *conf;
	uint32_t reqid;
	enum esp_peer_state state;
	struct esp_pair cur; /* keys wiped; valid when have_cur */
	bool have_cur;
	char key_id[WIRE_KEY_ID_MAX + 1]; /* Kc the current SAs come from */
	uint64_t retry_ms;
	struct loop_watch *timer;
	char last_error[ESP_PEERS_ERR_MAX];
};

struct esp_peers {
	struct sa_manager *sam;
	struct nl_xfrm *xfrm;
	struct nl_xfrm_monitor *mon;
	struct loop_watch *mon_watch;
	WOLFSSL_CTX *ctx;
	struct esp_peer *v;
	size_t n;
	bool changed;
};

static const char *const state_names[_ESP_PEER_STATE_MAX] = {
	[ESP_PEER_WAITING] = "waiting-for-key",
	[ESP_PEER_UP] = "up",
	[ESP_PEER_RETRY] = "retrying",
};

const char *esp_peer_state_to_string(enum esp_peer_state s)
{
	return (unsigned int)s < _ESP_PEER_STATE_MAX ? state_names[s] : NULL;
}

static void schedule_retry(struct esp_peer *p)
{
	p->retry_ms = p->retry_ms ? p->retry_ms * 2 : ESP_PEERS_RETRY_MIN_MS;
	if (p->retry_ms > ESP_PEERS_RETRY_MAX_MS)
		p->retry_ms = ESP_PEERS_RETRY_MAX_MS;
	p->state = ESP_PEER_RETRY;
	p->e->changed = true;
	(void)loop_timer_set(p->timer, p->retry_ms, 0, 0);
}

/* Old SAs after the new ones are in; old policies too when our address changed. */
static void retire(struct esp_peers *e, const struct esp_pair *old, const struct esp_pair *now)
{
	int r = nl_esp_pair_delete_states(e->xfrm, old);

	if (r < 0)
		log_warning("cannot delete the old ESP SAs 0x%08" PRIx32 "/0x%08" PRIx32 " with %s: %s",
			    old->spi_in, old->spi_out, old->peer, strerror(-r));
	if (strcmp(old->local, now->local) != 0 || strcmp(old->peer, now->peer) != 0)
		(void)nl_esp_pair_delete_policies(e->xfrm, old);
}

/* Connect with the XFRM bypass set before the SYN; blocking with timeouts afterwards. */
static int connect_bypass(const char *host, uint16_t port, char *err, size_t err_len)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	struct pollfd p;
	char service[8];
	int fd, r, soerr = 0;
	socklen_t sl = sizeof(soerr);

	snprintf(service, sizeof(service), "%u", port);
	r = getaddrinfo(host, service, &hints, &ai);
	if (r != 0) {
		snprintf(err, err_len, "cannot resolve %s: %s", host, gai_strerror(r));
		return -EHOSTUNREACH;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	r = nl_xfrm_socket_bypass(fd);
	if (r == 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS)
		r = -errno;
	if (r == 0) {
		p = (struct pollfd){ .fd = fd, .events = POLLOUT };
		r = poll(&p, 1, ESP_PEERS_CONNECT_MS);
		r = r < 0 ? -errno : r == 0 ? -ETIMEDOUT : 0;
	}
	if (r == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
		r = -errno;
	if (r == 0 && soerr)
		r = -soerr;
	if (r == 0 && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0)
		r = -errno;
	if (r == 0)
		(void)tcp_set_nodelay(fd);
out:
	freeaddrinfo(ai);
	if (r < 0) {
		if (fd >= 0)
			close(fd);
		snprintf(err, err_len, "cannot connect to %s port %u: %s", host, port, strerror(-r));
		return r;
	}
	return fd;
}

static int connect_peer(struct esp_peer *p, char *err, size_t err_len)
{
	char host[256], why[ESP_SESSION_ERR_MAX / 2] = "";
	uint16_t port;
	int fd, r;

	if (tcp_parse_hostport(p->conf->address, host, sizeof(host), &port) < 0) {
		snprintf(err, err_len, "bad address %s", p->conf->address);
		return -EINVAL;
	}
	fd = connect_bypass(host, port, why, sizeof(why));
	if (fd < 0) {
		snprintf(err, err_len, "m2msa-espd at %s: %s", p->conf->address, why);
		return fd;
	}
	r = frame_set_timeouts(fd, ESP_PEERS_IO_MS);
	if (r < 0) {
		close(fd);
		snprintf(err, err_len, "cannot set socket timeouts: %s", strerror(-r));
		return r;
	}
	return fd;
}

/* Run the agreement with Kc k; on success the new SAs replace the current ones. */
static int establish(struct esp_peer *p, const struct sa_manager_key *k)
{
	struct esp_peers *e = p->e;
	char local[ESP_ADDR_MAX], peer[ESP_ADDR_MAX], err[ESP_SESSION_ERR_MAX] = "";
	struct esp_node_request req = { .key_id = k->key_id, .kc = k->kc, .expiry = k->expiry,
					.local = local, .peer = peer, .reqid = p->reqid,
					.sel = p->conf->sel };
	struct esp_pair pair;
	int fd, r;

	fd = connect_peer(p, err, sizeof(err));
	if (fd >= 0) {
		r = esp_sock_addr(fd, false, local, sizeof(local));
		if (r == 0)
			r = esp_sock_addr(fd, true, peer, sizeof(peer));
		if (r == 0)
			r = esp_session_node(e->ctx, fd, &req, &nl_esp_pair_ops, e->xfrm, &pair, err,
					     sizeof(err));
		else
			snprintf(err, sizeof(err), "cannot read the connection's addresses: %s",
				 strerror(-r));
		close(fd);
	} else {
		r = fd;
	}
	if (r < 0) {
		log_error("ESP with %s: %s", p->conf->address, err);
		snprintf(p->last_error, sizeof(p->last_error), "%s", err);
		schedule_retry(p);
		return r;
	}
	log_notice("ESP with %s (%s -> %s) up: %s, SPI in 0x%08" PRIx32 " out 0x%08" PRIx32
		   ", rekey in %" PRIu64 " s, Kc expires %" PRIu64,
		   p->conf->address, local, peer, esp_mode_to_string(pair.sel.mode), pair.spi_in,
		   pair.spi_out, pair.soft_s, pair.expiry);
	if (p->have_cur)
		retire(e, &p->cur, &pair);
	p->cur = pair;
	p->have_cur = true;
	snprintf(p->key_id, sizeof(p->key_id), "%s", k->key_id);
	p->state = ESP_PEER_UP;
	e->changed = true;
	p->retry_ms = 0;
	p->last_error[0] = '\0';
	(void)loop_timer_set(p->timer, 0, 0, 0);
	return 0;
}

static void try_now(struct esp_peer *p)
{
	struct sa_manager_key k;

	if (sa_manager_get_key(p->e->sam, &k) < 0) {
		p->state = ESP_PEER_WAITING;
		return;
	}
	(void)establish(p, &k);
}

static void on_retry(struct loop_watch *w, bool clock_set, void *userdata)
{
	(void)w;
	(void)clock_set;
	try_now(userdata);
}

static struct esp_peer *peer_of(struct esp_peers *e, uint32_t reqid)
{
	for (size_t i = 0; i < e->n; i++)
		if (e->v[i].reqid == reqid)
			return &e->v[i];
	return NULL;
}

static void on_expire(const struct nl_xfrm_expire_event *ev, void *userdata)
{
	struct esp_peers *e = userdata;
	struct esp_peer *p = peer_of(e, ev->reqid);

	if (!p || !p->have_cur || (ev->spi != p->cur.spi_in && ev->spi != p->cur.spi_out))
		return; /* a retired pair, or not ours */
	if (!ev->hard) {
		log_info("ESP SA 0x%08" PRIx32 " with %s reached its rekey point: asking for a new Kc",
			 ev->spi, p->conf->address);
		sa_manager_rekey(e->sam, "an ESP SA reached its rekey point");
		return;
	}
	log_notice("ESP SA 0x%08" PRIx32 " with %s expired (no new Kc in time): traffic is blocked "
		   "until it is re-established", ev->spi, p->conf->address);
	(void)nl_esp_pair_delete_states(e->xfrm, &p->cur);
	p->have_cur = false;
	p->key_id[0] = '\0';
	e->changed = true;
	try_now(p);
}

static void on_monitor(struct loop_watch *w, int fd, uint32_t events, void *userdata)
{
	struct esp_peers *e = userdata;
	int r;

	(void)w;
	(void)fd;
	(void)events;
	r = nl_xfrm_monitor_process(e->mon);
	if (r < 0)
		log_warning("XFRM expiry events: %s", strerror(-r));
}

static int flush(struct esp_peers *e, const char *when)
{
	int n = nl_xfrm_flush_owned(e->xfrm, NL_XFRM_REQID_AGENT, NL_XFRM_REQID_OWNER_MASK);

	if (n < 0)
		log_error("cannot remove m2msad's ESP states and policies %s: %s", when, strerror(-n));
	else if (n > 0)
		log_notice("removed %d ESP states and policies of m2msad %s", n, when);
	return n < 0 ? n : 0;
}

int esp_peers_new(const struct agent_esp_peers *peers, struct sa_manager *sam, struct loop *loop,
		  struct esp_peers **ret)
{
	struct esp_peers *e = calloc(1, sizeof(*e));
	int r;

	if (!e)
		return -ENOMEM;
	e->sam = sam;
	e->v = calloc(peers->n ? peers->n : 1, sizeof(*e->v));
	e->ctx = esp_session_client_ctx_new();
	if (!e->v || !e->ctx) {
		r = -ENOMEM;
		goto fail;
	}
	r = nl_xfrm_new(&e->xfrm);
	if (r == 0)
		r = nl_xfrm_monitor_new(on_expire, e, &e->mon);
	if (r == 0)
		r = loop_add_io(loop, nl_xfrm_monitor_fd(e->mon), EPOLLIN, on_monitor, e,
				&e->mon_watch);
	if (r < 0)
		goto fail;
	/* Without CAP_NET_ADMIN nothing of ESP works: say so at start, not per attempt. */
	r = flush(e, "left from an earlier run");
	if (r == -EPERM)
		goto fail;
	for (size_t i = 0; i < peers->n; i++) {
		struct esp_peer *p = &e->v[i];

		p->e = e;
		p->conf = &peers->v[i];
		p->reqid = NL_XFRM_REQID_AGENT + 1 + (uint32_t)i;
		p->state = ESP_PEER_WAITING;
		r = loop_add_timer(loop, CLOCK_MONOTONIC, on_retry, p, &p->timer);
		if (r < 0)
			goto fail;
		e->n++;
	}
	*ret = e;
	return 0;
fail:
	esp_peers_free(e);
	return r;
}

void esp_peers_free(struct esp_peers *e)
{
	if (!e)
		return;
	if (e->xfrm && e->n)
		(void)flush(e, "at exit");
	for (size_t i = 0; i < e->n; i++)
		loop_remove(e->v[i].timer);
	loop_remove(e->mon_watch);
	nl_xfrm_monitor_free(e->mon);
	nl_xfrm_free(e->xfrm);
	if (e->ctx)
		wolfSSL_CTX_free(e->ctx);
	free(e->v);
	free(e);
}

void esp_peers_tick(struct esp_peers *e)
{
	struct sa_manager_key k;

	if (!e || sa_manager_get_key(e->sam, &k) < 0)
		return;
	for (size_t i = 0; i < e->n; i++) {
		struct esp_peer *p = &e->v[i];

		/* A retry waits for its timer (which takes the newest Kc then). */
		if (p->state == ESP_PEER_RETRY)
			continue;
		/* The first Kc, or a new one: new SAs now, the old go after (make-before-break). */
		if (strcmp(p->key_id, k.key_id) != 0)
			(void)establish(p, &k);
	}
}

void esp_peers_kick(struct esp_peers *e, const char *why)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->n; i++) {
		log_info("ESP with %s: re-establishing (%s)", e->v[i].conf->address, why);
		e->v[i].retry_ms = 0;
		try_now(&e->v[i]);
	}
}

size_t esp_peers_count(const struct esp_peers *e)
{
	return e ? e->n : 0;
}

int esp_peers_status(const struct esp_peers *e, size_t i, struct esp_peer_status *ret)
{
	const struct esp_peer *p;

	if (!e || i >= e->n)
		return -ENOENT;
	p = &e->v[i];
	*ret = (struct esp_peer_status){
		.address = p->conf->address,
		.state = p->state,
		.sel = p->conf->sel,
		.reqid = p->reqid,
		.spi_in = p->have_cur ? p->cur.spi_in : 0,
		.spi_out = p->have_cur ? p->cur.spi_out : 0,
		.expiry = p->have_cur ? p->cur.expiry : 0,
		.last_error = p->last_error,
	};
	return 0;
}

void esp_peers_fill_status(const struct esp_peers *e, struct agent_status *st)
{
	for (size_t i = 0; e && i < e->n && st->n_esp < AGENT_STATUS_ESP_MAX; i++) {
		struct agent_status_esp *o = &st->esp[st->n_esp++];
		struct esp_peer_status ps;

		(void)esp_peers_status(e, i, &ps);
		memset(o, 0, sizeof(*o));
		snprintf(o->peer, sizeof(o->peer), "%s", ps.address);
		snprintf(o->state, sizeof(o->state), "%s", esp_peer_state_to_string(ps.state));
		o->spi_in = ps.spi_in;
		o->spi_out = ps.spi_out;
		o->expiry = ps.expiry;
		snprintf(o->error, sizeof(o->error), "%s", ps.last_error);
	}
}

bool esp_peers_take_changed(struct esp_peers *e)
{
	bool c = e && e->changed;

	if (e)
		e->changed = false;
	return c;
}
