/* SPDX-License-Identifier: Apache-2.0 */
/*
 * m2msactl peer-key and resolve-key: end-to-end keys between AEs on different
 * nodes (docs/protocol.md §14) through libm2msa, for scripts.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <m2msa/m2msa.h>

#include "m2msactl/ctl.h"

struct peer_opts {
	const char *ae;
	const char *socket;
	const char *arg; /* the target (peer-key) or the key ID (resolve-key) */
	bool json, show_key;
};

static void usage(FILE *f, const char *cmd)
{
	if (strcmp(cmd, "peer-key") == 0)
		fprintf(f, "Usage: m2msactl peer-key --ae AE-ID [--json] [--show-key] [--socket PATH] TARGET\n"
			   "\n"
			   "Get a pairwise end-to-end key for the local AE AE-ID (the originator) towards\n"
			   "TARGET, the absolute AE-ID /<CSE-ID>/<AE-ID> of an AE on another node. The\n"
			   "agent registers it with the MAS (SUID 33) or reuses its cached registration.\n"
			   "Prints the key ID to send with the message, the expiry and the target; the key\n"
			   "bytes only with --show-key.\n");
	else
		fprintf(f, "Usage: m2msactl resolve-key --ae AE-ID [--json] [--show-key] [--socket PATH] KEY-ID\n"
			   "\n"
			   "Resolve KEY-ID, received with a message, for the local AE AE-ID (the target).\n"
			   "The MAS answers only the node the key's target names, the agent only a client\n"
			   "that may act as the target's AE-ID. Prints the originator and the expiry; the\n"
			   "key bytes only with --show-key.\n");
	fprintf(f, "\n  --socket PATH   the agent's socket (default $M2MSA_SOCKET or %s)\n",
		M2MSA_SOCKET_DEFAULT);
}

static int parse(int argc, char **argv, struct peer_opts *o)
{
	static const struct option opts[] = {
		{ "ae", required_argument, NULL, 'a' },	 { "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },	 { "show-key", no_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },	 { 0 },
	};
	const char *cmd = argv[0];
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		switch (c) {
		case 'a':
			o->ae = optarg;
			break;
		case 's':
			o->socket = optarg;
			break;
		case 'j':
			o->json = true;
			break;
		case 'k':
			o->show_key = true;
			break;
		case 'h':
			usage(stdout, cmd);
			return CLI_EXIT_OK;
		default:
			usage(stderr, cmd);
			return CLI_EXIT_USAGE;
		}
	}
	if (!o->ae || optind != argc - 1) {
		fprintf(stderr, "m2msactl %s: needs --ae AE-ID and exactly one %s (see --help)\n", cmd,
			strcmp(cmd, "peer-key") == 0 ? "TARGET" : "KEY-ID");
		return CLI_EXIT_USAGE;
	}
	o->arg = argv[optind];
	return -1;
}

static void print_key(const struct m2msa_key *k, const struct peer_opts *o)
{
	if (o->json) {
		/* IDs are identifier characters only: no JSON escaping needed. */
		printf("{\"key_id\":\"%s\",\"node_id\":\"%s\",\"ae_id\":\"%s\",\"target\":\"%s\","
		       "\"expiry\":%llu",
		       m2msa_key_id(k), m2msa_key_node_id(k), m2msa_key_ae_id(k), m2msa_key_target(k),
		       (unsigned long long)m2msa_key_expiry(k));
	} else {
		printf("key ID:     %s\noriginator: %s/%s\ntarget:     %s\nexpires:    %llu\n",
		       m2msa_key_id(k), m2msa_key_node_id(k), m2msa_key_ae_id(k), m2msa_key_target(k),
		       (unsigned long long)m2msa_key_expiry(k));
	}
	if (o->show_key) {
		printf(o->json ? ",\"key\":\"" : "key:        ");
		for (size_t i = 0; i < m2msa_key_len(k); i++)
			printf("%02x", m2msa_key_data(k)[i]);
		printf(o->json ? "\"" : "\n");
	}
	if (o->json)
		printf("}\n");
	fflush(stdout);
}

static int run(int argc, char **argv, bool resolve)
{
	struct peer_opts o = { .ae = NULL };
	struct m2msa *h = NULL;
	struct m2msa_key *k = NULL;
	const char *cmd = argv[0];
	int r = parse(argc, argv, &o);

	if (r >= 0)
		return r;
	r = m2msa_open(o.socket, &h);
	if (r < 0) {
		fprintf(stderr, "m2msactl %s: cannot connect to the agent: %s\n", cmd, strerror(-r));
		return CLI_EXIT_FAILURE;
	}
	r = resolve ? m2msa_resolve_key(h, o.ae, o.arg, &k) : m2msa_get_peer_key(h, o.ae, o.arg, &k);
	if (r < 0) {
		const char *why = m2msa_last_error(h);

		fprintf(stderr, "m2msactl %s: %s for %s failed: %s%s%s\n", cmd, o.arg, o.ae,
			strerror(-r), why[0] ? ": " : "", why);
		m2msa_close(h);
		return CLI_EXIT_FAILURE;
	}
	print_key(k, &o);
	m2msa_key_free(k);
	m2msa_close(h);
	return CLI_EXIT_OK;
}

int ctl_peer_key(int argc, char **argv)
{
	return run(argc, argv, false);
}

int ctl_resolve_key(int argc, char **argv)
{
	return run(argc, argv, true);
}
