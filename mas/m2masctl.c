/* SPDX-License-Identifier: Apache-2.0 */
/*
 * m2masctl: the MAS administrator's tool. It works on the node store file
 * directly (m2masd reads the rows again for every request, so no IPC is needed;
 * SQLite's WAL journal and busy timeout let both use the file at once).
 * Exit status: common/cli.h's (0 success, 1 the operation failed, 2 bad usage).
 * Key bytes reach stdout exactly once: the Km that `node add --generate-km` made.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/cli.h"
#include "common/conf.h"
#include "common/hex.h"
#include "common/crypto.h"
#include "common/secret.h"
#include "common/util.h"
#include "common/wire.h"
#include "mas/keyfile.h"
#include "mas/mas-conf.h"
#include "mas/store.h"

struct ctl {
	struct cli cli; /* "m2masctl" and "node add", for messages */
	const char *config_path;
	bool config_given;
	char *store_path;
	char *master_key_path;
	char *fqdn; /* from the config, for key IDs; may be NULL */
};

static void usage(FILE *f)
{
	fputs("Usage: m2masctl [--config FILE] [--store PATH] [--master-key PATH] COMMAND ...\n"
	      "\n"
	      "Commands:\n"
	      "  init                              create the master key file and an empty store\n"
	      "  node add NODE-ID --km-id KMID --target TARGET-CSE-ID\n"
	      "           [--methods psk,pki] [--lifetime 1h] (--km-file FILE | --generate-km)\n"
	      "                                    register a node and its long-term key Km\n"
	      "  node list [--json]                list nodes (never key bytes)\n"
	      "  node show NODE-ID [--json]        show one node and its associations' states\n"
	      "  node revoke NODE-ID               revoke a node and all its associations\n"
	      "  node delete NODE-ID               remove a node and all its associations\n"
	      "  node set-target NODE-ID TARGET    the IN-CSE allowed to retrieve its keys\n"
	      "  node set-methods NODE-ID LIST     allowed methods, e.g. psk,pki\n"
	      "  node set-lifetime NODE-ID TIME    association lifetime, e.g. 6h (0 = MAS default)\n"
	      "  assoc list [--node NODE-ID] [--json]\n"
	      "                                    list associations (key ID, expiry, state)\n"
	      "  assoc revoke KCID|KEY-ID          revoke one association\n"
	      "  assoc purge                       delete expired associations\n"
	      "\n"
	      "Options:\n"
	      "  --config FILE      m2masd configuration (default " MAS_CONF_DEFAULT "); only\n"
	      "                     [store] path and master_key (and [mas] fqdn) are used\n"
	      "  --store PATH       the store file, instead of [store] path\n"
	      "  --master-key PATH  the master key file, instead of [store] master_key\n"
	      "  -h, --help         this text\n"
	      "\n"
	      "Exit status: 0 success, 1 failure, 2 usage error. See docs/m2masctl.md.\n",
	      f);
}

/* ---- small helpers ---- */

static void format_time(uint64_t t, char buf[static 32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t > (uint64_t)INT32_MAX * 64 || !gmtime_r(&tt, &tm) ||
	    strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, 32, "%llu", (unsigned long long)t);
}

static void format_duration(uint64_t s, char buf[static 32])
{
	if (s == 0)
		snprintf(buf, 32, "default");
	else if (s % 86400 == 0)
		snprintf(buf, 32, "%llud", (unsigned long long)(s / 86400));
	else if (s % 3600 == 0)
		snprintf(buf, 32, "%lluh", (unsigned long long)(s / 3600));
	else if (s % 60 == 0)
		snprintf(buf, 32, "%llum", (unsigned long long)(s / 60));
	else
		snprintf(buf, 32, "%llus", (unsigned long long)s);
}

static void format_methods(const uint8_t *m, size_t n, char buf[static 64])
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && off < 64; i++)
		off += (size_t)snprintf(buf + off, 64 - off, "%s%s", i ? "," : "",
					wire_method_to_string(m[i]));
}

static const char *assoc_state(const struct store_assoc *a, uint64_t now)
{
	if (a->revoked)
		return "revoked";
	if (a->expiry <= now)
		return "expired";
	return "active";
}

static int parse_methods(const char *value, uint8_t methods[static WIRE_METHODS_MAX],
			 size_t *ret_n)
{
	char buf[64], *save = NULL;
	size_t n = 0;

	if (strlen(value) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, value);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		uint8_t m;

		if (n == WIRE_METHODS_MAX || wire_method_from_string(t, &m) < 0)
			return -EINVAL;
		for (size_t i = 0; i < n; i++)
			if (methods[i] == m)
				return -EINVAL;
		methods[n++] = m;
	}
	if (n == 0)
		return -EINVAL;
	*ret_n = n;
	return 0;
}

static int check_id(const struct ctl *c, const char *what, const char *id)
{
	if (wire_id_valid(id))
		return 0;
	return cli_usage_error(&c->cli,
			   "%s '%s' is not valid: use 1 to %d of A-Z a-z 0-9 . _ - @ / "
			   "(e.g. /mn-cse-1)",
			   what, id, WIRE_ID_MAX);
}

/* ---- configuration and the store ---- */

static int ctl_resolve_paths(struct ctl *c)
{
	struct mas_conf conf = { 0 };
	char err[CONF_ERR_MAX] = "";
	int r;

	if (c->store_path && c->master_key_path && !c->config_given)
		return 0;
	r = mas_conf_load_store(c->config_path, &conf, err, sizeof(err));
	if (r < 0) {
		if (r == -ENOENT && !c->config_given)
			return cli_fail(&c->cli, "cannot read %s: %s (give --config FILE, or --store PATH "
				    "and --master-key PATH)",
				    c->config_path, strerror(-r));
		return cli_fail(&c->cli, "%s", err[0] ? err : strerror(-r));
	}
	if (!c->store_path) {
		c->store_path = conf.store_path;
		conf.store_path = NULL;
	}
	if (!c->master_key_path) {
		c->master_key_path = conf.master_key;
		conf.master_key = NULL;
	}
	c->fqdn = conf.fqdn;
	conf.fqdn = NULL;
	mas_conf_free(&conf);
	return 0;
}

static int report_key_error(const struct ctl *c, int r)
{
	switch (r) {
	case -ENOENT:
		return cli_fail(&c->cli, "master key file %s not found (run m2masctl init, or set [store] "
			    "master_key)",
			    c->master_key_path);
	case -EPERM:
		return cli_fail(&c->cli, "master key file %s is accessible by group or others; "
			    "run chmod 600 %s",
			    c->master_key_path, c->master_key_path);
	case -EINVAL:
		return cli_fail(&c->cli, "master key file %s does not hold 32 raw bytes or 64 hex digits",
			    c->master_key_path);
	default:
		return cli_fail(&c->cli, "cannot read master key file %s: %s", c->master_key_path,
			    strerror(-r));
	}
}

static int report_open_error(const struct ctl *c, int r)
{
	switch (r) {
	case -EIO:
		return cli_fail(&c->cli, "%s is not an m2msa store (not an SQLite database, or damaged)",
			    c->store_path);
	case -EPROTO:
		return cli_fail(&c->cli, "%s has an unknown schema (made by another program or another "
			    "m2msa version)",
			    c->store_path);
	case -EKEYREJECTED:
		return cli_fail(&c->cli, "the master key in %s does not belong to the store %s (wrong key "
			    "file?)",
			    c->master_key_path, c->store_path);
	case -EACCES:
	case -EPERM:
		return cli_fail(&c->cli, "cannot open store %s: %s (run m2masctl as the user m2masd runs "
			    "as, or root)",
			    c->store_path, strerror(-r));
	case -EBUSY:
		return cli_fail(&c->cli, "store %s is locked by another process; try again",
			    c->store_path);
	default:
		return cli_fail(&c->cli, "cannot open store %s: %s", c->store_path, strerror(-r));
	}
}

/* Open the existing store: CLI_EXIT_OK and *ret, or the exit status after a message. */
static int ctl_open(struct ctl *c, struct store **ret)
{
	_cleanup_secret_ struct secret *mk = NULL;
	struct stat st;
	int r;

	r = ctl_resolve_paths(c);
	if (r != CLI_EXIT_OK)
		return r;
	if (stat(c->store_path, &st) < 0) {
		if (errno == ENOENT)
			return cli_fail(&c->cli, "store %s does not exist (run m2masctl init, or check [store] "
				    "path)",
				    c->store_path);
		return cli_fail(&c->cli, "cannot access store %s: %s", c->store_path, strerror(errno));
	}
	r = store_master_key_load(c->master_key_path, &mk);
	if (r < 0)
		return report_key_error(c, r);
	r = store_open(c->store_path, mk->data, ret);
	if (r < 0)
		return report_open_error(c, r);
	return CLI_EXIT_OK;
}

static int report_node_error(const struct ctl *c, const char *node_id, const char *action, int r)
{
	switch (r) {
	case -ENOENT:
		return cli_fail(&c->cli, "node '%s' not found (see m2masctl node list)", node_id);
	case -EEXIST:
		return cli_fail(&c->cli, "node '%s' already exists (see m2masctl node show %s; delete it "
			    "first to replace it)",
			    node_id, node_id);
	case -EBUSY:
		return cli_fail(&c->cli, "cannot %s node '%s': the store is locked by another process; "
			    "try again",
			    action, node_id);
	default:
		return cli_fail(&c->cli, "cannot %s node '%s': %s", action, node_id, strerror(-r));
	}
}

/*
 * getopt_long over argv (argv[0] is the command word). Returns the option, -1
 * at the end, or '?' after printing a usage message.
 */
static int next_opt(const struct ctl *c, int argc, char **argv, const struct option *opts)
{
	int o;

	opterr = 0;
	/* Global options stop at the command word; a command's options may follow its
	 * arguments (GNU getopt reorders argv). */
	o = getopt_long(argc, argv, c->cli.cmd[0] ? ":h" : "+:h", opts, NULL);
	if (o == ':') {
		cli_usage_error(&c->cli, "option '%s' needs a value", argv[optind - 1]);
		return '?';
	}
	if (o == '?') {
		if (optopt && optopt != '?')
			cli_usage_error(&c->cli, "unknown option '-%c'", optopt);
		else
			cli_usage_error(&c->cli, "unknown option '%s'", argv[optind - 1]);
		return '?';
	}
	return o;
}

/* ---- init ---- */

static int cmd_init(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = { { "help", no_argument, NULL, 'h' }, { 0 } };
	_cleanup_secret_ struct secret *mk = NULL;
	struct store *s = NULL;
	struct stat st;
	int o, r;

	while ((o = next_opt(c, argc, argv, opts)) != -1) {
		if (o == 'h') {
			usage(stdout);
			return CLI_EXIT_OK;
		}
		return CLI_EXIT_USAGE;
	}
	if (optind != argc)
		return cli_no_more_args(&c->cli, argc, argv, optind);
	r = ctl_resolve_paths(c);
	if (r != CLI_EXIT_OK)
		return r;
	if (stat(c->store_path, &st) == 0)
		return cli_fail(&c->cli, "store %s already exists; refusing to overwrite it", c->store_path);
	r = store_master_key_create(c->master_key_path);
	if (r == -EEXIST)
		return cli_fail(&c->cli, "master key file %s already exists; refusing to overwrite it (a "
			    "store encrypted under it would become unreadable)",
			    c->master_key_path);
	if (r < 0)
		return cli_fail(&c->cli, "cannot create master key file %s: %s (does its folder exist?)",
			    c->master_key_path, strerror(-r));
	r = store_master_key_load(c->master_key_path, &mk);
	if (r >= 0)
		r = store_open(c->store_path, mk->data, &s);
	if (r < 0) {
		(void)unlink(c->master_key_path);
		if (r == -ENOENT)
			return cli_fail(&c->cli, "cannot create store %s: its folder does not exist",
				    c->store_path);
		return report_open_error(c, r);
	}
	store_close(s);
	fprintf(stderr,
		"m2masctl: created master key %s (mode 0600) and store %s\n"
		"m2masctl: back up the master key: without it no key in the store can be read\n",
		c->master_key_path, c->store_path);
	return CLI_EXIT_OK;
}

/* ---- node ---- */

static int read_km_file(const char *path, struct secret **ret)
{
	_cleanup_close_ int fd = -1;
	int r;

	if (strcmp(path, "-") == 0)
		return mas_key_read_fd(STDIN_FILENO, ret);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	r = mas_key_read_fd(fd, ret);
	return r;
}

static int cmd_node_add(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "km-id", required_argument, NULL, 'k' },
		{ "target", required_argument, NULL, 't' },
		{ "methods", required_argument, NULL, 'm' },
		{ "lifetime", required_argument, NULL, 'l' },
		{ "km-file", required_argument, NULL, 'f' },
		{ "generate-km", no_argument, NULL, 'g' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct store_node n = { .methods = { WIRE_METHOD_PSK }, .n_methods = 1 };
	_cleanup_secret_ struct secret *km = NULL;
	const char *km_id = NULL, *target = NULL, *km_file = NULL;
	char hex[2 * MAS_KEY_LEN + 1], err[CONF_ERR_MAX];
	bool generate = false;
	struct store *s = NULL;
	int o, r;

	while ((o = next_opt(c, argc, argv, opts)) != -1) {
		switch (o) {
		case 'k':
			km_id = optarg;
			break;
		case 't':
			target = optarg;
			break;
		case 'm':
			if (parse_methods(optarg, n.methods, &n.n_methods) < 0)
				return cli_usage_error(&c->cli, "invalid --methods '%s' (a list such as "
						      "psk,pki; known: psk, pki, gba)",
						   optarg);
			break;
		case 'l':
			if (conf_parse_duration(optarg, &n.lifetime, err, sizeof(err)) < 0)
				return cli_usage_error(&c->cli, "invalid --lifetime '%s' (%s)", optarg, err);
			break;
		case 'f':
			km_file = optarg;
			break;
		case 'g':
			generate = true;
			break;
		case 'h':
			usage(stdout);
			return CLI_EXIT_OK;
		default:
			return CLI_EXIT_USAGE;
		}
	}
	if (optind == argc)
		return cli_usage_error(&c->cli, "NODE-ID is missing");
	if (optind + 1 != argc)
		return cli_no_more_args(&c->cli, argc, argv, optind + 1);
	if (!km_id || !target)
		return cli_usage_error(&c->cli, "--km-id and --target are required");
	if (!!km_file == generate)
		return cli_usage_error(&c->cli, "give exactly one of --km-file FILE and --generate-km");
	if (check_id(c, "node ID", argv[optind]) != 0 || check_id(c, "target", target) != 0)
		return CLI_EXIT_USAGE;
	if (strlen(km_id) > WIRE_KEY_ID_MAX || strpbrk(km_id, " \t\n") || !*km_id)
		return cli_usage_error(&c->cli, "--km-id '%s' is not valid (1 to %d characters, no blanks, "
				      "e.g. km-1@mas.example.net)",
				   km_id, WIRE_KEY_ID_MAX);
	strcpy(n.node_id, argv[optind]);
	strcpy(n.km_id, km_id);
	strcpy(n.target_id, target);

	if (generate) {
		r = secret_new(MAS_KEY_LEN, &km);
		if (r >= 0)
			r = crypto_random(km->data, km->len);
		if (r < 0)
			return cli_fail(&c->cli, "cannot generate a key: %s", strerror(-r));
	} else {
		r = read_km_file(km_file, &km);
		if (r == -EINVAL)
			return cli_fail(&c->cli, "%s does not hold a 32-byte key (32 raw bytes or 64 hex "
				    "digits)",
				    strcmp(km_file, "-") == 0 ? "standard input" : km_file);
		if (r < 0)
			return cli_fail(&c->cli, "cannot read Km from %s: %s", km_file, strerror(-r));
	}

	r = ctl_open(c, &s);
	if (r != CLI_EXIT_OK)
		return r;
	r = store_node_add(s, &n, km->data);
	store_close(s);
	if (r < 0)
		return report_node_error(c, n.node_id, "add", r);
	if (generate) {
		mas_key_to_hex(km->data, hex);
		printf("%s\n", hex);
		fflush(stdout);
		secret_wipe(hex, sizeof(hex));
		fprintf(stderr,
			"m2masctl: node '%s' added. The Km above is shown only this once and "
			"cannot be read back:\n"
			"m2masctl: provision it into the gateway's TPM with\n"
			"m2masctl:   m2msactl provision --node-id %s --km-id %s --key-file FILE\n",
			n.node_id, n.node_id, n.km_id);
	} else {
		fprintf(stderr, "m2masctl: node '%s' added\n", n.node_id);
	}
	return CLI_EXIT_OK;
}

struct list_ctx {
	bool json;
	size_t count;
	uint64_t now;
	const char *fqdn;
	size_t n_active, n_expired, n_revoked;
};

static void print_node_json(const struct store_node *n)
{
	char created[32];

	format_time(n->created, created);
	printf("{\"node_id\":");
	cli_json_string(stdout, n->node_id);
	printf(",\"km_id\":");
	cli_json_string(stdout, n->km_id);
	printf(",\"target_id\":");
	cli_json_string(stdout, n->target_id);
	printf(",\"methods\":[");
	for (size_t i = 0; i < n->n_methods; i++)
		printf("%s\"%s\"", i ? "," : "", wire_method_to_string(n->methods[i]));
	printf("],\"lifetime\":%llu,\"state\":\"%s\",\"created\":%llu}",
	       (unsigned long long)n->lifetime, store_node_state_to_string(n->state),
	       (unsigned long long)n->created);
}

static int list_node_cb(const struct store_node *n, void *userdata)
{
	struct list_ctx *l = userdata;
	char methods[64], lifetime[32], created[32];

	if (l->json) {
		printf("%s\n  ", l->count ? "," : "");
		print_node_json(n);
	} else {
		if (l->count == 0)
			printf("%-24s %-28s %-20s %-12s %-8s %-8s %s\n", "NODE", "KM-ID", "TARGET",
			       "METHODS", "LIFETIME", "STATE", "CREATED");
		format_methods(n->methods, n->n_methods, methods);
		format_duration(n->lifetime, lifetime);
		format_time(n->created, created);
		printf("%-24s %-28s %-20s %-12s %-8s %-8s %s\n", n->node_id, n->km_id,
		       n->target_id[0] ? n->target_id : "-", methods, lifetime,
		       store_node_state_to_string(n->state), created);
	}
	l->count++;
	return 0;
}

static int parse_list_opts(struct ctl *c, int argc, char **argv, bool *json, const char **node)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "node", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int o;

	while ((o = next_opt(c, argc, argv, opts)) != -1) {
		if (o == 'j') {
			*json = true;
		} else if (o == 'n' && node) {
			*node = optarg;
		} else if (o == 'h') {
			usage(stdout);
			return -1;
		} else {
			if (o == 'n')
				cli_usage_error(&c->cli, "unknown option '--node'");
			return CLI_EXIT_USAGE;
		}
	}
	return CLI_EXIT_OK;
}

static int cmd_node_list(struct ctl *c, int argc, char **argv)
{
	struct list_ctx l = { .json = false };
	struct store *s = NULL;
	int r;

	r = parse_list_opts(c, argc, argv, &l.json, NULL);
	if (r != CLI_EXIT_OK)
		return r < 0 ? CLI_EXIT_OK : r;
	if (optind != argc)
		return cli_no_more_args(&c->cli, argc, argv, optind);
	r = ctl_open(c, &s);
	if (r != CLI_EXIT_OK)
		return r;
	if (l.json)
		printf("[");
	r = store_node_foreach(s, list_node_cb, &l);
	store_close(s);
	if (r < 0)
		return cli_fail(&c->cli, "cannot list nodes: %s", strerror(-r));
	if (l.json)
		printf("%s]\n", l.count ? "\n" : "");
	else if (l.count == 0)
		fprintf(stderr, "m2masctl: no nodes (add one with m2masctl node add)\n");
	return CLI_EXIT_OK;
}

static int count_assoc_cb(const struct store_assoc *a, void *userdata)
{
	struct list_ctx *l = userdata;
	const char *st = assoc_state(a, l->now);

	if (strcmp(st, "active") == 0)
		l->n_active++;
	else if (strcmp(st, "expired") == 0)
		l->n_expired++;
	else
		l->n_revoked++;
	return 0;
}

/* Parse "NODE-ID" plus the options of show: the common head of the node commands. */
static int node_arg(struct ctl *c, int argc, char **argv, size_t n_extra, bool *json)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int o;

	while ((o = next_opt(c, argc, argv, opts)) != -1) {
		if (o == 'j' && json) {
			*json = true;
		} else if (o == 'h') {
			usage(stdout);
			return -1;
		} else {
			if (o == 'j')
				cli_usage_error(&c->cli, "unknown option '--json'");
			return CLI_EXIT_USAGE;
		}
	}
	if (optind == argc)
		return cli_usage_error(&c->cli, "NODE-ID is missing");
	if ((size_t)(argc - optind) < 1 + n_extra)
		return cli_usage_error(&c->cli, "an argument is missing after '%s'", argv[argc - 1]);
	if ((size_t)(argc - optind) > 1 + n_extra)
		return cli_no_more_args(&c->cli, argc, argv, optind + 1 + (int)n_extra);
	return check_id(c, "node ID", argv[optind]);
}

static int cmd_node_show(struct ctl *c, int argc, char **argv)
{
	struct list_ctx l = { .now = (uint64_t)time(NULL) };
	char methods[64], lifetime[32], created[32];
	struct store_node n;
	struct store *s = NULL;
	const char *id;
	int r;

	r = node_arg(c, argc, argv, 0, &l.json);
	if (r != CLI_EXIT_OK)
		return r < 0 ? CLI_EXIT_OK : r;
	id = argv[optind];
	r = ctl_open(c, &s);
	if (r != CLI_EXIT_OK)
		return r;
	r = store_node_get(s, id, &n);
	if (r >= 0)
		r = store_assoc_foreach(s, id, count_assoc_cb, &l);
	store_close(s);
	if (r < 0)
		return report_node_error(c, id, "show", r);
	if (l.json) {
		print_node_json(&n);
		printf("\n");
		return CLI_EXIT_OK;
	}
	format_methods(n.methods, n.n_methods, methods);
	format_duration(n.lifetime, lifetime);
	format_time(n.created, created);
	printf("node:         %s\n"
	       "km-id:        %s\n"
	       "target:       %s\n"
	       "methods:      %s\n"
	       "lifetime:     %s\n"
	       "state:        %s\n"
	       "created:      %s\n"
	       "associations: %zu active, %zu expired, %zu revoked\n",
	       n.node_id, n.km_id, n.target_id[0] ? n.target_id : "(none)", methods, lifetime,
	       store_node_state_to_string(n.state), created, l.n_active, l.n_expired,
	       l.n_revoked);
	return CLI_EXIT_OK;
}

enum node_op {
	NODE_OP_REVOKE,
	NODE_OP_DELETE,
	NODE_OP_SET_TARGET,
	NODE_OP_SET_METHODS,
	NODE_OP_SET_LIFETIME,
};

static int node_change(struct ctl *c, int argc, char **argv, enum node_op op)
{
	static const char *const verbs[] = { "revoke", "delete", "set the target of",
					     "set the methods of", "set the lifetime of" };
	uint8_t methods[WIRE_METHODS_MAX];
	size_t n_methods = 0;
	uint64_t lifetime = 0;
	char err[CONF_ERR_MAX];
	struct store *s = NULL;
	const char *id, *value = NULL;
	int r;

	r = node_arg(c, argc, argv, op >= NODE_OP_SET_TARGET ? 1 : 0, NULL);
	if (r != CLI_EXIT_OK)
		return r < 0 ? CLI_EXIT_OK : r;
	id = argv[optind];
	if (op >= NODE_OP_SET_TARGET)
		value = argv[optind + 1];
	if (op == NODE_OP_SET_TARGET && check_id(c, "target", value) != 0)
		return CLI_EXIT_USAGE;
	if (op == NODE_OP_SET_METHODS && parse_methods(value, methods, &n_methods) < 0)
		return cli_usage_error(&c->cli, "invalid method list '%s' (e.g. psk,pki; known: psk, pki, gba)",
				   value);
	if (op == NODE_OP_SET_LIFETIME && conf_parse_duration(value, &lifetime, err, sizeof(err)) < 0)
		return cli_usage_error(&c->cli, "invalid lifetime '%s' (%s; 0 = the MAS default)", value, err);

	r = ctl_open(c, &s);
	if (r != CLI_EXIT_OK)
		return r;
	switch (op) {
	case NODE_OP_REVOKE:
		r = store_node_revoke(s, id);
		break;
	case NODE_OP_DELETE:
		r = store_node_delete(s, id);
		break;
	case NODE_OP_SET_TARGET:
		r = store_node_set_target(s, id, value);
		break;
	case NODE_OP_SET_METHODS:
		r = store_node_set_methods(s, id, methods, n_methods);
		break;
	case NODE_OP_SET_LIFETIME:
		r = store_node_set_lifetime(s, id, lifetime);
		break;
	}
	store_close(s);
	if (r < 0)
		return report_node_error(c, id, verbs[op], r);
	switch (op) {
	case NODE_OP_REVOKE:
		fprintf(stderr, "m2masctl: node '%s' revoked, with all its associations\n", id);
		break;
	case NODE_OP_DELETE:
		fprintf(stderr, "m2masctl: node '%s' deleted, with all its associations\n", id);
		break;
	default:
		fprintf(stderr, "m2masctl: node '%s' updated\n", id);
		break;
	}
	return CLI_EXIT_OK;
}

static int cmd_node_revoke(struct ctl *c, int argc, char **argv)
{
	return node_change(c, argc, argv, NODE_OP_REVOKE);
}

static int cmd_node_delete(struct ctl *c, int argc, char **argv)
{
	return node_change(c, argc, argv, NODE_OP_DELETE);
}

static int cmd_node_set_target(struct ctl *c, int argc, char **argv)
{
	return node_change(c, argc, argv, NODE_OP_SET_TARGET);
}

static int cmd_node_set_methods(struct ctl *c, int argc, char **argv)
{
	return node_change(c, argc, argv, NODE_OP_SET_METHODS);
}

static int cmd_node_set_lifetime(struct ctl *c, int argc, char **argv)
{
	return node_change(c, argc, argv, NODE_OP_SET_LIFETIME);
}

/* ---- assoc ---- */

static int list_assoc_cb(const struct store_assoc *a, void *userdata)
{
	struct list_ctx *l = userdata;
	char kcid[2 * STORE_KCID_LEN + 1], created[32], expiry[32];

	hex_encode(a->kcid, STORE_KCID_LEN, kcid);
	format_time(a->created, created);
	format_time(a->expiry, expiry);
	if (l->json) {
		printf("%s\n  {\"kcid\":\"%s\"", l->count ? "," : "", kcid);
		if (l->fqdn) {
			printf(",\"key_id\":\"%s@", kcid);
			cli_json_string(stdout, l->fqdn);
			printf(",");
		} else {
			printf(",");
		}
		printf("\"node_id\":");
		cli_json_string(stdout, a->node_id);
		printf(",\"target_id\":");
		cli_json_string(stdout, a->target_id);
		printf(",\"method\":\"%s\",\"created\":%llu,\"expiry\":%llu,\"state\":\"%s\"}",
		       wire_method_to_string(a->method), (unsigned long long)a->created,
		       (unsigned long long)a->expiry, assoc_state(a, l->now));
	} else {
		if (l->count == 0)
			printf("%-32s %-24s %-20s %-6s %-20s %-20s %s\n", "KCID", "NODE", "TARGET",
			       "METHOD", "CREATED", "EXPIRY", "STATE");
		printf("%-32s %-24s %-20s %-6s %-20s %-20s %s\n", kcid, a->node_id,
		       a->target_id[0] ? a->target_id : "-", wire_method_to_string(a->method),
		       created, expiry, assoc_state(a, l->now));
	}
	l->count++;
	return 0;
}

static int cmd_assoc_list(struct ctl *c, int argc, char **argv)
{
	struct list_ctx l = { .now = (uint64_t)time(NULL) };
	struct store_node n;
	const char *node = NULL;
	struct store *s = NULL;
	int r;

	r = parse_list_opts(c, argc, argv, &l.json, &node);
	if (r != CLI_EXIT_OK)
		return r < 0 ? CLI_EXIT_OK : r;
	if (optind != argc)
		return cli_no_more_args(&c->cli, argc, argv, optind);
	if (node && check_id(c, "node ID", node) != 0)
		return CLI_EXIT_USAGE;
	r = ctl_open(c, &s);
	if (r != CLI_EXIT_OK)
		return r;
	l.fqdn = c->fqdn;
	r = node ? store_node_get(s, node, &n) : 0;
	if (r < 0) {
		store_close(s);
		return report_node_error(c, node, "list the associations of", r);
	}
	if (l.json)
		printf("[");
	r = store_assoc_foreach(s, node, list_assoc_cb, &l);
	store_close(s);
	if (r < 0)
		return cli_fail(&c->cli, "cannot list associations: %s", strerror(-r));
	if (l.json)
		printf("%s]\n", l.count ? "\n" : "");
	else if (l.count == 0)
		fprintf(stderr, "m2masctl: no associations\n");
	return CLI_EXIT_OK;
}

/* "hex(KcID)" or "hex(KcID)@MAS-FQDN" -> KcID. */
static int parse_kcid(const char *s, uint8_t kcid[static STORE_KCID_LEN])
{
	const char *at = strchr(s, '@');
	size_t len = at ? (size_t)(at - s) : strlen(s);

	if (len != 2 * STORE_KCID_LEN || (at && at[1] == '\0'))
		return -EINVAL;
	if (hex_decode(s, STORE_KCID_LEN, kcid) < 0)
		return -EINVAL;
	return 0;
}

static int cmd_assoc_revoke(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = { { "help", no_argument, NULL, 'h' }, { 0 } };
	uint8_t kcid[STORE_KCID_LEN];
	struct store *s = NULL;
	int o, r;

	while ((o = next_opt(c, argc, argv, opts)) != -1) {
		if (o == 'h') {
			usage(stdout);
			return CLI_EXIT_OK;
		}
		return CLI_EXIT_USAGE;
	}
	if (optind == argc)
		return cli_usage_error(&c->cli, "KCID or KEY-ID is missing");
	if (optind + 1 != argc)
		return cli_no_more_args(&c->cli, argc, argv, optind + 1);
	if (parse_kcid(argv[optind], kcid) < 0)
		return cli_usage_error(&c->cli, "'%s' is not a key ID (32 hex digits, optionally "
				      "followed by @MAS-FQDN)",
				   argv[optind]);
	r = ctl_open(c, &s);
	if (r != CLI_EXIT_OK)
		return r;
	r = store_assoc_revoke(s, kcid);
	store_close(s);
	if (r == -ENOENT)
		return cli_fail(&c->cli, "association '%s' not found (see m2masctl assoc list)", argv[optind]);
	if (r < 0)
		return cli_fail(&c->cli, "cannot revoke association '%s': %s", argv[optind], strerror(-r));
	fprintf(stderr, "m2masctl: association %s revoked\n", argv[optind]);
	return CLI_EXIT_OK;
}

static int cmd_assoc_purge(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = { { "help", no_argument, NULL, 'h' }, { 0 } };
	struct store *s = NULL;
	int o, r;

	while ((o = next_opt(c, argc, argv, opts)) != -1) {
		if (o == 'h') {
			usage(stdout);
			return CLI_EXIT_OK;
		}
		return CLI_EXIT_USAGE;
	}
	if (optind != argc)
		return cli_no_more_args(&c->cli, argc, argv, optind);
	r = ctl_open(c, &s);
	if (r != CLI_EXIT_OK)
		return r;
	r = store_assoc_purge_expired(s, (uint64_t)time(NULL));
	store_close(s);
	if (r < 0)
		return cli_fail(&c->cli, "cannot purge associations: %s", strerror(-r));
	fprintf(stderr, "m2masctl: removed %d expired association%s\n", r, r == 1 ? "" : "s");
	return CLI_EXIT_OK;
}

/* ---- dispatch ---- */

struct command {
	const char *group; /* "node", "assoc" or NULL */
	const char *name;
	int (*run)(struct ctl *c, int argc, char **argv);
};

static const struct command commands[] = {
	{ NULL, "init", cmd_init },
	{ "node", "add", cmd_node_add },
	{ "node", "list", cmd_node_list },
	{ "node", "show", cmd_node_show },
	{ "node", "revoke", cmd_node_revoke },
	{ "node", "delete", cmd_node_delete },
	{ "node", "set-target", cmd_node_set_target },
	{ "node", "set-methods", cmd_node_set_methods },
	{ "node", "set-lifetime", cmd_node_set_lifetime },
	{ "assoc", "list", cmd_assoc_list },
	{ "assoc", "revoke", cmd_assoc_revoke },
	{ "assoc", "purge", cmd_assoc_purge },
};

static int run(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "store", required_argument, NULL, 's' },
		{ "master-key", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	char cmd[64];
	int o;

	c->cli.cmd = "";
	while ((o = next_opt(c, argc, argv, opts)) != -1) {
		switch (o) {
		case 'c':
			c->config_path = optarg;
			c->config_given = true;
			break;
		case 's':
			free(c->store_path);
			c->store_path = strdup(optarg);
			if (!c->store_path)
				return cli_fail(&c->cli, "out of memory");
			break;
		case 'k':
			free(c->master_key_path);
			c->master_key_path = strdup(optarg);
			if (!c->master_key_path)
				return cli_fail(&c->cli, "out of memory");
			break;
		case 'h':
			usage(stdout);
			return CLI_EXIT_OK;
		default:
			return CLI_EXIT_USAGE;
		}
	}
	if (optind == argc) {
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	argc -= optind;
	argv += optind;
	if (strcmp(argv[0], "help") == 0) {
		usage(stdout);
		return CLI_EXIT_OK;
	}
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
		const struct command *cm = &commands[i];
		int skip = cm->group ? 1 : 0;

		if (cm->group && (strcmp(argv[0], cm->group) != 0 || argc < 2 ||
				  strcmp(argv[1], cm->name) != 0))
			continue;
		if (!cm->group && strcmp(argv[0], cm->name) != 0)
			continue;
		snprintf(cmd, sizeof(cmd), "%s%s%s", cm->group ? cm->group : "",
			 cm->group ? " " : "", cm->name);
		c->cli.cmd = cmd;
		optind = 0; /* glibc: start a fresh scan of the new argv */
		return cm->run(c, argc - skip, argv + skip);
	}
	if ((strcmp(argv[0], "node") == 0 || strcmp(argv[0], "assoc") == 0) && argc < 2) {
		fprintf(stderr, "m2masctl: '%s' needs a subcommand (see m2masctl --help)\n",
			argv[0]);
		return CLI_EXIT_USAGE;
	}
	fprintf(stderr, "m2masctl: unknown command '%s%s%s' (see m2masctl --help)\n", argv[0],
		argc > 1 && (strcmp(argv[0], "node") == 0 || strcmp(argv[0], "assoc") == 0) ? " " : "",
		argc > 1 && (strcmp(argv[0], "node") == 0 || strcmp(argv[0], "assoc") == 0) ? argv[1] :
											      "");
	return CLI_EXIT_USAGE;
}

int main(int argc, char **argv)
{
	struct ctl c = { .cli = { .tool = "m2masctl", .cmd = "" }, .config_path = MAS_CONF_DEFAULT };
	int r;

	r = run(&c, argc, argv);
	free(c.store_path);
	free(c.master_key_path);
	free(c.fqdn);
	if (fflush(stdout) != 0 && r == CLI_EXIT_OK)
		r = cli_fail(&c.cli, "cannot write to standard output: %s", strerror(errno));
	return r;
}
