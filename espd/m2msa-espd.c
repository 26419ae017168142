/* SPDX-License-Identifier: Apache-2.0 */
/*
 * m2msa-espd: the target-side ESP daemon beside the IN-CSE (docs/esp.md). It
 * accepts nodes' TLS 1.3 PSK sessions (identity = key ID, PSK = Kc retrieved
 * from the MAS with the target's certificate), agrees SPIs and selectors
 * (common/esp-session.c) and installs the ESP SAs and policies through
 * netlink XFRM. One node at a time, each bounded by I/O timeouts. At start and
 * on SIGTERM it removes every state and policy in its reqid range.
 */
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/esp-session.h"
#include "common/fileio.h"
#include "common/frame.h"
#include "common/log.h"
#include "common/secret.h"
#include "common/tls.h"
#include "espd/espd-allow.h"
#include "mas/retrieve-client.h"
#include "netlink/esp-pair.h"
#include "netlink/esp-xfrm.h"

#define ESPD_IO_TIMEOUT_MS 10000
#define ESPD_PEERS_MAX 4096

struct options {
	const char *listen;
	const char *port_file;
	bool once;
	enum log_level level;
	struct retrieve_conf mas;
	struct espd_allow allow;
};

struct espd {
	struct options o;
	struct retrieve_client *mas;
	struct nl_xfrm *xfrm;
	/* Node address -> reqid (NL_XFRM_REQID_ESPD + 1 + index), kept across rekeys. */
	char (*peers)[ESP_ADDR_MAX];
	size_t n_peers;
};

static volatile sig_atomic_t terminate;

static void on_signal(int sig)
{
	(void)sig;
	terminate = 1;
}

static int lookup(void *userdata, const char *key_id, uint8_t kc[ESP_KC_LEN],
		  uint64_t *ret_expiry, char *err, size_t err_len)
{
	struct espd *d = userdata;
	struct wire_key_response resp;
	struct retrieve_refusal refusal = { 0 };
	char rerr[RETRIEVE_ERR_MAX] = "";
	int r;

	r = retrieve_key(d->mas, key_id, &resp, &refusal, rerr, sizeof(rerr));
	if (r < 0) {
		snprintf(err, err_len, "%s key ID %s: %s",
			 r == -EACCES ? "MAS refused" : "cannot retrieve", key_id, rerr);
		return r;
	}
	if (resp.ae_id[0]) {
		snprintf(err, err_len, "key ID %s is a per-AE key (AE %s); ESP needs the node's "
			 "own key ID", key_id, resp.ae_id);
		secret_wipe(&resp, sizeof(resp));
		return -EPERM;
	}
	memcpy(kc, resp.key, ESP_KC_LEN);
	*ret_expiry = resp.expiry;
	secret_wipe(&resp, sizeof(resp));
	return 0;
}

static bool allowed(void *userdata, const char *key_id, const struct esp_selectors *sel)
{
	struct espd *d = userdata;

	(void)key_id;
	return espd_allow_match(&d->o.allow, sel);
}

static int peer_reqid(struct espd *d, const char *addr, uint32_t *ret)
{
	for (size_t i = 0; i < d->n_peers; i++)
		if (strcmp(d->peers[i], addr) == 0) {
			*ret = NL_XFRM_REQID_ESPD + 1 + (uint32_t)i;
			return 0;
		}
	if (d->n_peers >= ESPD_PEERS_MAX)
		return -ENOSPC;
	snprintf(d->peers[d->n_peers], ESP_ADDR_MAX, "%s", addr);
	*ret = NL_XFRM_REQID_ESPD + 1 + (uint32_t)d->n_peers++;
	return 0;
}

static int serve(struct espd *d, WOLFSSL_CTX *ctx, int fd)
{
	char local[ESP_ADDR_MAX], peer[ESP_ADDR_MAX], key_id[ESP_WIRE_REASON_MAX + 1] = "";
	char err[ESP_SESSION_ERR_MAX] = "";
	struct esp_target_conf conf = { .local = local, .peer = peer, .lookup = lookup,
					.allowed = allowed, .userdata = d };
	struct esp_pair p;
	int r;

	r = esp_sock_addr(fd, false, local, sizeof(local));
	if (r == 0)
		r = esp_sock_addr(fd, true, peer, sizeof(peer));
	if (r == 0)
		r = peer_reqid(d, peer, &conf.reqid);
	if (r == 0)
		r = frame_set_timeouts(fd, ESPD_IO_TIMEOUT_MS);
	if (r < 0) {
		log_error("cannot serve a node connection: %s", strerror(-r));
		return r;
	}
	r = esp_session_target(ctx, fd, &conf, &nl_esp_pair_ops, d->xfrm, &p, key_id, err,
			       sizeof(err));
	if (r < 0) {
		log_error("ESP with node %s%s%s failed: %s", peer, key_id[0] ? ", key ID " : "",
			  key_id, err);
		return r;
	}
	log_notice("ESP with node %s (key ID %s): %s, protocol %u, ports %u/%u, SPI in 0x%08" PRIx32
		   " out 0x%08" PRIx32 ", reqid %" PRIu32 ", rekey in %" PRIu64 " s, expires %" PRIu64,
		   peer, key_id, esp_mode_to_string(p.sel.mode), p.sel.proto, p.sel.node_port,
		   p.sel.target_port, p.spi_in, p.spi_out, p.reqid, p.soft_s, p.expiry);
	return 0;
}

static void on_expire(const struct nl_xfrm_expire_event *ev, void *userdata)
{
	(void)userdata;
	if ((ev->reqid & NL_XFRM_REQID_OWNER_MASK) != NL_XFRM_REQID_ESPD)
		return;
	if (ev->hard)
		log_notice("ESP SA 0x%08" PRIx32 " to %s expired (its Kc did); the kernel removed "
			   "it", ev->spi, ev->dst);
	else
		log_info("ESP SA 0x%08" PRIx32 " to %s reached its rekey point; the node rekeys",
			 ev->spi, ev->dst);
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: m2msa-espd --listen HOST:PORT --mas HOST:PORT --mas-ca FILE --mas-name NAME\n"
		"                  --cert FILE --key FILE [--allow RULE]... [--port-file FILE]\n"
		"                  [--once] [--log-level LEVEL]\n"
		"\n"
		"Target-side ESP daemon: nodes (m2msad) open a TLS 1.3 PSK session with their key\n"
		"ID and Kc, agree SPIs and selectors, and both ends install ESP SAs through\n"
		"netlink XFRM. Kc comes from the MAS. See m2msa-espd(8) and docs/esp.md.\n"
		"\n"
		"  --listen HOST:PORT  where nodes connect (port 0: any free port)\n"
		RETRIEVE_CONF_USAGE
		"  --cert FILE         our certificate for the MAS (the target the nodes register)\n"
		"  --key FILE          its private key\n"
		"  --allow RULE        selectors nodes may ask for: any, tcp, udp, sctp, icmp, a\n"
		"                      protocol number, or PROTO/PORT (target port); repeatable;\n"
		"                      none: everything\n"
		"  --port-file FILE    write the bound port there once listening\n"
		"  --once              serve one node, exit 0 if ESP was set up (tests); the SAs stay\n"
		"  --log-level LEVEL   error, warning, notice, info (default), debug\n");
}

static int parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, 'l' },
		RETRIEVE_CONF_LONGOPTS,
		{ "allow", required_argument, NULL, 'a' },
		{ "port-file", required_argument, NULL, 'p' },
		{ "once", no_argument, NULL, '1' },
		{ "log-level", required_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	char err[128];
	int opt;

	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'l': o->listen = optarg; break;
		case 'a':
			if (espd_allow_add(&o->allow, optarg, err, sizeof(err)) < 0) {
				fprintf(stderr, "m2msa-espd: --allow %s\n", err);
				return -EINVAL;
			}
			break;
		case 'p': o->port_file = optarg; break;
		case '1': o->once = true; break;
		case 'L':
			if (log_level_from_string(optarg, &o->level) < 0) {
				fprintf(stderr, "unknown log level '%s' (use error, warning, "
						"notice, info or debug)\n", optarg);
				return -EINVAL;
			}
			break;
		case 'h': usage(stdout); exit(0);
		default:
			if (retrieve_conf_option(&o->mas, opt, optarg))
				break;
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc || !o->listen || !retrieve_conf_complete(&o->mas)) {
		fprintf(stderr, "m2msa-espd: --listen, --mas, --mas-ca, --mas-name, --cert and "
				"--key are required (see --help)\n");
		return -EINVAL;
	}
	return 0;
}

static void flush(struct espd *d, const char *when)
{
	int n = nl_xfrm_flush_owned(d->xfrm, NL_XFRM_REQID_ESPD, NL_XFRM_REQID_OWNER_MASK);

	if (n < 0)
		log_error("cannot remove m2msa-espd's ESP states and policies %s: %s", when,
			  strerror(-n));
	else if (n > 0)
		log_notice("removed %d ESP states and policies of m2msa-espd %s", n, when);
}

static int write_port_file(const char *path, uint16_t port)
{
	char line[16];
	int n = snprintf(line, sizeof(line), "%u\n", port);

	return fileio_write_atomic(path, line, (size_t)n, 0644);
}

/* Accept nodes until SIGTERM/SIGINT (or one, --once); expiry events are logged meanwhile. */
static int run(struct espd *d, WOLFSSL_CTX *ctx, int lfd, struct nl_xfrm_monitor *mon,
	       const sigset_t *run_mask)
{
	struct pollfd p[2] = { { .fd = lfd, .events = POLLIN },
			       { .fd = nl_xfrm_monitor_fd(mon), .events = POLLIN } };

	while (!terminate) {
		int fd, r;

		if (ppoll(p, 2, NULL, run_mask) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (p[1].revents) {
			r = nl_xfrm_monitor_process(mon);
			if (r < 0)
				log_warning("XFRM expiry events: %s", strerror(-r));
		}
		if (!p[0].revents)
			continue;
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
				continue;
			return -errno;
		}
		(void)tcp_set_nodelay(fd);
		r = serve(d, ctx, fd);
		close(fd);
		if (d->o.once)
			return r;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct espd d = { .o = { .level = LOG_LEVEL_INFO } };
	struct nl_xfrm_monitor *mon = NULL;
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t block, run_mask;
	WOLFSSL_CTX *ctx = NULL;
	char host[256], err[RETRIEVE_ERR_MAX] = "";
	uint16_t port, bound = 0;
	int lfd = -1, r, status = 1;

	if (parse_args(argc, argv, &d.o) < 0)
		return 2;
	log_setup("m2msa-espd", LOG_TARGET_STDERR, d.o.level);
	if (tcp_parse_hostport(d.o.listen, host, sizeof(host), &port) < 0) {
		log_error("invalid --listen '%s' (expected HOST:PORT)", d.o.listen);
		return 2;
	}
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &run_mask);
	sigdelset(&run_mask, SIGTERM);
	sigdelset(&run_mask, SIGINT);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	d.peers = calloc(ESPD_PEERS_MAX, sizeof(*d.peers));
	if (!d.peers) {
		log_error("out of memory");
		goto out;
	}
	r = nl_xfrm_new(&d.xfrm);
	if (r == 0)
		r = nl_xfrm_monitor_new(on_expire, &d, &mon);
	if (r < 0) {
		log_error("cannot open netlink XFRM: %s (is the xfrm_user module loaded? "
			  "does m2msa-espd have CAP_NET_ADMIN?)", strerror(-r));
		goto out;
	}
	flush(&d, "left from an earlier run");
	r = retrieve_client_new(&d.o.mas, &d.mas, err, sizeof(err));
	if (r < 0) {
		log_error("cannot set up key retrieval from the MAS: %s", err);
		goto out;
	}
	ctx = esp_session_server_ctx_new();
	if (!ctx) {
		log_error("cannot create the TLS 1.3 PSK server context");
		goto out;
	}
	lfd = tcp_listen(host, port, &bound);
	if (lfd < 0) {
		log_error("cannot listen on %s: %s", d.o.listen, strerror(-lfd));
		goto out;
	}
	/* Accepted sockets inherit it: the agreement passes even where a policy blocks. */
	r = nl_xfrm_socket_bypass(lfd);
	if (r < 0) {
		log_error("cannot exempt the listening socket from XFRM policies: %s", strerror(-r));
		goto out;
	}
	if (d.o.port_file && (r = write_port_file(d.o.port_file, bound)) < 0) {
		log_error("cannot write port file %s: %s", d.o.port_file, strerror(-r));
		goto out;
	}
	log_notice("listening for nodes on %s:%u; keys from the MAS at %s (%s)", host, bound,
		   d.o.mas.mas, d.o.mas.mas_name);
	r = run(&d, ctx, lfd, mon, &run_mask);
	if (r < 0 && !d.o.once)
		log_error("cannot accept nodes: %s", strerror(-r));
	status = r < 0 ? 1 : 0;
	if (!d.o.once) {
		log_notice("terminating");
		flush(&d, "at exit");
	}
out:
	if (lfd >= 0)
		close(lfd);
	if (ctx)
		wolfSSL_CTX_free(ctx);
	retrieve_client_free(d.mas);
	nl_xfrm_monitor_free(mon);
	nl_xfrm_free(d.xfrm);
	free(d.peers);
	wolfSSL_Cleanup();
	return status;
}
