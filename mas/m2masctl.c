/* SPDX-License-Identifier: Apache-2.0 */
/*
 * m2masctl: the MAS administrator's tool: global options, usage and dispatch to
 * the commands in ctl.h. It works on the node store directly (m2masd reads
 * the rows again for every request, so no IPC is needed; SQLite's WAL journal and
 * busy timeout let both use the file at once, PostgreSQL is a server).
 * Exit status: common/cli.h's (0 success, 1 the operation failed, 2 bad usage).
 * Key bytes reach stdout exactly once: the Km that `node add --generate-km` made.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mas/ctl.h"
#include "mas/mas-conf.h"

/* Where the summaries start in the usage text. */
#define USAGE_COLUMN 34

void ctl_usage(FILE *f)
{
	fputs("Usage: m2masctl [--config FILE] [--store PATH] [--master-key PATH] COMMAND ...\n"
	      "\n"
	      "Commands:\n",
	      f);
	for (size_t i = 0; i < ARRAY_SIZE(ctl_commands); i++) {
		const struct ctl_command *cm = &ctl_commands[i];
		char line[512]; /* node add's synopsis is over 256 */
		int n;

		n = snprintf(line, sizeof(line), "%s%s%s%s%s", cm->group ? cm->group : "",
			     cm->group ? " " : "", cm->name, cm->synopsis[0] ? " " : "",
			     cm->synopsis);
		if (n < USAGE_COLUMN && !strchr(line, '\n'))
			fprintf(f, "  %-*s%s\n", USAGE_COLUMN, line, cm->summary);
		else
			fprintf(f, "  %s\n  %-*s%s\n", line, USAGE_COLUMN, "", cm->summary);
	}
	fputs("\n"
	      "Options:\n"
	      "  --config FILE      m2masd configuration (default " MAS_CONF_DEFAULT "); only\n"
	      "                     [store] and [mas] fqdn are used\n"
	      "  --store PATH|URL   the SQLite file, or a postgresql:// URL (password from\n"
	      "                     [store] password_file, PGPASSFILE or ~/.pgpass), instead\n"
	      "                     of [store] backend, path and conninfo\n"
	      "  --master-key PATH  the master key file, instead of [store] master_key\n"
	      "  -h, --help         this text\n"
	      "\n"
	      "Exit status: 0 success, 1 failure, 2 usage error. See docs/m2masctl.md.\n",
	      f);
}

/* The global options, before the command words. CLI_EXIT_OK to go on, -1 after --help. */
static int parse_global_opts(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "store", required_argument, NULL, 's' },
		{ "master-key", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	char **path;
	int o;

	while ((o = ctl_next_opt(c, argc, argv, opts)) != -1) {
		switch (o) {
		case 'c':
			c->config_path = optarg;
			c->config_given = true;
			continue;
		case 's':
		case 'k':
			path = o == 's' ? &c->store_path : &c->master_key_path;
			free(*path);
			*path = strdup(optarg);
			if (!*path)
				return cli_fail(&c->cli, "out of memory");
			continue;
		case 'h':
			ctl_usage(stdout);
			return -1;
		default:
			return CLI_EXIT_USAGE;
		}
	}
	return CLI_EXIT_OK;
}

static bool is_group(const char *word)
{
	for (size_t i = 0; i < ARRAY_SIZE(ctl_commands); i++)
		if (ctl_commands[i].group && strcmp(ctl_commands[i].group, word) == 0)
			return true;
	return false;
}

/* The command argv names (argv[0] the first command word), or NULL. */
static const struct ctl_command *find_command(int argc, char **argv)
{
	for (size_t i = 0; i < ARRAY_SIZE(ctl_commands); i++) {
		const struct ctl_command *cm = &ctl_commands[i];

		if (!cm->group && strcmp(argv[0], cm->name) == 0)
			return cm;
		if (cm->group && argc >= 2 && strcmp(argv[0], cm->group) == 0 &&
		    strcmp(argv[1], cm->name) == 0)
			return cm;
	}
	return NULL;
}

static int run(struct ctl *c, int argc, char **argv)
{
	const struct ctl_command *cm;
	char cmd[64];
	int r, skip;

	r = parse_global_opts(c, argc, argv);
	if (r != CLI_EXIT_OK)
		return r < 0 ? CLI_EXIT_OK : r;
	if (optind == argc) {
		ctl_usage(stderr);
		return CLI_EXIT_USAGE;
	}
	argc -= optind;
	argv += optind;
	if (strcmp(argv[0], "help") == 0) {
		ctl_usage(stdout);
		return CLI_EXIT_OK;
	}
	cm = find_command(argc, argv);
	if (!cm && is_group(argv[0]) && argc < 2)
		return cli_usage_error(&c->cli, "'%s' needs a subcommand", argv[0]);
	if (!cm)
		return cli_usage_error(&c->cli, "unknown command '%s%s%s'", argv[0],
				       is_group(argv[0]) ? " " : "",
				       is_group(argv[0]) ? argv[1] : "");
	skip = cm->group ? 1 : 0;
	snprintf(cmd, sizeof(cmd), "%s%s%s", cm->group ? cm->group : "", cm->group ? " " : "",
		 cm->name);
	c->cli.cmd = cmd;
	optind = 0; /* glibc: start a fresh scan of the new argv */
	return cm->run(c, argc - skip, argv + skip);
}

int main(int argc, char **argv)
{
	struct ctl c = { .cli = { .tool = "m2masctl", .cmd = "" }, .config_path = MAS_CONF_DEFAULT };
	int r;

	r = run(&c, argc, argv);
	free(c.store_path);
	free(c.password_file);
	free(c.master_key_path);
	free(c.fqdn);
	if (fflush(stdout) != 0 && r == CLI_EXIT_OK)
		r = cli_fail(&c.cli, "cannot write to standard output: %s", strerror(errno));
	return r;
}
