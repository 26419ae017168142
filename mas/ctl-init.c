/* SPDX-License-Identifier: Apache-2.0 */
/*
 * m2masctl init: create the master key file and an empty store (the schema at
 * this version); m2masctl migrate: bring an existing store's schema up to it.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "common/secret.h"
#include "mas/ctl.h"
#include "mas/keyfile.h"

int ctl_init(struct ctl *c, int argc, char **argv)
{
	_cleanup_secret_ struct secret *mk = NULL;
	struct store_config sc;
	struct store *s = NULL;
	char detail[256];
	int version = 0, r;

	r = ctl_parse_no_opts(c, argc, argv, 0);
	if (r != CLI_EXIT_OK)
		return r < 0 ? CLI_EXIT_OK : r;
	r = ctl_resolve_paths(c);
	if (r != CLI_EXIT_OK)
		return r;
	ctl_store_config(c, &sc, detail, sizeof(detail));
	if (c->backend == STORE_BACKEND_SQLITE) {
		if (access(c->store_path, F_OK) == 0)
			return cli_fail(&c->cli, "store %s already exists; refusing to overwrite it",
				    c->store_path);
	} else {
		r = store_probe(&sc, &version);
		if (r < 0)
			return ctl_report_open_error(c, r, detail);
		if (version > 0)
			return cli_fail(&c->cli, "store %s already exists (schema version %d); refusing "
				    "to overwrite it (another machine's m2masd: copy its master key "
				    "instead)",
				    c->store_path, version);
	}
	r = mas_master_key_create(c->master_key_path);
	if (r == -EEXIST)
		return cli_fail(&c->cli, "master key file %s already exists; refusing to overwrite it (a "
			    "store encrypted under it would become unreadable)",
			    c->master_key_path);
	if (r < 0)
		return cli_fail(&c->cli, "cannot create master key file %s: %s (does its folder exist?)",
			    c->master_key_path, strerror(-r));
	r = mas_master_key_load(c->master_key_path, &mk);
	if (r >= 0)
		r = store_open_config(&sc, mk->data, STORE_OPEN_CREATE, &s);
	if (r < 0) {
		(void)unlink(c->master_key_path);
		if (r == -ENOENT && c->backend == STORE_BACKEND_SQLITE)
			return cli_fail(&c->cli, "cannot create store %s: its folder does not exist",
				    c->store_path);
		return ctl_report_open_error(c, r, detail);
	}
	store_close(s);
	fprintf(stderr,
		"m2masctl: created master key %s (mode 0600) and store %s (%s, schema version %d)\n"
		"m2masctl: back up the master key: without it no key in the store can be read\n",
		c->master_key_path, c->store_path, store_backend_to_string(c->backend),
		STORE_SCHEMA_VERSION);
	return CLI_EXIT_OK;
}

int ctl_migrate(struct ctl *c, int argc, char **argv)
{
	_cleanup_secret_ struct secret *mk = NULL;
	struct store_config sc;
	struct store *s = NULL;
	char detail[256];
	int before = 0, r;

	r = ctl_parse_no_opts(c, argc, argv, 0);
	if (r != CLI_EXIT_OK)
		return r < 0 ? CLI_EXIT_OK : r;
	r = ctl_resolve_paths(c);
	if (r != CLI_EXIT_OK)
		return r;
	if (c->backend == STORE_BACKEND_SQLITE && access(c->store_path, F_OK) < 0)
		return cli_fail(&c->cli, "store %s does not exist (run m2masctl init)", c->store_path);
	ctl_store_config(c, &sc, detail, sizeof(detail));
	r = store_probe(&sc, &before);
	if (r < 0)
		return ctl_report_open_error(c, r, detail);
	if (before == 0)
		return ctl_report_open_error(c, -ENODATA, NULL);
	r = mas_master_key_load(c->master_key_path, &mk);
	if (r < 0)
		return cli_fail(&c->cli, "cannot read master key file %s: %s", c->master_key_path,
			    strerror(-r));
	r = store_open_config(&sc, mk->data, STORE_OPEN_MIGRATE, &s);
	if (r < 0)
		return ctl_report_open_error(c, r, detail);
	store_close(s);
	if (before == STORE_SCHEMA_VERSION)
		printf("store %s: schema version %d, nothing to migrate\n", c->store_path, before);
	else
		printf("store %s: schema migrated from version %d to %d\n", c->store_path, before,
		       STORE_SCHEMA_VERSION);
	return CLI_EXIT_OK;
}
