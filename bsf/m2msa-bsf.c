/* SPDX-License-Identifier: Apache-2.0 */
/*
 * m2msa-bsf: the reference BSF (a lab and test component; see docs/gba.md).
 * Two HTTPS endpoints on libmicrohttpd (GnuTLS): Ub for nodes (server
 * certificate) and Zn for NAFs such as the MAS (mutual TLS). One event loop
 * (common/loop.h) holds both MHD epoll fds, the signals and a purge timer; MHD
 * runs without threads of its own. SIGTERM/SIGINT stop it; expired sessions
 * are purged once a minute.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "bsf/bsf.h"
#include "common/conf.h"
#include "common/fileio.h"
#include "common/log.h"
#include "common/loop.h"
#include "common/secret.h"
#include "common/tls.h"
#include "common/keyfile.h"

#define PENDING_SLOTS 1024
#define RATELIMIT_SLOTS 4096
#define PURGE_INTERVAL_MS 60000

struct options {
	const char *config, *log_level, *log_target, *port_file;
	bool check;
};

struct endpoint {
	struct bsf *b;
	bool zn;
	struct MHD_Daemon *d;
	uint16_t port;
};

/* A request's body, read before the handler runs. */
struct request {
	size_t len;
	bool too_big;
	uint8_t buf[BSF_BODY_MAX];
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: m2msa-bsf [--config FILE] [--check] [--log-level LEVEL]\n"
		   "                 [--log-target stderr|journal] [--port-file FILE]\n"
		   "The reference GBA BSF of m2msa (lab and test use): Ub (HTTP Digest AKA) for\n"
		   "nodes, Zn (Nbsp_GBA over mutual TLS) for NAFs such as the MAS.\n\n"
		   "  -c, --config FILE     configuration (default " BSF_CONF_DEFAULT ")\n"
		   "      --check           check configuration, certificates, store and master key\n"
		   "      --log-level L     error, warning, notice, info or debug (overrides [log])\n"
		   "      --log-target T    stderr or journal (default: journal under systemd)\n"
		   "      --port-file FILE  once listening, write \"ub=P zn=P\"\n"
		   "  -h, --help            this text\n"
		   "See m2msa-bsf(8), m2msa-bsf.conf(5) and docs/gba.md.\n");
}

static int parse_options(int argc, char **argv, struct options *o)
{
	enum { OPT_CHECK = 256, OPT_LEVEL, OPT_TARGET, OPT_PORT_FILE };
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, OPT_CHECK },
		{ "log-level", required_argument, NULL, OPT_LEVEL },
		{ "log-target", required_argument, NULL, OPT_TARGET },
		{ "port-file", required_argument, NULL, OPT_PORT_FILE },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	o->config = BSF_CONF_DEFAULT;
	while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->config = optarg;
			break;
		case OPT_CHECK:
			o->check = true;
			break;
		case OPT_LEVEL:
			o->log_level = optarg;
			break;
		case OPT_TARGET:
			o->log_target = optarg;
			break;
		case OPT_PORT_FILE:
			o->port_file = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(EXIT_SUCCESS);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "m2msa-bsf: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

/* A whole PEM file as a NUL-terminated string (at most 1 MiB). */
static int read_pem(const char *path, char **ret)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	char *text;
	int r;

	r = fileio_read_alloc(path, 1 << 20, &buf, &len);
	if (r < 0)
		return r;
	text = malloc(len + 1);
	if (text) {
		memcpy(text, buf, len);
		text[len] = '\0';
	}
	secret_free_buf(buf, len);
	if (!text)
		return -ENOMEM;
	*ret = text;
	return 0;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];

	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	log_debug("%s: libmicrohttpd: %s", (const char *)cls, line);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **req_cls)
{
	struct endpoint *ep = cls;
	struct request *rq = *req_cls;

	if (!rq) {
		rq = calloc(1, sizeof(*rq));
		if (!rq)
			return MHD_NO;
		*req_cls = rq;
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (rq->len + *upload_data_size > sizeof(rq->buf))
			rq->too_big = true;
		else
			memcpy(rq->buf + rq->len, upload_data, *upload_data_size);
		if (!rq->too_big)
			rq->len += *upload_data_size;
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (rq->too_big)
		return bsf_reply_text(c, MHD_HTTP_CONTENT_TOO_LARGE, "request body too large\n");
	if (ep->zn)
		return bsf_zn_handle(ep->b, c, url, method, rq->buf, rq->len);
	return bsf_ub_handle(ep->b, c, url, method, rq->buf, rq->len);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
			 enum MHD_RequestTerminationCode toe)
{
	if (*req_cls)
		secret_free_buf(*req_cls, sizeof(struct request));
	*req_cls = NULL;
}

/* Listen on listen ("host:port") and start MHD there with TLS; ca: client CA or NULL. */
static int endpoint_start(struct endpoint *ep, const char *name, const char *listen,
			  const char *cert, const char *key, const char *ca)
{
	char host[256];
	uint16_t port;
	int fd, r;

	r = tcp_parse_hostport(listen, host, sizeof(host), &port);
	if (r < 0)
		return r;
	fd = tcp_listen(host, port, &ep->port);
	if (fd < 0) {
		log_error("%s: cannot listen on %s: %s", name, listen, strerror(-fd));
		return fd;
	}
	ep->d = MHD_start_daemon(
		MHD_USE_TLS | MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, ep,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, (void *)(uintptr_t)name,
		MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_HTTPS_MEM_CERT, cert,
		MHD_OPTION_HTTPS_MEM_KEY, key, MHD_OPTION_HTTPS_PRIORITIES,
		"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2", MHD_OPTION_CONNECTION_TIMEOUT,
		(unsigned)30, MHD_OPTION_CONNECTION_LIMIT, (unsigned)256,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)32, MHD_OPTION_NOTIFY_COMPLETED,
		on_completed, NULL, ca ? MHD_OPTION_HTTPS_MEM_TRUST : MHD_OPTION_END, ca, MHD_OPTION_END);
	if (!ep->d) {
		close(fd);
		log_error("%s: libmicrohttpd cannot start HTTPS on %s (certificate %s, key and CA "
			  "readable and in PEM form?)",
			  name, listen, ca ? "and NAF CA" : "");
		return -EINVAL;
	}
	return 0;
}

static int write_port_file(const char *path, uint16_t ub, uint16_t zn)
{
	char text[64];
	int n = snprintf(text, sizeof(text), "ub=%u zn=%u\n", ub, zn);

	return fileio_write_atomic(path, text, (size_t)n, 0644);
}

/* Store, master key, tables: everything but the sockets. */
static int open_state(struct bsf *b, const char *config)
{
	_cleanup_secret_ struct secret *mk = NULL;
	char err[CONF_ERR_MAX];
	int r;

	r = keyfile_master_load(b->conf.master_key, &mk);
	if (r < 0) {
		log_error("cannot read the master key %s: %s%s", b->conf.master_key, strerror(-r),
			  r == -EPERM ? " (make it mode 0600: chmod 600)" :
			  r == -ENOENT ? " (create it with m2msa-bsfctl init)" : "");
		return r;
	}
	r = bsf_store_open(b->conf.store_path, mk->data, &b->store);
	if (r < 0) {
		log_error("cannot open the store %s: %s%s", b->conf.store_path, strerror(-r),
			  r == -EKEYREJECTED ? " (it was made with another master key)" :
			  r == -EPROTO ? " (not an m2msa-bsf store)" : "");
		return r;
	}
	r = bsf_pending_new(PENDING_SLOTS, &b->pending);
	if (r == 0)
		r = ratelimit_new(RATELIMIT_SLOTS, b->conf.max_failures,
				  b->conf.failure_window * 1000, &b->rl);
	if (r == 0)
		r = ratelimit_new(RATELIMIT_SLOTS, b->conf.max_challenges,
				  BSF_CHALLENGE_WINDOW_MS, &b->rl_challenge);
	if (r < 0)
		log_error("cannot allocate the BSF tables: %s", strerror(-r));
	(void)err;
	(void)config;
	return r;
}

struct runner {
	struct bsf *b;
	struct loop *l;
	int status; /* 1 while running, then 0 or -errno */
};

static void on_mhd(struct loop_watch *w, int fd, uint32_t events, void *userdata)
{
	struct endpoint *ep = userdata;

	MHD_run(ep->d);
}

static void on_purge(struct loop_watch *w, bool clock_set, void *userdata)
{
	struct runner *rn = userdata;
	int n = bsf_store_session_purge(rn->b->store, bsf_now());

	if (n > 0)
		log_info("purged %d expired bootstrapping sessions", n);
	else if (n < 0)
		log_warning("cannot purge expired sessions from %s: %s", rn->b->conf.store_path,
			    strerror(-n));
}

static void on_signal(struct loop_watch *w, const struct signalfd_siginfo *si, void *userdata)
{
	struct runner *rn = userdata;

	if (si->ssi_signo == SIGHUP) {
		log_notice("SIGHUP ignored: restart m2msa-bsf to change its configuration");
		return;
	}
	log_info("signal %u: stopping", si->ssi_signo);
	rn->status = 0;
	loop_quit(rn->l);
}

/* MHD's own epoll fds, the purge timer and the signals in one common/loop. */
static int run_loop(struct bsf *b, struct endpoint *eps, size_t n_eps)
{
	static const int signals[] = { SIGTERM, SIGINT, SIGHUP };
	_cleanup_(loop_freep) struct loop *l = NULL;
	struct runner rn = { .b = b, .status = 1 };
	struct loop_watch *timer = NULL;
	int r;

	r = loop_new(&l);
	if (r < 0)
		return r;
	rn.l = l;
	r = loop_add_signals(l, signals, ARRAY_SIZE(signals), on_signal, &rn, NULL);
	if (r == 0)
		r = loop_add_timer(l, CLOCK_MONOTONIC, on_purge, &rn, &timer);
	if (r == 0)
		r = loop_timer_set(timer, PURGE_INTERVAL_MS, PURGE_INTERVAL_MS, 0);
	for (size_t i = 0; r == 0 && i < n_eps; i++) {
		const union MHD_DaemonInfo *di =
			MHD_get_daemon_info(eps[i].d, MHD_DAEMON_INFO_EPOLL_FD);

		r = di ? loop_add_io(l, di->epoll_fd, EPOLLIN, on_mhd, &eps[i], NULL) : -EINVAL;
	}
	if (r < 0)
		return r;
	on_purge(NULL, false, &rn);
	while (rn.status == 1) {
		int timeout = -1;

		for (size_t i = 0; i < n_eps; i++) {
			MHD_UNSIGNED_LONG_LONG t;

			if (MHD_get_timeout(eps[i].d, &t) == MHD_YES &&
			    (timeout < 0 || t < (MHD_UNSIGNED_LONG_LONG)timeout))
				timeout = t > INT32_MAX ? INT32_MAX : (int)t;
		}
		r = loop_iterate(l, timeout);
		if (r < 0)
			return r;
		for (size_t i = 0; i < n_eps; i++)
			MHD_run(eps[i].d); /* connection timeouts */
	}
	return rn.status;
}

int main(int argc, char **argv)
{
	struct options o = { 0 };
	struct bsf b = { 0 };
	struct endpoint eps[2] = { { &b, false, NULL, 0 }, { &b, true, NULL, 0 } };
	_cleanup_free_ char *cert = NULL, *key = NULL, *ca = NULL;
	char err[CONF_ERR_MAX];
	int r, status = EXIT_FAILURE;

	if (parse_options(argc, argv, &o) < 0)
		return EXIT_FAILURE;
	(void)prctl(PR_SET_DUMPABLE, 0); /* no core file with keys in it */
	r = bsf_conf_load(o.config, &b.conf, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "m2msa-bsf: %s\n", err);
		return EXIT_FAILURE;
	}
	r = log_setup_daemon("m2msa-bsf", o.log_target, o.log_level ? o.log_level : b.conf.log_level,
			     NULL, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "m2msa-bsf: %s\n", err);
		goto out;
	}
	if (read_pem(b.conf.cert, &cert) < 0 || read_pem(b.conf.key, &key) < 0 ||
	    read_pem(b.conf.naf_ca, &ca) < 0) {
		log_error("cannot read %s, %s or %s (PEM files readable by this user?)", b.conf.cert,
			  b.conf.key, b.conf.naf_ca);
		goto out;
	}
	if (open_state(&b, o.config) < 0)
		goto out;
	if (o.check) {
		printf("m2msa-bsf: %s is usable\n", o.config);
		status = EXIT_SUCCESS;
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	if (endpoint_start(&eps[0], "Ub", b.conf.ub_listen, cert, key, NULL) < 0 ||
	    endpoint_start(&eps[1], "Zn", b.conf.zn_listen, cert, key, ca) < 0)
		goto out;
	if (o.port_file && write_port_file(o.port_file, eps[0].port, eps[1].port) < 0) {
		log_error("cannot write the port file %s", o.port_file);
		goto out;
	}
	log_notice("m2msa-bsf: Ub on port %u, Zn on port %u, domain %s (a reference BSF for lab "
		   "and test use)",
		   eps[0].port, eps[1].port, b.conf.domain);
	sd_notifyf(0, "READY=1\nSTATUS=Ub on port %u, Zn on port %u", eps[0].port, eps[1].port);
	r = run_loop(&b, eps, 2);
	sd_notify(0, "STOPPING=1");
	if (r < 0)
		log_error("event loop failed: %s", strerror(-r));
	else
		status = EXIT_SUCCESS;
out:
	for (size_t i = 0; i < 2; i++)
		if (eps[i].d)
			MHD_stop_daemon(eps[i].d);
	if (key)
		secret_wipe(key, strlen(key));
	bsf_pending_free(b.pending);
	ratelimit_free(b.rl);
	ratelimit_free(b.rl_challenge);
	bsf_store_close(b.store);
	bsf_conf_free(&b.conf);
	return status;
}
