/* SPDX-License-Identifier: Apache-2.0 */
/* GET /metrics over HTTP/1.1 on the event loop, one request per connection (mas/metrics-http.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/loop.h"
#include "common/tls.h"
#include "common/util.h"
#include "mas/http-request.h"
#include "mas/metrics-http.h"
#include "mas/metrics.h"

struct client {
	struct metrics_http *h;
	int fd;
	struct loop_watch *io, *timer;
	char req[METRICS_HTTP_REQ_MAX + 1];
	size_t have;
	char *resp; /* once the request is read */
	size_t resp_len, sent;
};

struct metrics_http {
	struct loop *loop;
	struct mas_metrics *m;
	int fd;
	uint16_t port;
	struct loop_watch *watch;
	struct client *clients[METRICS_HTTP_CLIENTS];
	size_t n_clients;
	bool paused;
};

static void client_free(struct client *c)
{
	struct metrics_http *h = c->h;

	loop_remove(c->io);
	loop_remove(c->timer);
	close(c->fd);
	free(c->resp);
	for (size_t i = 0; i < METRICS_HTTP_CLIENTS; i++)
		if (h->clients[i] == c)
			h->clients[i] = NULL;
	h->n_clients--;
	free(c);
	if (h->paused) {
		h->paused = false;
		(void)loop_io_set_events(h->watch, EPOLLIN);
	}
}

static int respond(struct client *c, const char *status, const char *type, const char *body,
		   size_t body_len)
{
	int n = asprintf(&c->resp,
			 "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n",
			 status, type, body_len);

	if (n < 0) {
		c->resp = NULL;
		return -ENOMEM;
	}
	char *all = realloc(c->resp, (size_t)n + body_len);

	if (!all)
		return -ENOMEM;
	memcpy(all + n, body, body_len);
	c->resp = all;
	c->resp_len = (size_t)n + body_len;
	return 0;
}

static int respond_text(struct client *c, const char *status, const char *msg)
{
	return respond(c, status, "text/plain; charset=utf-8", msg, strlen(msg));
}

/* The request head is complete (or too long) in c->req: decide the answer. */
static int answer(struct client *c)
{
	_cleanup_free_ char *text = NULL;
	enum http_route route = http_request_route(c->req, c->have);
	int n;

	switch (route) {
	case HTTP_ROUTE_INCOMPLETE:
		return respond_text(c, "431 Request Header Fields Too Large", "request too long\n");
	case HTTP_ROUTE_BAD_METHOD:
		return respond_text(c, "405 Method Not Allowed", "only GET /metrics\n");
	case HTTP_ROUTE_NOT_FOUND:
		return respond_text(c, "404 Not Found", "try /metrics\n");
	case HTTP_ROUTE_METRICS:
	case HTTP_ROUTE_METRICS_HEAD:
		break;
	default:
		return respond_text(c, "400 Bad Request", "bad request\n");
	}
	n = mas_metrics_render(c->h->m, &text);
	if (n < 0)
		return respond_text(c, "500 Internal Server Error", "cannot render metrics\n");
	return respond(c, "200 OK", "text/plain; version=0.0.4; charset=utf-8", text,
		       route == HTTP_ROUTE_METRICS_HEAD ? 0 : (size_t)n);
}

/* Send what the socket takes: 1 when all is sent, 0 to wait, -errno. */
static int send_some(struct client *c)
{
	while (c->sent < c->resp_len) {
		ssize_t n = send(c->fd, c->resp + c->sent, c->resp_len - c->sent,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
		c->sent += (size_t)n;
	}
	return 1;
}

/* Read what there is: 1 when the head is complete (or too long), 0 to wait, -errno/EOF. */
static int read_some(struct client *c)
{
	for (;;) {
		ssize_t n;

		if (c->have == METRICS_HTTP_REQ_MAX)
			return 1;
		n = recv(c->fd, c->req + c->have, METRICS_HTTP_REQ_MAX - c->have, MSG_DONTWAIT);
		if (n == 0)
			return -ECONNRESET;
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
		c->have += (size_t)n;
		if (http_request_route(c->req, c->have) != HTTP_ROUTE_INCOMPLETE)
			return 1;
	}
}

static void on_client(struct loop_watch *w, int fd, uint32_t events, void *userdata)
{
	struct client *c = userdata;
	int r;

	if (!c->resp) {
		r = read_some(c);
		if (r == 0)
			return;
		if (r < 0) {
			client_free(c);
			return;
		}
		r = answer(c);
		if (r < 0) {
			client_free(c);
			return;
		}
	}
	r = send_some(c);
	if (r == 0) {
		(void)loop_io_set_events(c->io, EPOLLOUT);
		return;
	}
	client_free(c); /* all sent, or the peer is gone: one request per connection */
}

static void on_client_timeout(struct loop_watch *w, bool clock_set, void *userdata)
{
	client_free(userdata);
}

static int client_new(struct metrics_http *h, int fd)
{
	struct client *c = calloc(1, sizeof(*c));
	size_t slot = 0;
	int r;

	if (!c)
		return -ENOMEM;
	while (h->clients[slot])
		slot++;
	c->h = h;
	c->fd = fd;
	h->clients[slot] = c;
	h->n_clients++;
	r = loop_add_io(h->loop, fd, EPOLLIN, on_client, c, &c->io);
	if (r >= 0)
		r = loop_add_timer(h->loop, CLOCK_MONOTONIC, on_client_timeout, c, &c->timer);
	if (r >= 0)
		r = loop_timer_set(c->timer, METRICS_HTTP_TIMEOUT_MS, 0, 0);
	if (r < 0)
		client_free(c);
	return r;
}

static void on_accept(struct loop_watch *w, int lfd, uint32_t events, void *userdata)
{
	struct metrics_http *h = userdata;

	for (int i = 0; i < METRICS_HTTP_CLIENTS; i++) {
		int fd;

		if (h->n_clients == METRICS_HTTP_CLIENTS) {
			/* Full: leave the rest in the backlog until a client is done. */
			h->paused = true;
			(void)loop_io_set_events(h->watch, 0);
			return;
		}
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		if (client_new(h, fd) < 0)
			close(fd);
	}
}

int metrics_http_new(struct loop *l, const char *addr, struct mas_metrics *m,
		     struct metrics_http **ret, char *err, size_t err_len)
{
	struct metrics_http *h;
	char host[256];
	uint16_t port;
	int r;

	if (tcp_parse_hostport(addr, host, sizeof(host), &port) < 0) {
		snprintf(err, err_len, "[metrics] listen '%s' is not host:port", addr);
		return -EINVAL;
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->loop = l;
	h->m = m;
	h->fd = tcp_listen(host, port, &h->port);
	if (h->fd < 0) {
		r = h->fd;
		snprintf(err, err_len, "cannot listen on %s for metrics: %s", addr, strerror(-r));
		free(h);
		return r;
	}
	r = loop_add_io(l, h->fd, EPOLLIN, on_accept, h, &h->watch);
	if (r < 0) {
		snprintf(err, err_len, "cannot watch the metrics listener: %s", strerror(-r));
		metrics_http_free(h);
		return r;
	}
	*ret = h;
	return 0;
}

void metrics_http_free(struct metrics_http *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < METRICS_HTTP_CLIENTS; i++)
		if (h->clients[i])
			client_free(h->clients[i]);
	loop_remove(h->watch);
	close(h->fd);
	free(h);
}

uint16_t metrics_http_port(const struct metrics_http *h)
{
	return h->port;
}
