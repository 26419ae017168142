/* SPDX-License-Identifier: Apache-2.0 */
/* m2masctl node ...: register, list, show, change, revoke and delete nodes. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/conf.h"
#include "common/crypto.h"
#include "common/json.h"
#include "common/secret.h"
#include "mas/ctl-wrap.h"
#include "mas/ctl.h"
#include "mas/keyfile.h"

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

/* What node add's command line asks for. */
struct node_add_args {
	struct store_node node;
	const char *km_file; /* or NULL with generate */
	bool generate;
	bool no_km; /* gba only without --km-file/--generate-km: registered without Km */
	/* --wrap-to: Km leaves only wrapped to the node's TPM (mas/ctl-wrap.c) */
	const char *wrap_to, *out, *tools_out, *signer;
};

/* Options and NODE-ID of node add into *a: CLI_EXIT_OK, -1 after --help, or CLI_EXIT_USAGE. */
static int parse_node_add(struct ctl *c, int argc, char **argv, struct node_add_args *a)
{
	static const struct option opts[] = {
		{ "km-id", required_argument, NULL, 'k' },
		{ "target", required_argument, NULL, 't' },
		{ "methods", required_argument, NULL, 'm' },
		{ "lifetime", required_argument, NULL, 'l' },
		{ "km-file", required_argument, NULL, 'f' },
		{ "generate-km", no_argument, NULL, 'g' },
		{ "wrap-to", required_argument, NULL, 'W' },
		{ "out", required_argument, NULL, 'o' },
		{ "tpm2-tools-out", required_argument, NULL, 'T' },
		{ "policy-signer", required_argument, NULL, 'P' },
		{ "impi", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct store_node *n = &a->node;
	const char *km_id = NULL, *target = NULL;
	char err[CONF_ERR_MAX];
	int o;

	while ((o = ctl_next_opt(c, argc, argv, opts)) != -1) {
		switch (o) {
		case 'k':
			km_id = optarg;
			break;
		case 't':
			target = optarg;
			break;
		case 'm':
			if (ctl_parse_methods(optarg, n->methods, &n->n_methods) < 0)
				return cli_usage_error(&c->cli, "invalid --methods '%s' (a list such as "
						      "psk,pki; known: psk, pki, gba)",
						       optarg);
			break;
		case 'l':
			if (conf_parse_duration(optarg, &n->lifetime, err, sizeof(err)) < 0)
				return cli_usage_error(&c->cli, "invalid --lifetime '%s' (%s)", optarg, err);
			break;
		case 'f':
			a->km_file = optarg;
			break;
		case 'g':
			a->generate = true;
			break;
		case 'W':
			a->wrap_to = optarg;
			break;
		case 'o':
			a->out = optarg;
			break;
		case 'T':
			a->tools_out = optarg;
			break;
		case 'P':
			a->signer = optarg;
			break;
		case 'i':
			if (!*optarg || !store_impi_valid(optarg))
				return cli_usage_error(&c->cli, "invalid --impi '%s' (the subscriber's "
						      "IMPI at the BSF, e.g. node1@ims.example.net)",
						       optarg);
			snprintf(n->impi, sizeof(n->impi), "%s", optarg);
			break;
		case 'h':
			ctl_usage(stdout);
			return -1;
		default:
			return CLI_EXIT_USAGE;
		}
	}
	if (optind == argc)
		return cli_usage_error(&c->cli, "NODE-ID is missing");
	if (optind + 1 != argc)
		return cli_no_more_args(&c->cli, argc, argv, optind + 1);
	if (!memchr(n->methods, WIRE_METHOD_PSK, n->n_methods) && !a->km_file && !a->generate) {
		/* gba only: Km is Ks_NAF from the BSF, KmID the B-TID; no Km to register. */
		if (!memchr(n->methods, WIRE_METHOD_GBA, n->n_methods) || !n->impi[0])
			return cli_usage_error(&c->cli, "a node without Km must use method gba only "
						"with its IMPI (--methods gba --impi IMPI); "
						"otherwise give --km-file FILE or --generate-km");
		if (!km_id)
			km_id = STORE_KM_ID_NONE;
		a->no_km = true;
	}
	if (!km_id || !target)
		return cli_usage_error(&c->cli, "--km-id and --target are required");
	if (!a->no_km && !!a->km_file == a->generate)
		return cli_usage_error(&c->cli, "give exactly one of --km-file FILE and --generate-km "
						"(a gba-only node, --methods gba --impi IMPI, needs "
						"neither)");
	if (a->no_km && a->wrap_to)
		return cli_usage_error(&c->cli, "--wrap-to wraps a Km; a gba-only node has none (its "
						"Km is Ks_NAF from the BSF)");
	if (!a->wrap_to != !a->out || ((a->tools_out || a->signer) && !a->wrap_to))
		return cli_usage_error(&c->cli, "--wrap-to SRK.pub and --out FILE go together (and "
						"--policy-signer, --tpm2-tools-out need them)");
	if (ctl_check_id(c, "node ID", argv[optind]) != 0 || ctl_check_id(c, "target", target) != 0)
		return CLI_EXIT_USAGE;
	if (strlen(km_id) > WIRE_KEY_ID_MAX || strpbrk(km_id, " \t\n") || !*km_id)
		return cli_usage_error(&c->cli, "--km-id '%s' is not valid (1 to %d characters, no blanks, "
				      "e.g. km-1@mas.example.net)",
				       km_id, WIRE_KEY_ID_MAX);
	strcpy(n->node_id, argv[optind]);
	strcpy(n->km_id, km_id);
	strcpy(n->target_id, target);
	return CLI_EXIT_OK;
}

/* The Km node add registers: generated, or read from the file (or "-", stdin). */
static int get_km(struct ctl *c, const struct node_add_args *a, struct secret **ret)
{
	_cleanup_secret_ struct secret *km = NULL;
	int r;

	if (a->generate) {
		r = secret_new(MAS_KEY_LEN, &km);
		if (r >= 0)
			r = crypto_random(km->data, km->len);
		if (r < 0)
			return cli_fail(&c->cli, "cannot generate a key: %s", strerror(-r));
	} else {
		r = read_km_file(a->km_file, &km);
		if (r == -EINVAL)
			return cli_fail(&c->cli, "%s does not hold a 32-byte key (32 raw bytes or 64 hex "
				    "digits)",
					strcmp(a->km_file, "-") == 0 ? "standard input" : a->km_file);
		if (r < 0)
			return cli_fail(&c->cli, "cannot read Km from %s: %s", a->km_file, strerror(-r));
	}
	*ret = km;
	km = NULL;
	return CLI_EXIT_OK;
}

/* A gba-only node: no Km in the store; its Km is Ks_NAF, fetched over Zn per B-TID. */
static int node_add_without_km(struct ctl *c, const struct store_node *n)
{
	struct store *s = NULL;
	int r = ctl_open(c, &s);

	if (r != CLI_EXIT_OK)
		return r;
	r = store_node_add(s, n, NULL);
	store_close(s);
	if (r < 0)
		return ctl_report_node_error(c, n->node_id, "add", r);
	fprintf(stderr,
		"m2masctl: node '%s' added for method gba only (IMPI %s), without Km: its Km is "
		"Ks_NAF from the BSF\n",
		n->node_id, n->impi);
	return CLI_EXIT_OK;
}

int ctl_node_add(struct ctl *c, int argc, char **argv)
{
	struct node_add_args a = { .node = { .methods = { WIRE_METHOD_PSK }, .n_methods = 1 } };
	const struct store_node *n = &a.node;
	_cleanup_secret_ struct secret *km = NULL;
	char hex[2 * MAS_KEY_LEN + 1];
	struct store *s = NULL;
	int r;

	r = parse_node_add(c, argc, argv, &a);
	if (r != CLI_EXIT_OK)
		return r < 0 ? CLI_EXIT_OK : r;
	if (a.no_km)
		return node_add_without_km(c, n);
	r = get_km(c, &a, &km);
	if (r != CLI_EXIT_OK)
		return r;
	/* With --wrap-to the blob is written before the node is stored, and removed again if
	 * storing fails: either both exist or neither. */
	if (a.wrap_to &&
	    mas_wrap_km(a.wrap_to, a.signer, km->data, n->node_id, n->km_id, a.out, a.tools_out) < 0)
		return CLI_EXIT_FAILURE;
	r = ctl_open(c, &s);
	if (r == CLI_EXIT_OK) {
		r = store_node_add(s, n, km->data);
		store_close(s);
		if (r < 0)
			r = ctl_report_node_error(c, n->node_id, "add", r);
	}
	if (r != CLI_EXIT_OK) {
		if (a.wrap_to)
			mas_wrap_remove(a.out, a.tools_out);
		return r;
	}
	if (a.wrap_to) {
		fprintf(stderr,
			"m2masctl: node '%s' added; Km is wrapped to its TPM in %s (Km itself is "
			"shown nowhere)\n"
			"m2masctl: on the node: m2msactl provision --import %s\n",
			n->node_id, a.out, a.out);
		return CLI_EXIT_OK;
	}
	if (!a.generate) {
		fprintf(stderr, "m2masctl: node '%s' added\n", n->node_id);
		return CLI_EXIT_OK;
	}
	mas_key_to_hex(km->data, hex);
	printf("%s\n", hex);
	fflush(stdout);
	secret_wipe(hex, sizeof(hex));
	fprintf(stderr,
		"m2masctl: node '%s' added. The Km above is shown only this once and "
		"cannot be read back:\n"
		"m2masctl: provision it into the gateway's TPM with\n"
		"m2masctl:   m2msactl provision --node-id %s --km-id %s --key-file FILE\n",
		n->node_id, n->node_id, n->km_id);
	return CLI_EXIT_OK;
}

static void print_node_json(const struct store_node *n)
{
	char created[32];

	ctl_format_time(n->created, created);
	printf("{\"node_id\":");
	json_write_string(stdout, n->node_id);
	printf(",\"km_id\":");
	json_write_string(stdout, n->km_id);
	printf(",\"target_id\":");
	json_write_string(stdout, n->target_id);
	printf(",\"methods\":[");
	for (size_t i = 0; i < n->n_methods; i++)
		printf("%s\"%s\"", i ? "," : "", wire_method_to_string(n->methods[i]));
	printf("],\"lifetime\":%llu,\"state\":\"%s\",\"created\":%llu,\"impi\":",
	       (unsigned long long)n->lifetime, store_node_state_to_string(n->state),
	       (unsigned long long)n->created);
	json_write_string(stdout, n->impi);
	printf("}");
}

static int list_node_cb(const struct store_node *n, void *userdata)
{
	struct ctl_list *l = userdata;
	char methods[64], lifetime[32], created[32];

	if (l->json) {
		printf("%s\n  ", l->count ? "," : "");
		print_node_json(n);
	} else {
		if (l->count == 0)
			printf("%-24s %-28s %-20s %-12s %-8s %-8s %s\n", "NODE", "KM-ID", "TARGET",
			       "METHODS", "LIFETIME", "STATE", "CREATED");
		ctl_format_methods(n->methods, n->n_methods, methods);
		ctl_format_duration(n->lifetime, lifetime);
		ctl_format_time(n->created, created);
		printf("%-24s %-28s %-20s %-12s %-8s %-8s %s\n", n->node_id, n->km_id,
		       n->target_id[0] ? n->target_id : "-", methods, lifetime,
		       store_node_state_to_string(n->state), created);
	}
	l->count++;
	return 0;
}

int ctl_node_list(struct ctl *c, int argc, char **argv)
{
	struct ctl_list l = { .json = false };
	struct store *s = NULL;
	int r;

	r = ctl_parse_list_opts(c, argc, argv, &l.json, NULL);
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
	return ctl_list_finish(c, &l, r, "nodes", "no nodes (add one with m2masctl node add)");
}

static int count_assoc_cb(const struct store_assoc *a, void *userdata)
{
	struct ctl_list *l = userdata;
	const char *st = ctl_assoc_state(a, l->now);

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

	while ((o = ctl_next_opt(c, argc, argv, opts)) != -1) {
		if (o == 'j' && json) {
			*json = true;
		} else if (o == 'h') {
			ctl_usage(stdout);
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
	return ctl_check_id(c, "node ID", argv[optind]);
}

int ctl_node_show(struct ctl *c, int argc, char **argv)
{
	struct ctl_list l = { .now = (uint64_t)time(NULL) };
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
		return ctl_report_node_error(c, id, "show", r);
	if (l.json) {
		print_node_json(&n);
		printf("\n");
		return CLI_EXIT_OK;
	}
	ctl_format_methods(n.methods, n.n_methods, methods);
	ctl_format_duration(n.lifetime, lifetime);
	ctl_format_time(n.created, created);
	printf("node:         %s\n"
	       "km-id:        %s\n"
	       "target:       %s\n"
	       "methods:      %s\n"
	       "lifetime:     %s\n"
	       "state:        %s\n"
	       "created:      %s\n"
	       "impi:         %s\n"
	       "associations: %zu active, %zu expired, %zu revoked\n",
	       n.node_id, n.km_id, n.target_id[0] ? n.target_id : "(none)", methods, lifetime,
	       store_node_state_to_string(n.state), created, n.impi[0] ? n.impi : "(none)",
	       l.n_active, l.n_expired, l.n_revoked);
	return CLI_EXIT_OK;
}

enum node_op {
	NODE_OP_REVOKE,
	NODE_OP_DELETE,
	NODE_OP_SET_TARGET,
	NODE_OP_SET_METHODS,
	NODE_OP_SET_LIFETIME,
	NODE_OP_SET_IMPI,
};

static int node_change(struct ctl *c, int argc, char **argv, enum node_op op)
{
	static const char *const verbs[] = { "revoke", "delete", "set the target of",
					     "set the methods of", "set the lifetime of",
					     "set the IMPI of" };
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
	if (op == NODE_OP_SET_TARGET && ctl_check_id(c, "target", value) != 0)
		return CLI_EXIT_USAGE;
	if (op == NODE_OP_SET_METHODS && ctl_parse_methods(value, methods, &n_methods) < 0)
		return cli_usage_error(&c->cli, "invalid method list '%s' (e.g. psk,pki; known: psk, pki, gba)",
				   value);
	if (op == NODE_OP_SET_LIFETIME && conf_parse_duration(value, &lifetime, err, sizeof(err)) < 0)
		return cli_usage_error(&c->cli, "invalid lifetime '%s' (%s; 0 = the MAS default)", value, err);
	if (op == NODE_OP_SET_IMPI && !store_impi_valid(value))
		return cli_usage_error(&c->cli, "invalid IMPI '%s' (e.g. node1@ims.example.net; "
				   "\"\" clears it)",
				   value);

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
	case NODE_OP_SET_IMPI:
		r = store_node_set_impi(s, id, value);
		break;
	}
	store_close(s);
	if (r < 0)
		return ctl_report_node_error(c, id, verbs[op], r);
	/* r: for revoke and delete, how many pairwise keys went with the node (both directions). */
	switch (op) {
	case NODE_OP_REVOKE:
		fprintf(stderr, "m2masctl: node '%s' revoked, with all its associations and %d "
				"pairwise key%s (registered by it or towards its AEs)\n",
			id, r, r == 1 ? "" : "s");
		break;
	case NODE_OP_DELETE:
		fprintf(stderr, "m2masctl: node '%s' deleted, with all its associations and %d "
				"pairwise key%s (registered by it or towards its AEs)\n",
			id, r, r == 1 ? "" : "s");
		break;
	default:
		fprintf(stderr, "m2masctl: node '%s' updated\n", id);
		break;
	}
	return CLI_EXIT_OK;
}

int ctl_node_revoke(struct ctl *c, int argc, char **argv)
{
	return node_change(c, argc, argv, NODE_OP_REVOKE);
}

int ctl_node_delete(struct ctl *c, int argc, char **argv)
{
	return node_change(c, argc, argv, NODE_OP_DELETE);
}

int ctl_node_set_target(struct ctl *c, int argc, char **argv)
{
	return node_change(c, argc, argv, NODE_OP_SET_TARGET);
}

int ctl_node_set_methods(struct ctl *c, int argc, char **argv)
{
	return node_change(c, argc, argv, NODE_OP_SET_METHODS);
}

int ctl_node_set_lifetime(struct ctl *c, int argc, char **argv)
{
	return node_change(c, argc, argv, NODE_OP_SET_LIFETIME);
}

int ctl_node_set_impi(struct ctl *c, int argc, char **argv)
{
	return node_change(c, argc, argv, NODE_OP_SET_IMPI);
}
