/* SPDX-License-Identifier: Apache-2.0 */
/* One m2masd worker's listeners and loop: making, stopping and freeing it (server.h). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/tls.h"
#include "common/util.h"
#include "mas/server-int.h"

/* One listener; host and port are kept so that the workers bind the same address. */
static int listen_on(struct mas_server *s, const char *hostport, bool retrieval, char *err,
		     size_t err_len)
{
	char *host = retrieval ? s->ret_host : s->est_host;
	uint16_t *port = retrieval ? &s->ret_port : &s->est_port;
	int fd;

	if (tcp_parse_hostport(hostport, host, sizeof(s->est_host), port) < 0) {
		snprintf(err, err_len, "invalid listen address '%s' (expected HOST:PORT or [V6]:PORT)",
			 hostport);
		return -EINVAL;
	}
	fd = s->reuseport ? tcp_listen_reuseport(host, *port, port) : tcp_listen(host, *port, port);
	if (fd < 0) {
		snprintf(err, err_len, "cannot listen on %s: %s", hostport, strerror(-fd));
		return fd;
	}
	*(retrieval ? &s->ret_fd : &s->est_fd) = fd;
	return 0;
}

/*
 * With SO_REUSEPORT a second m2masd of the same user on the same address would
 * bind it too and silently take a share of the connections, where without it
 * bind fails with EADDRINUSE. So the primary also binds an abstract Unix socket
 * named after the bound address: one per network namespace, like the port, and
 * gone with the process, whatever way it ends (no file to clean up).
 */
static int claim_address(struct mas_server *s, bool retrieval, char *err, size_t err_len)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct mas_peer p;
	int fd, n;

	if (getsockname(retrieval ? s->ret_fd : s->est_fd, (struct sockaddr *)&ss, &len) < 0) {
		snprintf(err, err_len, "cannot read a listener's address: %s", strerror(errno));
		return -errno;
	}
	mas_peer_from(&ss, &p);
	/* sun_path[0] = 0: the abstract namespace. */
	n = snprintf(un.sun_path + 1, sizeof(un.sun_path) - 1, "m2masd-listen/%s", p.name);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, err_len, "cannot make a socket: %s", strerror(errno));
		return -errno;
	}
	if (bind(fd, (struct sockaddr *)&un,
		 (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n)) < 0) {
		int r = -errno;

		close(fd);
		if (r == -EADDRINUSE)
			snprintf(err, err_len,
				 "another m2masd already listens on %s (with workers > 1 the "
				 "listeners use SO_REUSEPORT and would share its connections): "
				 "stop it, or give this one another %s address",
				 p.name, retrieval ? "retrieval_listen" : "listen");
		else
			snprintf(err, err_len, "cannot claim the address %s: %s", p.name,
				 strerror(-r));
		return r;
	}
	*(retrieval ? &s->ret_claim : &s->est_claim) = fd;
	return 0;
}

static void on_stop(struct loop_watch *w, int fd, uint32_t events, void *userdata)
{
	struct mas_server *s = userdata;
	uint64_t v;

	(void)!read(fd, &v, sizeof(v));
	s->quit = true;
}

/* The loop: the stop eventfd, both listeners; on the primary signals and the purge timer. */
static int setup_loop(struct mas_server *s)
{
	static const int signals[] = { SIGTERM, SIGINT, SIGHUP };
	struct loop_watch *purge_watch;
	int r;

	r = loop_new(&s->loop);
	if (r < 0)
		return r;
	s->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->stop_fd < 0)
		return -errno;
	r = loop_add_io(s->loop, s->stop_fd, EPOLLIN, on_stop, s, NULL);
	if (r < 0)
		return r;
	if (s->primary) {
		r = loop_add_signals(s->loop, signals, ARRAY_SIZE(signals), mas_server_on_signal, s, NULL);
		if (r < 0)
			return r;
		r = loop_add_timer(s->loop, CLOCK_MONOTONIC, mas_server_on_purge_timer, s, &purge_watch);
		if (r < 0)
			return r;
		r = loop_timer_set(purge_watch, MAS_PURGE_INTERVAL_MS, MAS_PURGE_INTERVAL_MS, 0);
		if (r < 0)
			return r;
	}
	r = loop_add_timer(s->loop, CLOCK_MONOTONIC, mas_server_on_accept_timer, s,
			   &s->accept_timer);
	if (r < 0)
		return r;
	r = loop_add_io(s->loop, s->est_fd, EPOLLIN, mas_server_on_accept, s, &s->est_watch);
	if (r < 0)
		return r;
	return loop_add_io(s->loop, s->ret_fd, EPOLLIN, mas_server_on_accept, s, &s->ret_watch);
}

static struct mas_server *server_alloc(struct mas_ctx *ctx, WOLFSSL_CTX *est_ctx,
				       WOLFSSL_CTX *ret_ctx)
{
	struct mas_server *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->est_fd = s->ret_fd = s->stop_fd = s->est_claim = s->ret_claim = -1;
	s->ctx = ctx;
	s->est_ctx = est_ctx;
	s->ret_ctx = ret_ctx;
	return s;
}

int mas_server_new(const struct mas_server_conf *conf, struct mas_ctx *ctx,
		   struct mas_server **ret, char *err, size_t err_len)
{
	_cleanup_(mas_server_freep) struct mas_server *s = server_alloc(ctx, conf->est_ctx,
									conf->ret_ctx);
	int r;

	if (!s) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	s->primary = true;
	s->index = s->n_workers = 1;
	s->reuseport = conf->reuseport;
	r = mas_shared_new(conf->max_conns ? conf->max_conns : MAS_MAX_CONNS_DEFAULT,
			   conf->budgets.retrieval_conns ? conf->budgets.retrieval_conns
							 : MAS_RETRIEVAL_CONNS_DEFAULT,
			   &s->sh);
	if (r < 0) {
		snprintf(err, err_len, "out of memory");
		return r;
	}
	mas_server_set_timeouts(s, conf->handshake_timeout_ms, conf->idle_timeout_ms);
	mas_server_set_budgets(s, &conf->budgets);
	r = listen_on(s, conf->listen, false, err, err_len);
	if (r < 0)
		return r;
	r = listen_on(s, conf->retrieval_listen, true, err, err_len);
	if (r < 0)
		return r;
	for (int i = 0; s->reuseport && i < 2; i++) {
		r = claim_address(s, i, err, err_len);
		if (r < 0)
			return r;
	}
	r = setup_loop(s);
	if (r < 0) {
		snprintf(err, err_len, "cannot set up the event loop: %s", strerror(-r));
		return r;
	}
	*ret = s;
	s = NULL;
	return 0;
}

int mas_server_new_worker(struct mas_server *primary, struct mas_ctx *ctx,
			  struct mas_server **ret, char *err, size_t err_len)
{
	_cleanup_(mas_server_freep) struct mas_server *s = server_alloc(ctx, primary->est_ctx,
									primary->ret_ctx);
	char hostport[300];
	int r;

	if (!s) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	if (!primary->reuseport) {
		snprintf(err, err_len, "the primary's listeners are not SO_REUSEPORT");
		return -EINVAL;
	}
	s->sh = primary->sh;
	s->index = ++primary->n_workers;
	s->reuseport = true;
	/* The primary's addresses with the ports it really got (the configured may be 0). */
	for (int i = 0; i < 2; i++) {
		const char *h = i ? primary->ret_host : primary->est_host;

		snprintf(hostport, sizeof(hostport), strchr(h, ':') ? "[%s]:%u" : "%s:%u", h,
			 i ? primary->ret_port : primary->est_port);
		r = listen_on(s, hostport, i, err, err_len);
		if (r < 0)
			return r;
	}
	r = setup_loop(s);
	if (r < 0) {
		snprintf(err, err_len, "cannot set up a worker's event loop: %s", strerror(-r));
		return r;
	}
	*ret = s;
	s = NULL;
	return 0;
}

void mas_server_free(struct mas_server *s)
{
	if (!s)
		return;
	while (s->conns)
		mas_conn_free(s, s->conns);
	loop_free(s->loop); /* unblocks the signals again */
	if (s->primary)
		mas_shared_free(s->sh);
	if (s->est_fd >= 0)
		close(s->est_fd);
	if (s->ret_fd >= 0)
		close(s->ret_fd);
	if (s->stop_fd >= 0)
		close(s->stop_fd);
	if (s->est_claim >= 0)
		close(s->est_claim);
	if (s->ret_claim >= 0)
		close(s->ret_claim);
	free(s);
}

void mas_server_stop(struct mas_server *s)
{
	uint64_t one = 1;

	(void)!write(s->stop_fd, &one, sizeof(one));
}

void mas_server_fail(struct mas_server *primary, struct mas_server *worker, int error)
{
	int none = 0;

	/* Its SO_REUSEPORT listeners would keep their share of new connections unaccepted. */
	for (int i = 0; i < 2; i++) {
		struct loop_watch **w = i ? &worker->ret_watch : &worker->est_watch;
		int *fd = i ? &worker->ret_fd : &worker->est_fd;

		loop_remove(*w);
		*w = NULL;
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
	}
	(void)atomic_compare_exchange_strong(&primary->sh->worker_error, &none,
					     error < 0 ? error : -EIO);
	mas_server_stop(primary);
}

void mas_server_set_timeouts(struct mas_server *s, uint64_t handshake_timeout_ms,
			     uint64_t idle_timeout_ms)
{
	s->sh->handshake_timeout_ms = handshake_timeout_ms ? handshake_timeout_ms : 10000;
	s->sh->idle_timeout_ms = idle_timeout_ms ? idle_timeout_ms : 30000;
}

void mas_server_set_budgets(struct mas_server *s, const struct mas_server_budgets *b)
{
	for (int i = 0; i < 2; i++)
		mas_connbudget_set_limits(s->sh->budget[i], b->per_source, b->per_source_rate);
	s->sh->first_byte_timeout_ms = b->first_byte_timeout_ms ? b->first_byte_timeout_ms
								: MAS_FIRST_BYTE_TIMEOUT_MS_DEFAULT;
}

