/* SPDX-License-Identifier: Apache-2.0 */
/*
 * m2msad: the gateway agent. One epoll loop holds the establishment in flight,
 * two timers (monotonic deadlines, wall-clock key instants), the uplink monitor,
 * signals, the systemd watchdog and the local key service's fd; the association
 * state machine itself is in sa-manager.c, the key service in keyservice.c.
 * See docs/m2msad.md.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent-conf.h"
#include "agent/clients.h"
#include "agent/keyservice.h"
#include "agent/sa-manager.h"
#include "agent/status.h"
#include "common/conf.h"
#include "common/crypto.h"
#include "common/log.h"
#include "common/loop.h"
#include "common/tls.h"
#include "agent/esp-peers.h"
#include "netlink/uplink.h"

struct daemon {
	const char *config_path;
	bool log_level_forced;
	struct agent_conf *conf;
	struct sa_manager *sam;
	struct nl_uplink *uplink;
	struct esp_peers *esp; /* NULL without [esp] peers */
	struct keyservice *keys;
	struct loop *loop;
	struct loop_watch *uplink_watch;
	bool status_write_failed;
	bool quit;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: m2msad [--config FILE] [--check] [--log-level LEVEL] [--log-target stderr|journal]\n"
		"\n"
		"The m2msa gateway agent: establishes the node's security association with the\n"
		"MAS (method psk: Km in the TPM; pki: the node certificate, its key in the\n"
		"TPM), rekeys it before expiry and keeps it alive.\n"
		"\n"
		"  --config FILE       configuration (default %s, plus FILE.d/*.conf)\n"
		"  --check             load and validate the configuration, then exit 0 or 1\n"
		"  --log-level LEVEL   error, warning, notice, info or debug (overrides [log] level)\n"
		"  --log-target T      stderr or journal (default: journal under systemd, else stderr)\n",
		AGENT_CONF_DEFAULT);
}

static void harden(void)
{
	struct rlimit no_core = { 0, 0 };

	/* No core dumps and no ptrace by other users' processes: keys live in this memory. */
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	(void)setrlimit(RLIMIT_CORE, &no_core);
}

static void apply_log_level(struct daemon *d)
{
	enum log_level lvl;

	if (!d->log_level_forced && log_level_from_string(d->conf->log_level, &lvl) == 0)
		log_set_level(lvl);
}

static void publish(struct daemon *d)
{
	struct agent_status st;
	char words[768];
	int r;

	sa_manager_status(d->sam, &st);
	st.pid = (int64_t)getpid();
	esp_peers_fill_status(d->esp, &st);
	r = agent_status_write(d->conf->status_file, &st);
	if (r < 0 && !d->status_write_failed)
		log_warning("cannot write the status file %s: %s (m2msactl status will not see this "
			    "agent; is its folder writable?)",
			    d->conf->status_file, strerror(-r));
	d->status_write_failed = r < 0;
	sa_manager_describe(d->sam, words, sizeof(words));
	(void)sd_notifyf(0, "STATUS=%s", words);
}

static void on_status_hook(void *userdata, struct agent_status *st)
{
	struct daemon *d = userdata;

	esp_peers_fill_status(d->esp, st);
}

static void on_uplink(const struct nl_uplink_event *ev, void *userdata)
{
	struct daemon *d = userdata;
	char why[128];

	log_info("uplink %s: %s%s%s", ev->ifname, nl_uplink_event_type_to_string(ev->type),
		 ev->addr[0] ? " " : "", ev->addr);
	if (ev->type == NL_UPLINK_LINK_UP)
		snprintf(why, sizeof(why), "uplink %s came back", ev->ifname);
	else if (ev->type == NL_UPLINK_ADDR_ADDED)
		snprintf(why, sizeof(why), "uplink %s has a new address %s", ev->ifname, ev->addr);
	else
		return;
	sa_manager_kick(d->sam, why);
	esp_peers_kick(d->esp, why);
}

static void on_uplink_io(struct loop_watch *w, int fd, uint32_t events, void *userdata)
{
	struct daemon *d = userdata;
	int r;

	r = nl_uplink_process(d->uplink);
	if (r < 0)
		log_warning("uplink monitor: %s", strerror(-r));
}

static void uplink_close(struct daemon *d)
{
	loop_remove(d->uplink_watch);
	d->uplink_watch = NULL;
	nl_uplink_free(d->uplink);
	d->uplink = NULL;
}

static int uplink_open(struct daemon *d)
{
	int r;

	uplink_close(d);
	r = nl_uplink_new(d->conf->uplink, on_uplink, d, &d->uplink);
	if (r < 0) {
		log_warning("cannot watch the uplink %s: %s (re-establishment waits for the backoff)",
			    d->conf->uplink ? d->conf->uplink : "(any)", strerror(-r));
		return r;
	}
	r = loop_add_io(d->loop, nl_uplink_fd(d->uplink), EPOLLIN, on_uplink_io, d,
			&d->uplink_watch);
	if (r < 0)
		return r;
	log_debug("watching uplink %s", d->conf->uplink ? d->conf->uplink : "(any non-loopback link)");
	return 0;
}

static void reload(struct daemon *d)
{
	_cleanup_(agent_conf_freep) struct agent_conf *c = calloc(1, sizeof(*c));
	_cleanup_(agent_conf_freep) struct agent_conf *old = NULL;
	struct m2msa_err err = { .wire_code = 0 };
	bool uplink_changed;
	int r;

	log_info("SIGHUP: reloading %s", d->config_path);
	if (!c) {
		log_error("reloading the configuration failed, keeping the running one: out of memory");
		return;
	}
	r = agent_conf_load(d->config_path, c, &err);
	if (r < 0) {
		log_error("reloading the configuration failed, keeping the running one: %s", err.msg);
		return;
	}
	old = d->conf;
	uplink_changed = (!c->uplink != !old->uplink) ||
			 (c->uplink && strcmp(c->uplink, old->uplink) != 0);
	if (strcmp(c->status_file, old->status_file) != 0)
		(void)unlink(old->status_file);
	if (strcmp(c->socket_path, old->socket_path) != 0)
		log_warning("[agent] socket changed to %s: the key service stays on %s until m2msad "
			    "restarts", c->socket_path, old->socket_path);
	if (d->keys)
		keyservice_set_limits(d->keys, c->client_idle_timeout * 1000, c->clients_per_uid,
				      c->peer_check_interval);
	r = d->keys ? keyservice_reload(d->keys, c->clients_dir, &err) : 0;
	if (r < 0)
		log_error("reloading clients.d failed, keeping the running policy: %s", err.msg);
	sa_manager_reconfigure(d->sam, c);
	d->conf = TAKE_PTR(c); /* old is freed on return */
	apply_log_level(d);
	if (uplink_changed)
		(void)uplink_open(d);
	publish(d);
	log_info("SIGHUP: reload done (configuration applied, clients.d %s)",
		 r < 0 ? "kept" : "applied");
}

static void on_signal(struct loop_watch *w, const struct signalfd_siginfo *si, void *userdata)
{
	struct daemon *d = userdata;

	switch (si->ssi_signo) {
	case SIGTERM:
	case SIGINT:
		log_notice("%s: wiping keys and exiting", strsignal((int)si->ssi_signo));
		d->quit = true;
		loop_quit(d->loop);
		break;
	case SIGHUP:
		reload(d);
		break;
	default:
		break;
	}
}

static void on_watchdog(struct loop_watch *w, bool clock_set, void *userdata)
{
	(void)sd_notify(0, "WATCHDOG=1");
}

static int setup_loop(struct daemon *d)
{
	static const int signals[] = { SIGTERM, SIGINT, SIGHUP };
	struct loop_watch *watchdog;
	uint64_t wd_usec = 0, half;
	int r;

	signal(SIGPIPE, SIG_IGN);
	r = loop_new(&d->loop);
	if (r < 0)
		return r;
	r = loop_add_signals(d->loop, signals, ARRAY_SIZE(signals), on_signal, d, NULL);
	if (r < 0)
		return r;
	if (sd_watchdog_enabled(0, &wd_usec) <= 0 || wd_usec == 0)
		return 0;
	half = wd_usec / 2;
	r = loop_add_timer(d->loop, CLOCK_MONOTONIC, on_watchdog, d, &watchdog);
	if (r < 0)
		return r;
	r = loop_timer_set(watchdog, half / 1000, half / 1000, 0);
	if (r < 0)
		return r;
	log_info("systemd watchdog every %llu ms", (unsigned long long)(half / 1000));
	return 0;
}

static int check_clients(const struct agent_conf *conf, struct m2msa_err *err)
{
	_cleanup_(clients_freep) struct clients *c = NULL;

	return clients_load(conf->clients_dir, &c, err);
}

static int run(struct daemon *d)
{
	struct m2msa_err err = { .wire_code = 0 };
	uint64_t seed = 0;
	int r;

	r = setup_loop(d);
	if (r < 0) {
		log_error("cannot set up the event loop: %s", strerror(-r));
		return r;
	}
	(void)crypto_random(&seed, sizeof(seed));
	r = sa_manager_new(d->conf, seed, d->loop, &d->sam);
	if (r < 0) {
		log_error("cannot start the association manager: %s", strerror(-r));
		return r;
	}
	/* A bad clients.d is a configuration error like a bad m2msad.conf. */
	r = check_clients(d->conf, &err);
	if (r < 0) {
		log_error("%s", err.msg);
		return r;
	}
	/* Without its socket the agent still keeps the association (and the status file):
	 * loud, but not fatal, so that a fix of the path or the permissions and a restart
	 * is all it takes. */
	r = keyservice_new(d->conf->socket_path, d->conf->clients_dir, d->sam, d->loop, &d->keys,
			   &err);
	if (r < 0)
		log_error("cannot start the local key service, running without it (local "
			  "applications cannot get keys): %s", err.msg);
	else
		keyservice_set_limits(d->keys, d->conf->client_idle_timeout * 1000,
				      d->conf->clients_per_uid, d->conf->peer_check_interval);

	if (d->conf->esp_peers.n) {
		r = esp_peers_new(&d->conf->esp_peers, d->sam, d->loop, &d->esp);
		if (r < 0) {
			log_error("cannot set up ESP through netlink XFRM: %s (is xfrm_user loaded? "
				  "does m2msad have CAP_NET_ADMIN? the shipped unit gives it none: "
				  "add the drop-in /etc/systemd/system/m2msad.service.d/esp.conf "
				  "with AmbientCapabilities=CAP_NET_ADMIN and "
				  "CapabilityBoundingSet=CAP_NET_ADMIN, see docs/esp.md, "
				  "\"Running under systemd\")", strerror(-r));
			return r;
		}
	}
	if (d->keys && d->esp)
		keyservice_set_status_hook(d->keys, on_status_hook, d);
	(void)uplink_open(d);
	{
		/* The status file's folder (normally made by systemd's RuntimeDirectory=). */
		char dir[PATH_MAX];
		char *slash;

		snprintf(dir, sizeof(dir), "%s", d->conf->status_file);
		slash = strrchr(dir, '/');
		if (slash && slash != dir) {
			*slash = '\0';
			(void)mkdir(dir, 0755);
		}
	}
	log_notice("m2msad started (pid %ld), MAS %s", (long)getpid(), d->conf->mas_address);
	sa_manager_start(d->sam);
	publish(d);
	(void)sa_manager_take_changed(d->sam);
	(void)sd_notify(0, "READY=1");

	while (!d->quit) {
		r = loop_iterate(d->loop, -1);
		if (r < 0) {
			log_error("epoll_wait: %s", strerror(-r));
			return r;
		}
		if (d->keys)
			keyservice_reap(d->keys);
		if (!d->quit)
			esp_peers_tick(d->esp);
		if (!d->quit) {
			/* Both flags are taken (cleared) every time. */
			bool sam_changed = sa_manager_take_changed(d->sam);
			bool esp_changed = esp_peers_take_changed(d->esp);

			if (sam_changed || esp_changed)
				publish(d);
		}
	}
	(void)sd_notify(0, "STOPPING=1");
	return 0;
}

/* The command line into d, *check, the log setup. -1 to go on, else an exit status. */
static int parse_args(int argc, char **argv, struct daemon *d, bool *check)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'C' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "log-target", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	enum log_target target = getenv("JOURNAL_STREAM") ? LOG_TARGET_JOURNAL : LOG_TARGET_STDERR;
	enum log_level level = LOG_LEVEL_INFO;
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		switch (c) {
		case 'c':
			d->config_path = optarg;
			break;
		case 'C':
			*check = true;
			break;
		case 'l':
			if (log_level_from_string(optarg, &level) < 0) {
				fprintf(stderr, "m2msad: --log-level '%s' is not one of error, warning, "
						"notice, info, debug\n", optarg);
				return 2;
			}
			d->log_level_forced = true;
			break;
		case 't':
			if (log_target_from_string(optarg, &target) < 0) {
				fprintf(stderr, "m2msad: --log-target must be stderr or journal\n");
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "m2msad: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	log_setup("m2msad", *check ? LOG_TARGET_STDERR : target, level);
	return -1;
}

/* Everything the daemon holds, in the order it lets go: clients, keys, uplink, loop, conf. */
static void daemon_done(struct daemon *d)
{
	keyservice_free(d->keys); /* disconnects clients, removes the socket */
	esp_peers_free(d->esp);   /* removes the ESP SAs and policies m2msad installed */
	sa_manager_free(d->sam);  /* wipes every key */
	uplink_close(d);
	loop_free(d->loop);
	agent_conf_freep(&d->conf);
}

int main(int argc, char **argv)
{
	_cleanup_(daemon_done) struct daemon d = { .config_path = AGENT_CONF_DEFAULT };
	struct m2msa_err err = { .wire_code = 0 };
	bool check = false;
	int r;

	harden();
	r = parse_args(argc, argv, &d, &check);
	if (r >= 0)
		return r;
	d.conf = calloc(1, sizeof(*d.conf));
	if (!d.conf) {
		log_error("out of memory");
		return 1;
	}
	r = agent_conf_load(d.config_path, d.conf, &err);
	if (r < 0) {
		log_error("%s", err.msg);
		(void)sd_notifyf(0, "STATUS=configuration error: %s", err.msg);
		return 1;
	}
	if (check) {
		r = check_clients(d.conf, &err);
		if (r < 0) {
			log_error("%s", err.msg);
			return 1;
		}
		printf("%s: configuration OK\n", d.config_path);
		return 0;
	}
	apply_log_level(&d);
	r = tls_init();
	if (r < 0) {
		log_error("cannot initialise wolfSSL: %s", strerror(-r));
		return 1;
	}
	r = run(&d);
	(void)unlink(d.conf->status_file);
	return r < 0 ? 1 : 0;
}
