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
#include "mas/store.h"

int ctl_resolve_paths(struct ctl *c)
{
	struct mas_conf conf = { 0 };
	struct store_config sc;
	char err[CONF_ERR_MAX] = "";
	int r;

	if (c->store_path)
		c->backend = store_backend_for_location(c->store_path);
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
	mas_conf_store_config(&conf, &sc);
	if (!c->store_path) {
		c->store_path = strdup(sc.location);
		c->backend = sc.backend;
	}
	if (c->backend == STORE_BACKEND_POSTGRESQL && conf.store_password_file) {
		c->password_file = conf.store_password_file;
		conf.store_password_file = NULL;
	}
	if (!c->master_key_path) {
		c->master_key_path = conf.master_key;
		conf.master_key = NULL;
	}
	c->fqdn = conf.fqdn;
	conf.fqdn = NULL;
	mas_conf_free(&conf);
	if (!c->store_path)
		return cli_fail(&c->cli, "out of memory");
	return 0;
}

void ctl_store_config(const struct ctl *c, struct store_config *ret, char *err, size_t err_len)
{
	*ret = (struct store_config){
		.backend = c->backend,
		.location = c->store_path,
		.password_file = c->password_file,
		.application_name = "m2masctl",
		.err = err,
		.err_len = err_len,
	};
	if (err && err_len)
		err[0] = '\0';
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

int ctl_report_open_error(const struct ctl *c, int r, const char *detail)
{
	const char *d = detail && detail[0] ? detail : strerror(-r);

	switch (r) {
	case -EIO:
		return cli_fail(&c->cli, "%s is not an m2msa store (not an %s, or damaged)",
			    c->store_path,
			    c->backend == STORE_BACKEND_SQLITE ? "SQLite database" : "m2msa database");
	case -EPROTO:
		return cli_fail(&c->cli, "%s has an unknown schema (made by another program or a newer "
			    "m2msa version)",
			    c->store_path);
	case -ESTALE:
		return cli_fail(&c->cli, "%s has an older schema; run m2masctl migrate", c->store_path);
	case -ENODATA:
		return cli_fail(&c->cli, "%s holds no store yet (run m2masctl init)", c->store_path);
	case -EKEYREJECTED:
		return cli_fail(&c->cli, "the master key in %s does not belong to the store %s (wrong key "
			    "file?)",
			    c->master_key_path, c->store_path);
	case -EACCES:
	case -EPERM:
		if (c->backend == STORE_BACKEND_POSTGRESQL)
			return cli_fail(&c->cli, "cannot open store %s: %s (check the role, [store] "
				    "password_file and pg_hba.conf)",
				    c->store_path, d);
		return cli_fail(&c->cli, "cannot open store %s: %s (run m2masctl as the user m2masd runs "
			    "as, or root)",
			    c->store_path, strerror(-r));
	case -ECONNREFUSED:
	case -EHOSTUNREACH:
	case -ETIMEDOUT:
	case -ECONNRESET:
		return cli_fail(&c->cli, "cannot reach the database of store %s: %s (is the server "
			    "running? check [store] conninfo)",
			    c->store_path, d);
	case -ENOTCONN:
		return cli_fail(&c->cli, "cannot connect to the database of store %s: %s (check "
			    "[store] conninfo: host name, port, sslmode and the CA)",
			    c->store_path, d);
	case -EBUSY:
		return cli_fail(&c->cli, "store %s is locked by another process; try again",
			    c->store_path);
	default:
		return cli_fail(&c->cli, "cannot open store %s: %s", c->store_path, d);
	}
}


/* Open the existing store: CLI_EXIT_OK and *ret, or the exit status after a message. */
int ctl_open(struct ctl *c, struct store **ret)
{
	_cleanup_secret_ struct secret *mk = NULL;
	struct store_config sc;
	char detail[256];
	struct stat st;
	int r;

	r = ctl_resolve_paths(c);
	if (r != CLI_EXIT_OK)
		return r;
	if (c->backend == STORE_BACKEND_SQLITE && stat(c->store_path, &st) < 0) {
		if (errno == ENOENT)
			return cli_fail(&c->cli, "store %s does not exist (run m2masctl init, or check [store] "
				    "path)",
				    c->store_path);
		return cli_fail(&c->cli, "cannot access store %s: %s", c->store_path, strerror(errno));
	}
	r = mas_master_key_load(c->master_key_path, &mk);
	if (r < 0)
		return report_key_error(c, r);
	ctl_store_config(c, &sc, detail, sizeof(detail));
	r = store_open_config(&sc, mk->data, 0, ret);
	if (r < 0)
		return ctl_report_open_error(c, r, detail);
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
	case -ENOKEY:
		return cli_fail(&c->cli, "cannot %s node '%s': it was registered without Km (method gba "
			    "only), so method psk has no key to prove with; keep it gba-only, or "
			    "delete it and add it again with --km-file FILE or --generate-km",
			    action, node_id);
	case -EBUSY:
		return cli_fail(&c->cli, "cannot %s node '%s': the store is locked by another process; "
			    "try again",
			    action, node_id);
	default:
		return cli_fail(&c->cli, "cannot %s node '%s': %s", action, node_id, strerror(-r));
	}
}
