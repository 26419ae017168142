/* SPDX-License-Identifier: Apache-2.0 */
/* m2msactl: the administrator's command-line tool; dispatches to the commands in ctl.h. */
#include <stdio.h>
#include <string.h>

#include "m2msactl/ctl.h"

static void usage(FILE *f)
{
	fprintf(f, "Usage: m2msactl COMMAND [OPTIONS]\n"
		   "       m2msactl COMMAND --help\n\n"
		   "Commands:\n");
	for (size_t i = 0; i < ARRAY_SIZE(ctl_commands); i++)
		fprintf(f, "  %-14s %s\n", ctl_commands[i].name, ctl_commands[i].summary);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return CLI_EXIT_OK;
	}
	for (size_t i = 0; i < ARRAY_SIZE(ctl_commands); i++)
		if (strcmp(argv[1], ctl_commands[i].name) == 0)
			return ctl_commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "m2msactl: unknown command '%s' (see m2msactl --help)\n", argv[1]);
	return CLI_EXIT_USAGE;
}
