/* SPDX-License-Identifier: Apache-2.0 */
/* m2masctl init: create the master key file and an empty store. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/secret.h"
#include "mas/ctl.h"
#include "mas/keyfile.h"

int ctl_init(struct ctl *c, int argc, char **argv)
{
	_cleanup_secret_ struct secret *mk = NULL;
	struct store *s = NULL;
	struct stat st;
	int r;

	r = ctl_parse_no_opts(c, argc, argv, 0);
	if (r != CLI_EXIT_OK)
		return r < 0 ? CLI_EXIT_OK : r;
	r = ctl_resolve_paths(c);
	if (r != CLI_EXIT_OK)
		return r;
	if (stat(c->store_path, &st) == 0)
		return cli_fail(&c->cli, "store %s already exists; refusing to overwrite it", c->store_path);
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
		r = store_open(c->store_path, mk->data, &s);
	if (r < 0) {
		(void)unlink(c->master_key_path);
		if (r == -ENOENT)
			return cli_fail(&c->cli, "cannot create store %s: its folder does not exist",
				    c->store_path);
		return ctl_report_open_error(c, r);
	}
	store_close(s);
	fprintf(stderr,
		"m2masctl: created master key %s (mode 0600) and store %s\n"
		"m2masctl: back up the master key: without it no key in the store can be read\n",
		c->master_key_path, c->store_path);
	return CLI_EXIT_OK;
}
