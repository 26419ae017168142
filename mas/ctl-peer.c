/* SPDX-License-Identifier: Apache-2.0 */
/*
 * m2masctl peer-key ...: show and revoke the pairwise end-to-end keys m2masd
 * registered (docs/protocol.md §14). A revoked key is refused to every new
 * resolution at once; agents that cached it drop it at their next check (§14.6).
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "common/hex.h"
#include "common/secret.h"
#include "mas/ctl.h"

/* "hex(id)" or "hex(id)@MAS-FQDN" -> id. */
static int parse_peer_id(const char *s, uint8_t id[static STORE_PEER_ID_LEN])
{
	const char *at = strchr(s, '@');
	size_t len = at ? (size_t)(at - s) : strlen(s);
	char hex[2 * STORE_PEER_ID_LEN + 1];

	if (len != 2 * STORE_PEER_ID_LEN || (at && at[1] == '\0'))
		return -EINVAL;
	memcpy(hex, s, len);
	hex[len] = '\0';
	return hex_decode(hex, STORE_PEER_ID_LEN, id) < 0 ? -EINVAL : 0;
}

/* Parse the one KEY-ID argument and open the store: CLI_EXIT_OK or the exit code. */
static int start(struct ctl *c, int argc, char **argv, uint8_t id[static STORE_PEER_ID_LEN],
		 struct store **ret)
{
	int r = ctl_parse_no_opts(c, argc, argv, 1);
	const char *at;

	if (r != CLI_EXIT_OK)
		return r < 0 ? CLI_EXIT_OK : r;
	if (optind == argc)
		return cli_usage_error(&c->cli, "KEY-ID is missing");
	if (parse_peer_id(argv[optind], id) < 0)
		return cli_usage_error(&c->cli, "'%s' is not a pairwise key ID (32 hex digits, "
				      "optionally followed by @MAS-FQDN)",
				   argv[optind]);
	r = ctl_open(c, ret);
	if (r != CLI_EXIT_OK)
		return r;
	/* Known once the configuration is read (not with --store and --master-key alone). */
	at = strchr(argv[optind], '@');
	if (at && c->fqdn && strcmp(at + 1, c->fqdn) != 0) {
		store_close(*ret);
		*ret = NULL;
		return cli_usage_error(&c->cli,
				       "'%s' is a pairwise key ID of the MAS %s, not of this one "
				       "(%s, [mas] fqdn): ask that MAS's m2masctl",
				       argv[optind], at + 1, c->fqdn);
	}
	return CLI_EXIT_OK;
}

int ctl_peer_key_show(struct ctl *c, int argc, char **argv)
{
	uint8_t id[STORE_PEER_ID_LEN];
	struct store_peer_key k;
	struct store *s = NULL;
	char created[32], expiry[32];
	int r = start(c, argc, argv, id, &s);

	if (r != CLI_EXIT_OK || !s)
		return r;
	r = store_peer_key_get(s, id, &k, NULL);
	store_close(s);
	if (r == -ENOENT)
		return cli_fail(&c->cli, "pairwise key '%s' not found (expired keys are purged)",
				argv[optind]);
	if (r < 0)
		return cli_fail(&c->cli, "cannot read pairwise key '%s': %s", argv[optind],
				strerror(-r));
	ctl_format_time(k.created, created);
	ctl_format_time(k.expiry, expiry);
	printf("key %s\noriginator %s on node %s\ntarget %s\ncreated %s\nexpires %s\nstate %s\n",
	       argv[optind], k.ae_id, k.node_id, k.target, created, expiry,
	       k.revoked			   ? "revoked"
	       : k.expiry <= (uint64_t)time(NULL) ? "expired"
						  : "active");
	return CLI_EXIT_OK;
}

int ctl_peer_key_revoke(struct ctl *c, int argc, char **argv)
{
	uint8_t id[STORE_PEER_ID_LEN];
	struct store *s = NULL;
	int r = start(c, argc, argv, id, &s);

	if (r != CLI_EXIT_OK || !s)
		return r;
	r = store_peer_key_revoke(s, id);
	store_close(s);
	if (r == -ENOENT)
		return cli_fail(&c->cli, "pairwise key '%s' not found", argv[optind]);
	if (r < 0)
		return cli_fail(&c->cli, "cannot revoke pairwise key '%s': %s", argv[optind],
				strerror(-r));
	fprintf(stderr, "m2masctl: pairwise key %s revoked\n", argv[optind]);
	return CLI_EXIT_OK;
}
