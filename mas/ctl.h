/* SPDX-License-Identifier: Apache-2.0 */
/*
 * m2masctl's command table and what its commands share. Each command lives in a
 * mas/ctl-*.c file by group (ctl-init.c, ctl-node.c, ctl-assoc.c) and has the
 * signature int ctl_<group>_<name>(struct ctl *c, int argc, char **argv), where
 * argv[0] is the command word; it handles its own --help and returns an exit
 * status from common/cli.h (CLI_EXIT_OK, CLI_EXIT_FAILURE, CLI_EXIT_USAGE).
 * To add a command: declare it below, add one line to ctl_commands[], one line to
 * the usage in docs/m2masctl.md and docs/man/m2masctl.1; a new file also goes to
 * m2masctl_sources in mas/meson.build.
 */
#pragma once

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common/cli.h"
#include "common/wire.h"
#include "mas/store.h"

/* What the global options said, and who is speaking for messages. */
struct ctl {
	struct cli cli; /* "m2masctl" and "node add", for messages */
	const char *config_path;
	bool config_given;
	char *store_path; /* the SQLite file or the PostgreSQL connection string */
	enum store_backend backend;
	char *password_file; /* PostgreSQL: [store] password_file, or NULL */
	char *master_key_path;
	char *fqdn; /* from the config, for key IDs; may be NULL */
};

struct ctl_command {
	const char *group; /* "node", "assoc", "policy" or NULL */
	const char *name;
	const char *synopsis; /* the arguments after the command words, for the usage */
	const char *summary;
	int (*run)(struct ctl *c, int argc, char **argv);
};

/* ctl-init.c */
int ctl_init(struct ctl *c, int argc, char **argv);
int ctl_migrate(struct ctl *c, int argc, char **argv);

/* ctl-node.c */
int ctl_node_add(struct ctl *c, int argc, char **argv);
int ctl_node_list(struct ctl *c, int argc, char **argv);
int ctl_node_show(struct ctl *c, int argc, char **argv);
int ctl_node_revoke(struct ctl *c, int argc, char **argv);
int ctl_node_delete(struct ctl *c, int argc, char **argv);
int ctl_node_set_target(struct ctl *c, int argc, char **argv);
int ctl_node_set_methods(struct ctl *c, int argc, char **argv);
int ctl_node_set_lifetime(struct ctl *c, int argc, char **argv);
int ctl_node_set_impi(struct ctl *c, int argc, char **argv);

/* ctl-wrap.c: Km wrapped to a node's TPM again (node add --wrap-to is in ctl-node.c) */
int ctl_node_rewrap(struct ctl *c, int argc, char **argv);

/* ctl-policy.c: signed PCR policies */
int ctl_policy_sign(struct ctl *c, int argc, char **argv);

/* ctl-assoc.c */
int ctl_assoc_list(struct ctl *c, int argc, char **argv);
int ctl_assoc_revoke(struct ctl *c, int argc, char **argv);
int ctl_assoc_purge(struct ctl *c, int argc, char **argv);

/* ctl-peer.c: pairwise end-to-end keys */
int ctl_peer_key_show(struct ctl *c, int argc, char **argv);
int ctl_peer_key_revoke(struct ctl *c, int argc, char **argv);

static const struct ctl_command ctl_commands[] _unused_ = {
	{ NULL, "init", "", "create the master key file and an empty store", ctl_init },
	{ NULL, "migrate", "", "bring the store's schema up to this version's", ctl_migrate },
	{ "node", "add",
	  "NODE-ID --km-id KMID --target TARGET-CSE-ID\n"
	  "           [--methods psk,pki] [--lifetime 1h] [--impi IMPI] (--km-file FILE | --generate-km)\n"
	  "           [--wrap-to SRK.pub --out km.dup [--tpm2-tools-out PREFIX]\n"
	  "            [--policy-signer signer.pem]]\n"
	  "           or NODE-ID --methods gba --impi IMPI --target TARGET-CSE-ID (no Km)",
	  "register a node and its long-term key Km (--wrap-to: only wrapped to its TPM;\n"
	  "                                    gba only: no Km, it is Ks_NAF from the BSF)",
	  ctl_node_add },
	{ "node", "rewrap",
	  "NODE-ID --wrap-to SRK.pub --out km.dup [--tpm2-tools-out PREFIX]\n"
	  "           [--policy-signer signer.pem]",
	  "wrap a node's stored Km to its TPM again", ctl_node_rewrap },
	{ "node", "list", "[--json]", "list nodes (never key bytes)", ctl_node_list },
	{ "node", "show", "NODE-ID [--json]", "show one node and its associations' states",
	  ctl_node_show },
	{ "node", "revoke", "NODE-ID", "revoke a node, its associations and pairwise keys",
	  ctl_node_revoke },
	{ "node", "delete", "NODE-ID", "remove a node, its associations and pairwise keys",
	  ctl_node_delete },
	{ "node", "set-target", "NODE-ID TARGET", "the IN-CSE allowed to retrieve its keys",
	  ctl_node_set_target },
	{ "node", "set-methods", "NODE-ID LIST", "allowed methods, e.g. psk,pki",
	  ctl_node_set_methods },
	{ "node", "set-lifetime", "NODE-ID TIME", "association lifetime, e.g. 6h (0 = MAS default)",
	  ctl_node_set_lifetime },
	{ "node", "set-impi", "NODE-ID IMPI", "method gba: the IMPI the BSF must report (\"\" clears)",
	  ctl_node_set_impi },
	{ "assoc", "list", "[--node NODE-ID] [--json]", "list associations (key ID, expiry, state)",
	  ctl_assoc_list },
	{ "assoc", "revoke", "KCID|KEY-ID", "revoke one association", ctl_assoc_revoke },
	{ "assoc", "purge", "", "delete expired associations", ctl_assoc_purge },
	{ "peer-key", "show", "KEY-ID", "show one pairwise end-to-end key (never key bytes)",
	  ctl_peer_key_show },
	{ "peer-key", "revoke", "KEY-ID",
	  "revoke a pairwise key: refused to resolutions at once, dropped by agents at their next check",
	  ctl_peer_key_revoke },
	{ "policy", "sign",
	  "--pcrs sha256:0,2,4,7 --pcr-values FILE --key signer.key --epoch N --out FILE",
	  "sign a PCR policy for nodes whose Km names the signer (--policy-signer)",
	  ctl_policy_sign },
};

/* m2masctl.c: the usage text, built from ctl_commands[]. */
void ctl_usage(FILE *f);

/* ctl-store.c: the store the global options name. */
/*
 * Fill in store_path (backend, password_file), master_key_path and fqdn from the
 * configuration file as needed.
 */
int ctl_resolve_paths(struct ctl *c);
/* The store_config for store_path (points into c; err may be NULL). */
void ctl_store_config(const struct ctl *c, struct store_config *ret, char *err, size_t err_len);
/* Open the existing store: CLI_EXIT_OK and *ret, or the exit status after a message. */
int ctl_open(struct ctl *c, struct store **ret);
/*
 * Messages for store_open's and the node functions' errors; return CLI_EXIT_FAILURE.
 * detail: the backend's own words (libpq's message) or NULL.
 */
int ctl_report_open_error(const struct ctl *c, int r, const char *detail);
int ctl_report_node_error(const struct ctl *c, const char *node_id, const char *action, int r);

/* ctl-args.c: parsing and formatting the commands share. */
/*
 * getopt_long over argv (argv[0] is the command word). Returns the option, -1
 * at the end, or '?' after printing a usage message.
 */
int ctl_next_opt(const struct ctl *c, int argc, char **argv, const struct option *opts);
/*
 * Options of a command that takes none but --help, and at most max_args arguments:
 * CLI_EXIT_OK to go on, -1 after printing the usage (exit 0), or CLI_EXIT_USAGE
 * after a message.
 */
int ctl_parse_no_opts(struct ctl *c, int argc, char **argv, int max_args);
/* --json (and --node when node is not NULL), with the same returns. */
int ctl_parse_list_opts(struct ctl *c, int argc, char **argv, bool *json, const char **node);
/* CLI_EXIT_OK if id is a valid CSE-ID, else a usage message naming what and the form. */
int ctl_check_id(const struct ctl *c, const char *what, const char *id);
/* "psk,pki" -> the method codes; -EINVAL for an unknown, repeated or empty list. */
int ctl_parse_methods(const char *value, uint8_t methods[static WIRE_METHODS_MAX], size_t *ret_n);
void ctl_format_time(uint64_t t, char buf[static 32]);
void ctl_format_duration(uint64_t s, char buf[static 32]);
void ctl_format_methods(const uint8_t *m, size_t n, char buf[static 64]);
/* "active", "expired" or "revoked". */
const char *ctl_assoc_state(const struct store_assoc *a, uint64_t now);

/* Listing state shared by node list/show and assoc list. */
struct ctl_list {
	bool json;
	size_t count;
	uint64_t now;
	const char *fqdn;
	size_t n_active, n_expired, n_revoked;
};
/*
 * After a listing that returned r: the error ("cannot list WHAT"), or the end of
 * the JSON array, or the note NONE on stderr if nothing was listed.
 */
int ctl_list_finish(const struct ctl *c, const struct ctl_list *l, int r, const char *what,
		    const char *none);
