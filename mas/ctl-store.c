/* SPDX-License-Identifier: Apache-2.0 */
/* m2masctl: finding and opening the store the global options name, and its error messages. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/conf.h"
#include "common/secret.h"
#include "mas/ctl.h"
#include "mas/keyfile.h"
#include "mas/mas-conf.h"

int ctl_resolve_paths(struct ctl *c)
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

int ctl_report_open_error(const struct ctl *c, int r)
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
int ctl_open(struct ctl *c, struct store **ret)
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
	r = mas_master_key_load(c->master_key_path, &mk);
	if (r < 0)
		return report_key_error(c, r);
	r = store_open(c->store_path, mk->data, ret);
	if (r < 0)
		return ctl_report_open_error(c, r);
	return CLI_EXIT_OK;
}

int ctl_report_node_error(const struct ctl *c, const char *node_id, const char *action, int r)
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
