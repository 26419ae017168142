/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What server.c (connections, accepting, signals, timers) and server-setup.c
 * (listeners, the loop, one worker's making and freeing) share about a worker's
 * server and its connections. Nobody else includes it.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/signalfd.h>

#include "common/loop.h"
#include "mas/connbudget.h"
#include "mas/server.h"
#include "mas/server-shared.h"
#include "mas/zn-client.h"

enum conn_state {
	CONN_FIRST_BYTE, /* accepted; no byte yet, no TLS session yet */
	CONN_HANDSHAKE, /* TLS accept */
	CONN_READ,      /* reading one frame: prefix, then body */
	CONN_WRITE,     /* sending the reply in wbuf */
	CONN_SHUTDOWN,  /* sending close_notify */
	CONN_LINGER,    /* write side shut; draining until the peer closes */
	CONN_WAIT_ZN,   /* method gba: Ks_NAF being fetched over Zn, the fd not watched */
	_CONN_STATE_MAX,
};

struct mas_conn {
	struct mas_server *server;
	int fd;
	struct loop_watch *watch;
	struct mas_conn *prev, *next;
	bool retrieval;
	enum conn_state state;
	enum mas_next after_write;
	WOLFSSL *ssl;
	uint32_t events; /* registered with the loop */
	uint64_t deadline_ms;
	uint64_t started_ms; /* accepted at, for the latency metrics */
	struct mas_peer peer;
	char source[MAS_SOURCE_MAX]; /* its connection budget (connbudget.h) */
	struct mas_est est;
	struct zn_request *zn_req; /* CONN_WAIT_ZN */
	size_t have, need; /* bytes in rbuf, bytes wanted */
	size_t wlen;
	uint8_t rbuf[WIRE_PREFIX_LEN + WIRE_FRAME_MAX];
	uint8_t wbuf[WIRE_PREFIX_LEN + WIRE_FRAME_MAX];
};

struct mas_server {
	struct loop *loop;
	struct mas_server_shared *sh; /* the primary's, owned by it */
	bool primary; /* signals, purge timer, reload; owns sh */
	unsigned index; /* worker 1 (the primary), 2, ... for the debug log */
	int est_fd, ret_fd; /* the listeners */
	int stop_fd; /* eventfd: mas_server_stop() from another thread */
	int est_claim, ret_claim; /* primary, reuseport: abstract sockets naming its addresses */
	struct loop_watch *est_watch, *ret_watch;
	struct loop_watch *accept_timer; /* re-arms accepting after fd exhaustion */
	uint16_t est_port, ret_port;
	char est_host[256], ret_host[256];
	bool reuseport;
	unsigned n_workers; /* primary: workers made so far, itself included */
	WOLFSSL_CTX *est_ctx, *ret_ctx;
	struct mas_ctx *ctx;
	struct mas_conn *conns;
	size_t n_local; /* this worker's connections */
	bool accept_paused;
	bool accept_failing; /* out of fds: warned once, until an accept succeeds */
	mas_reload_fn reload;
	void *reload_userdata;
	bool quit;
};

void mas_conn_free(struct mas_server *s, struct mas_conn *c);
void mas_server_on_accept(struct loop_watch *w, int listen_fd, uint32_t events, void *userdata);
void mas_server_on_accept_timer(struct loop_watch *w, bool clock_set, void *userdata);
void mas_server_on_purge_timer(struct loop_watch *w, bool clock_set, void *userdata);
void mas_server_on_signal(struct loop_watch *w, const struct signalfd_siginfo *si,
			  void *userdata);
