/* SPDX-License-Identifier: Apache-2.0 */
/* m2masctl assoc ...: list, revoke and purge the associations m2masd registered. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "common/hex.h"
#include "common/json.h"
#include "mas/ctl.h"

static int list_assoc_cb(const struct store_assoc *a, void *userdata)
{
	struct ctl_list *l = userdata;
	char kcid[2 * STORE_KCID_LEN + 1], created[32], expiry[32];

	hex_encode(a->kcid, STORE_KCID_LEN, kcid);
	ctl_format_time(a->created, created);
	ctl_format_time(a->expiry, expiry);
	if (l->json) {
		printf("%s\n  {\"kcid\":\"%s\"", l->count ? "," : "", kcid);
		if (l->fqdn) {
			char key_id[2 * STORE_KCID_LEN + 2 + 256];

			/* One JSON string (the fqdn used to be written quoted inside it). */
			snprintf(key_id, sizeof(key_id), "%s@%s", kcid, l->fqdn);
			printf(",\"key_id\":");
			json_write_string(stdout, key_id);
			printf(",");
		} else {
			printf(",");
		}
		printf("\"node_id\":");
		json_write_string(stdout, a->node_id);
		printf(",\"target_id\":");
		json_write_string(stdout, a->target_id);
		printf(",\"method\":\"%s\",\"created\":%llu,\"expiry\":%llu,\"state\":\"%s\"}",
		       wire_method_to_string(a->method), (unsigned long long)a->created,
		       (unsigned long long)a->expiry, ctl_assoc_state(a, l->now));
	} else {
		if (l->count == 0)
			printf("%-32s %-24s %-20s %-6s %-20s %-20s %s\n", "KCID", "NODE", "TARGET",
			       "METHOD", "CREATED", "EXPIRY", "STATE");
		printf("%-32s %-24s %-20s %-6s %-20s %-20s %s\n", kcid, a->node_id,
		       a->target_id[0] ? a->target_id : "-", wire_method_to_string(a->method),
		       created, expiry, ctl_assoc_state(a, l->now));
	}
	l->count++;
	return 0;
}

int ctl_assoc_list(struct ctl *c, int argc, char **argv)
{
	struct ctl_list l = { .now = (uint64_t)time(NULL) };
	struct store_node n;
	const char *node = NULL;
	struct store *s = NULL;
	int r;

	r = ctl_parse_list_opts(c, argc, argv, &l.json, &node);
	if (r != CLI_EXIT_OK)
		return r < 0 ? CLI_EXIT_OK : r;
	if (optind != argc)
		return cli_no_more_args(&c->cli, argc, argv, optind);
	if (node && ctl_check_id(c, "node ID", node) != 0)
		return CLI_EXIT_USAGE;
	r = ctl_open(c, &s);
	if (r != CLI_EXIT_OK)
		return r;
	l.fqdn = c->fqdn;
	r = node ? store_node_get(s, node, &n) : 0;
	if (r < 0) {
		store_close(s);
		return ctl_report_node_error(c, node, "list the associations of", r);
	}
	if (l.json)
		printf("[");
	r = store_assoc_foreach(s, node, list_assoc_cb, &l);
	store_close(s);
	return ctl_list_finish(c, &l, r, "associations", "no associations");
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

int ctl_assoc_revoke(struct ctl *c, int argc, char **argv)
{
	uint8_t kcid[STORE_KCID_LEN];
	struct store *s = NULL;
	int r;

	r = ctl_parse_no_opts(c, argc, argv, 1);
	if (r != CLI_EXIT_OK)
		return r < 0 ? CLI_EXIT_OK : r;
	if (optind == argc)
		return cli_usage_error(&c->cli, "KCID or KEY-ID is missing");
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

int ctl_assoc_purge(struct ctl *c, int argc, char **argv)
{
	struct store *s = NULL;
	int r;

	r = ctl_parse_no_opts(c, argc, argv, 0);
	if (r != CLI_EXIT_OK)
		return r < 0 ? CLI_EXIT_OK : r;
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
