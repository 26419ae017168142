/* SPDX-License-Identifier: Apache-2.0 */
/* m2masd, the M2M Authentication Server: options, configuration, start-up, reload, stop. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <systemd/sd-daemon.h>

#include "common/conf.h"
#include "common/fileio.h"
#include "common/log.h"
#include "common/ratelimit.h"
#include "common/sa.h"
#include "common/secret.h"
#include "common/tls.h"
#include "mas/gba-cache.h"
#include "mas/mas-conf.h"
#include "mas/metrics-http.h"
#include "mas/metrics.h"
#include "mas/server.h"
#include "mas/keyfile.h"
#include "mas/store.h"
#include "mas/workers.h"
#include "mas/zn-client.h"

/* Rate-limiting table: node IDs and addresses tracked at once. */
#define RATELIMIT_SLOTS 4096

struct options {
	const char *config;
	const char *port_file;
	const char *log_level;
	const char *log_target;
	size_t max_conns;
	bool check;
};

struct daemon {
	struct options opt;
	struct mas_conf conf;
	bool have_conf;
	bool loop_failed; /* an event loop (the primary's or a worker's) failed while serving */
	WOLFSSL_CTX *est_ctx, *ret_ctx;
	struct store *store;
	struct ratelimit *rl;
	struct mas_ctx ctx;
	struct mas_server *server;
	struct mas_metrics *metrics;
	struct metrics_http *metrics_http;
	unsigned n_workers;	   /* [mas] workers: the primary and n_workers - 1 threads */
	struct store **extra_stores; /* the other workers' own connections, until they take them */
	size_t n_extra_taken;
	struct mas_workers *workers;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: m2masd [--config FILE] [--check] [--foreground] [--log-level LEVEL]\n"
		"              [--log-target stderr|journal] [--port-file FILE]\n"
		"              [--max-connections N]\n"
		"The M2M Authentication Server: establishes security associations with nodes\n"
		"and hands their keys to the registered targets (IN-CSEs).\n\n"
		"  -c, --config FILE       configuration file (default " MAS_CONF_DEFAULT ")\n"
		"      --check             check the configuration, certificates, store and master\n"
		"                          key, then exit 0 (usable) or 1\n"
		"  -f, --foreground        accepted for compatibility; m2masd never forks\n"
		"      --log-level LEVEL   error, warning, notice, info or debug (overrides [log])\n"
		"      --log-target T      stderr or journal (default: journal under systemd)\n"
		"      --port-file FILE    once listening, write \"establish=P retrieve=P\"\n"
		"      --max-connections N at most N connections at once (default 1024)\n"
		"  -h, --help              this text\n"
		"See docs/m2masd.md and docs/m2masd.conf.md.\n");
}

static int parse_options(int argc, char **argv, struct options *o)
{
	enum { OPT_CHECK = 256, OPT_LEVEL, OPT_TARGET, OPT_PORT_FILE, OPT_MAX_CONNS };
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, OPT_CHECK },
		{ "foreground", no_argument, NULL, 'f' },
		{ "log-level", required_argument, NULL, OPT_LEVEL },
		{ "log-target", required_argument, NULL, OPT_TARGET },
		{ "port-file", required_argument, NULL, OPT_PORT_FILE },
		{ "max-connections", required_argument, NULL, OPT_MAX_CONNS },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	o->config = MAS_CONF_DEFAULT;
	o->max_conns = MAS_MAX_CONNS_DEFAULT;
	while ((c = getopt_long(argc, argv, "c:fh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->config = optarg;
			break;
		case OPT_CHECK:
			o->check = true;
			break;
		case 'f':
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
		case OPT_MAX_CONNS: {
			char *end;
			unsigned long n;

			errno = 0;
			n = strtoul(optarg, &end, 10);
			if (errno || *end || optarg[0] == '\0' || optarg[0] == '-' || n == 0 ||
			    n > 65536) {
				fprintf(stderr, "m2masd: --max-connections wants a number from 1 "
						"to 65536, not '%s'\n",
					optarg);
				return -EINVAL;
			}
			o->max_conns = n;
			break;
		}
		case 'h':
			usage(stdout);
			exit(EXIT_SUCCESS);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "m2masd: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

static void apply_log_level(const struct daemon *d)
{
	enum log_level level;

	if (d->opt.log_level || !d->conf.log_level)
		return;
	if (log_level_from_string(d->conf.log_level, &level) == 0)
		log_set_level(level);
}

static int check_fqdn(const char *fqdn, char *err, size_t err_len)
{
	static const uint8_t zero[SA_KCID_LEN];
	char buf[WIRE_KEY_ID_MAX + 1];

	if (strlen(fqdn) > MAS_FQDN_MAX || sa_key_id_format(zero, NULL, fqdn, buf, sizeof(buf)) < 0) {
		snprintf(err, err_len, "fqdn '%s' is not a valid host name for key IDs", fqdn);
		return -EINVAL;
	}
	return 0;
}

/* The store's connection events (PostgreSQL) go to the log. */
static void on_store_event(enum store_event ev, const char *msg, void *userdata)
{
	if (ev == STORE_EVENT_RECONNECTED)
		log_notice("store: %s", msg);
	else
		log_warning("store: %s", msg);
}

static void on_store_observed(uint64_t ns, bool failed, void *userdata)
{
	struct daemon *d = userdata;

	mas_metrics_store(d->metrics, ns, failed);
}

static size_t n_conns(void *userdata)
{
	struct daemon *d = userdata;

	return d->server ? mas_server_n_conns(d->server) : 0;
}

static int open_store(struct daemon *d, const struct secret *mk, struct store **ret, char *err,
		      size_t err_len)
{
	struct store_config sc;
	char detail[256] = "";
	const char *hint;
	int r;

	mas_conf_store_config(&d->conf, &sc);
	sc.application_name = "m2masd";
	sc.err = detail;
	sc.err_len = sizeof(detail);
	r = store_open_config(&sc, mk->data, STORE_OPEN_CREATE, ret);
	if (r >= 0) {
		store_set_notify(*ret, on_store_event, d);
		store_set_observer(*ret, on_store_observed, d);
		return 0;
	}
	switch (r) {
	case -EIO:
		hint = " (not an m2masd store, or damaged)";
		break;
	case -EKEYREJECTED:
		hint = " (the master key is not this store's)";
		break;
	case -ESTALE:
		hint = " (an older schema: run m2masctl migrate)";
		break;
	case -EPROTO:
		hint = " (made by another program or a newer m2msa)";
		break;
	case -ECONNREFUSED:
	case -EHOSTUNREACH:
	case -ETIMEDOUT:
		hint = " (is the database server running and reachable? see [store] conninfo)";
		break;
	case -ENOTCONN:
		hint = " (check [store] conninfo: host name, port, sslmode and the CA; restarting "
		       "will not help)";
		break;
	case -EACCES:
	case -EPERM:
		hint = sc.backend == STORE_BACKEND_POSTGRESQL ?
			       " (check the role, [store] password_file and pg_hba.conf)" :
			       " (does the file belong to the m2masd user?)";
		break;
	default:
		hint = sc.backend == STORE_BACKEND_SQLITE ?
			       " (does the folder exist and belong to the m2masd user?)" :
			       "";
	}
	snprintf(err, err_len, "cannot open node store %s (%s): %s%s%s%s",
		 sc.location ? sc.location : "", store_backend_to_string(sc.backend), strerror(-r),
		 hint, detail[0] ? ": " : "", detail);
	return r;
}

/* Everything m2masd needs besides its sockets; --check stops after this. */
static int open_resources(struct daemon *d, char *err, size_t err_len)
{
	_cleanup_secret_ struct secret *mk = NULL;
	char tls_err[TLS_ERR_MAX];
	int r;

	r = check_fqdn(d->conf.fqdn, err, err_len);
	if (r < 0)
		return r;
	d->est_ctx = tls_server_ctx_new(d->conf.cert, d->conf.key, NULL, tls_err, sizeof(tls_err));
	if (!d->est_ctx) {
		snprintf(err, err_len, "%s", tls_err);
		return -EINVAL;
	}
	/* Method pki: ask nodes for a certificate from node_ca; psk nodes send none. */
	if (d->conf.node_ca &&
	    tls_server_ctx_request_client_cert(d->est_ctx, d->conf.node_ca, tls_err,
					       sizeof(tls_err)) < 0) {
		snprintf(err, err_len, "%s (node_ca)", tls_err);
		return -EINVAL;
	}
	d->ret_ctx = tls_server_ctx_new(d->conf.cert, d->conf.key, d->conf.target_ca, tls_err,
					sizeof(tls_err));
	if (!d->ret_ctx) {
		snprintf(err, err_len, "%s (target_ca)", tls_err);
		return -EINVAL;
	}
	r = mas_metrics_new(&d->metrics);
	if (r < 0) {
		snprintf(err, err_len, "cannot set up metrics: %s", strerror(-r));
		return r;
	}
	mas_metrics_set_conns(d->metrics, n_conns, d);
	d->ctx.metrics = d->metrics;
	r = mas_master_key_load(d->conf.master_key, &mk);
	if (r < 0) {
		snprintf(err, err_len, "cannot read master key %s: %s%s", d->conf.master_key,
			 strerror(-r),
			 r == -EPERM  ? " (it must be readable by its owner only: chmod 600)"
			 : r == -ENOENT ? " (create it with m2masctl init)"
					: "");
		return r;
	}
	r = open_store(d, mk, &d->store, err, err_len);
	if (r < 0)
		return r;
	/* Each further worker has a store connection of its own (not for --check). */
	d->n_workers = d->opt.check ? 1 : d->conf.workers ? d->conf.workers : mas_workers_default();
	if (d->n_workers > 1) {
		d->extra_stores = calloc(d->n_workers - 1, sizeof(*d->extra_stores));
		if (!d->extra_stores) {
			snprintf(err, err_len, "out of memory");
			return -ENOMEM;
		}
	}
	for (unsigned i = 0; i + 1 < d->n_workers; i++) {
		r = open_store(d, mk, &d->extra_stores[i], err, err_len);
		if (r < 0)
			return r;
	}
	r = ratelimit_new(RATELIMIT_SLOTS, d->conf.max_failures,
			  d->conf.failure_window * 1000, &d->rl);
	if (r < 0) {
		snprintf(err, err_len, "cannot set up rate limiting: %s", strerror(-r));
		return r;
	}
	d->ctx.store = d->store;
	d->ctx.rl = d->rl;
	snprintf(d->ctx.fqdn, sizeof(d->ctx.fqdn), "%s", d->conf.fqdn);
	d->ctx.lifetime = d->conf.lifetime;
	d->ctx.pki = d->conf.node_ca != NULL;
	if (d->conf.zn_bsf_url) {
		/* Method gba: Ks_NAF per B-TID, sealed under the master key (the Zn client starts in run()). */
		r = zn_http_global_init();
		if (r >= 0)
			r = mas_gba_cache_new(mk->data, 0, &d->ctx.gba);
		if (r < 0) {
			snprintf(err, err_len, "cannot set up method gba: %s", strerror(-r));
			return r;
		}
	}
	return 0;
}

static void close_resources(struct daemon *d)
{
	metrics_http_free(d->metrics_http);
	d->metrics_http = NULL;
	mas_workers_stop(d->workers);
	d->workers = NULL;
	mas_server_free(d->server);
	d->server = NULL;
	for (unsigned i = 0; d->extra_stores && i + 1 < d->n_workers; i++)
		store_close(d->extra_stores[i]);
	free(d->extra_stores);
	d->extra_stores = NULL;
	zn_client_free(d->ctx.zn);
	mas_gba_cache_free(d->ctx.gba);
	ratelimit_free(d->rl);
	d->rl = NULL;
	store_close(d->store);
	d->store = NULL;
	mas_metrics_free(d->metrics);
	d->metrics = NULL;
	wolfSSL_CTX_free(d->est_ctx);
	wolfSSL_CTX_free(d->ret_ctx);
	d->est_ctx = d->ret_ctx = NULL;
	secret_wipe(&d->ctx, sizeof(d->ctx));
	if (d->have_conf)
		mas_conf_free(&d->conf);
	d->have_conf = false;
}

static int write_port_file(const char *path, uint16_t est, uint16_t ret, uint16_t metrics)
{
	char line[80];
	int n = metrics ? snprintf(line, sizeof(line), "establish=%u retrieve=%u metrics=%u\n", est,
				   ret, metrics) :
			  snprintf(line, sizeof(line), "establish=%u retrieve=%u\n", est, ret);

	return fileio_write_atomic(path, line, (size_t)n, 0644);
}

static bool str_differs(const char *a, const char *b)
{
	return (a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0);
}

/* The connection budgets of a configuration (server.h). */
static struct mas_server_budgets budgets_of(const struct mas_conf *c)
{
	return (struct mas_server_budgets){
		.retrieval_conns = c->retrieval_connections,
		.per_source = c->connections_per_source,
		.per_source_rate = c->connection_rate_per_source,
		.first_byte_timeout_ms = c->first_byte_timeout * 1000,
	};
}

static void on_reload(struct mas_server *srv, void *userdata)
{
	struct daemon *d = userdata;
	struct mas_server_budgets budgets;
	struct mas_conf nc = { 0 };
	char err[CONF_ERR_MAX];
	int r;

	sd_notify(0, "RELOADING=1");
	r = mas_conf_load(d->opt.config, &nc, err, sizeof(err));
	if (r < 0) {
		log_error("cannot reload %s, keeping the running configuration: %s", d->opt.config,
			  err);
		mas_conf_free(&nc);
		sd_notify(0, "READY=1");
		return;
	}
	if (str_differs(nc.listen, d->conf.listen) ||
	    str_differs(nc.retrieval_listen, d->conf.retrieval_listen) ||
	    str_differs(nc.fqdn, d->conf.fqdn) || str_differs(nc.cert, d->conf.cert) ||
	    str_differs(nc.key, d->conf.key) || str_differs(nc.target_ca, d->conf.target_ca) ||
	    str_differs(nc.node_ca, d->conf.node_ca) ||
	    str_differs(nc.store_path, d->conf.store_path) ||
	    str_differs(nc.store_backend, d->conf.store_backend) ||
	    str_differs(nc.store_conninfo, d->conf.store_conninfo) ||
	    str_differs(nc.store_password_file, d->conf.store_password_file) ||
	    str_differs(nc.metrics_listen, d->conf.metrics_listen) ||
	    str_differs(nc.master_key, d->conf.master_key) || nc.workers != d->conf.workers)
		log_notice("listen addresses, fqdn, certificates, the store and workers are read "
			   "only at start; restart m2masd to apply those changes");
	/* Keep the settings that only take effect at start; take the others. */
	d->conf.lifetime = nc.lifetime;
	d->conf.handshake_timeout = nc.handshake_timeout;
	d->conf.idle_timeout = nc.idle_timeout;
	d->conf.max_failures = nc.max_failures;
	d->conf.failure_window = nc.failure_window;
	d->conf.connections_per_source = nc.connections_per_source;
	d->conf.connection_rate_per_source = nc.connection_rate_per_source;
	d->conf.first_byte_timeout = nc.first_byte_timeout;
	free(d->conf.log_level);
	d->conf.log_level = nc.log_level;
	nc.log_level = NULL;
	mas_conf_free(&nc);

	apply_log_level(d);
	d->ctx.lifetime = d->conf.lifetime;
	mas_workers_set_lifetime(d->workers, d->conf.lifetime);
	mas_server_set_timeouts(srv, d->conf.handshake_timeout * 1000, d->conf.idle_timeout * 1000);
	ratelimit_set_limits(d->rl, d->conf.max_failures, d->conf.failure_window * 1000);
	budgets = budgets_of(&d->conf);
	mas_server_set_budgets(srv, &budgets);
	log_info("configuration reloaded from %s", d->opt.config);
	sd_notify(0, "READY=1");
}

/* Under systemd up to 1024 connections need more than the default 1024 fds. */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* "host:port" of a listener with the port it really got (the configured one may be 0). */
static const char *bound_addr(const char *conf_addr, uint16_t port, char *buf, size_t len)
{
	char host[256];
	uint16_t unused;

	if (tcp_parse_hostport(conf_addr, host, sizeof(host), &unused) < 0)
		snprintf(buf, len, "%s", conf_addr);
	else if (strchr(host, ':'))
		snprintf(buf, len, "[%s]:%u", host, port);
	else
		snprintf(buf, len, "%s:%u", host, port);
	return buf;
}

/* Method gba: a Zn client on one worker's loop. */
static int zn_client_on(struct daemon *d, struct loop *loop, struct zn_client **ret)
{
	struct zn_http_conf zc = {
		.bsf_url = d->conf.zn_bsf_url,
		.bsf_ca = d->conf.zn_bsf_ca,
		.cert = d->conf.zn_cert,
		.key = d->conf.zn_key,
		.naf_fqdn = d->conf.fqdn,
		.timeout_ms = (long)d->conf.zn_timeout * 1000,
	};

	return zn_http_new(loop, &zc, ret);
}

/* A further worker's own store connection (opened at start) and Zn client. */
static int worker_init(struct mas_ctx *ctx, struct loop *loop, void *userdata, char *err,
		       size_t err_len)
{
	struct daemon *d = userdata;
	int r;

	if (d->conf.zn_bsf_url) {
		r = zn_client_on(d, loop, &ctx->zn);
		if (r < 0) {
			snprintf(err, err_len, "cannot set up a worker's Zn client for %s: %s",
				 d->conf.zn_bsf_url, strerror(-r));
			return r;
		}
	}
	ctx->store = d->extra_stores[d->n_extra_taken];
	d->extra_stores[d->n_extra_taken++] = NULL;
	return 0;
}

static void worker_fini(struct mas_ctx *ctx, void *userdata)
{
	zn_client_free(ctx->zn);
	store_close(ctx->store);
}

static int run(struct daemon *d)
{
	struct mas_server_conf sc = {
		.listen = d->conf.listen,
		.retrieval_listen = d->conf.retrieval_listen,
		.est_ctx = d->est_ctx,
		.ret_ctx = d->ret_ctx,
		.max_conns = d->opt.max_conns,
		.handshake_timeout_ms = d->conf.handshake_timeout * 1000,
		.idle_timeout_ms = d->conf.idle_timeout * 1000,
		.budgets = budgets_of(&d->conf),
		.reuseport = d->n_workers > 1,
	};
	char err[CONF_ERR_MAX], est_addr[300], ret_addr[300];
	uint16_t est, ret;
	int r;

	r = mas_server_new(&sc, &d->ctx, &d->server, err, sizeof(err));
	if (r < 0) {
		log_error("%s", err);
		return r;
	}
	mas_server_set_reload(d->server, on_reload, d);
	if (d->conf.zn_bsf_url) {
		r = zn_client_on(d, mas_server_loop(d->server), &d->ctx.zn);
		if (r < 0) {
			log_error("cannot set up the Zn client for %s: %s", d->conf.zn_bsf_url,
				  strerror(-r));
			return r;
		}
		log_info("method gba on: Ks_NAF from the BSF at %s over Zn", d->conf.zn_bsf_url);
	}
	if (d->conf.metrics_listen && d->conf.metrics_listen[0]) {
		r = metrics_http_new(mas_server_loop(d->server), d->conf.metrics_listen, d->metrics,
				     &d->metrics_http, err, sizeof(err));
		if (r < 0) {
			log_error("%s", err);
			return r;
		}
	}
	r = mas_workers_start(d->server, &d->ctx, d->n_workers - 1, worker_init, worker_fini, d,
			      &d->workers, err, sizeof(err));
	if (r < 0) {
		log_error("%s", err);
		return r;
	}
	mas_server_ports(d->server, &est, &ret);
	log_info("%u worker%s (event loop threads)", d->n_workers, d->n_workers == 1 ? "" : "s");
	log_info("listening on %s (establishment), %s (retrieval)",
		 bound_addr(d->conf.listen, est, est_addr, sizeof(est_addr)),
		 bound_addr(d->conf.retrieval_listen, ret, ret_addr, sizeof(ret_addr)));
	if (d->metrics_http)
		log_info("metrics on http://%s/metrics",
			 bound_addr(d->conf.metrics_listen, metrics_http_port(d->metrics_http),
				    est_addr, sizeof(est_addr)));
	if (d->opt.port_file) {
		r = write_port_file(d->opt.port_file, est, ret,
				    d->metrics_http ? metrics_http_port(d->metrics_http) : 0);
		if (r < 0) {
			log_error("cannot write port file %s: %s", d->opt.port_file, strerror(-r));
			return r;
		}
	}
	sd_notifyf(0, "READY=1\nSTATUS=establishment on port %u, retrieval on port %u", est, ret);
	r = mas_server_run(d->server);
	d->loop_failed = r < 0;
	sd_notify(0, "STOPPING=1");
	mas_workers_stop(d->workers);
	d->workers = NULL;
	log_info("m2masd stopped");
	return r;
}

/* No core dumps and no ptrace by other users' processes: Km and Kc live in this memory. */
static void harden(void)
{
	struct rlimit no_core = { 0, 0 };

	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	(void)setrlimit(RLIMIT_CORE, &no_core);
}

int main(int argc, char **argv)
{
	struct daemon d = { 0 };
	char err[CONF_ERR_MAX];
	enum log_level level;
	int r;

	if (parse_options(argc, argv, &d.opt) < 0)
		return EXIT_FAILURE;
	if (log_setup_daemon("m2masd", d.opt.log_target, d.opt.log_level, &level, err,
			     sizeof(err)) < 0) {
		fprintf(stderr, "m2masd: %s\n", err);
		return EXIT_FAILURE;
	}
	harden();
	signal(SIGPIPE, SIG_IGN);
	r = tls_init();
	if (r < 0) {
		log_error("cannot initialise wolfSSL");
		return EXIT_FAILURE;
	}
	r = mas_conf_load(d.opt.config, &d.conf, err, sizeof(err));
	if (r < 0) {
		log_error("%s", err);
		if (d.opt.check)
			fprintf(stderr, "m2masd: configuration %s is not usable\n", d.opt.config);
		return EXIT_FAILURE;
	}
	d.have_conf = true;
	apply_log_level(&d);

	r = open_resources(&d, err, sizeof(err));
	if (d.opt.check) {
		if (r < 0)
			fprintf(stderr, "m2masd: %s\nm2masd: configuration %s is not usable\n", err,
				d.opt.config);
		else
			printf("m2masd: configuration %s is usable (certificates, target CA, master "
			       "key and store %s checked)\n",
			       d.opt.config, store_location(d.store));
		close_resources(&d);
		return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
	}
	if (r < 0) {
		log_error("%s", err);
		close_resources(&d);
		/* The database server not (yet) reachable: 75 (EX_TEMPFAIL), which the unit's
		 * Restart=on-failure retries, unlike 1 (RestartPreventExitStatus). */
		return r == -ECONNREFUSED || r == -EHOSTUNREACH || r == -ETIMEDOUT ? 75 :
										  EXIT_FAILURE;
	}
	raise_fd_limit();
	r = run(&d);
	close_resources(&d);
	wolfSSL_Cleanup();
	/* 70 (EX_SOFTWARE) is restarted by the unit, unlike 1 (RestartPreventExitStatus). */
	return r < 0 ? (d.loop_failed ? 70 : EXIT_FAILURE) : EXIT_SUCCESS;
}
