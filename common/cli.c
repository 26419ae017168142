/* SPDX-License-Identifier: Apache-2.0 */
/* The command-line toolkit: exit statuses, messages, argument checks. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

#include "common/cli.h"

static _printf_(2, 0) void cli_vprint(const struct cli *c, const char *fmt, va_list ap)
{
	bool has_cmd = c->cmd && c->cmd[0];

	fprintf(stderr, "%s%s%s: ", c->tool, has_cmd ? " " : "", has_cmd ? c->cmd : "");
	vfprintf(stderr, fmt, ap);
}

int cli_fail(const struct cli *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cli_vprint(c, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CLI_EXIT_FAILURE;
}

int cli_usage_error(const struct cli *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cli_vprint(c, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see %s --help)\n", c->tool);
	return CLI_EXIT_USAGE;
}

int cli_no_more_args(const struct cli *c, int argc, char **argv, int first)
{
	if (first >= argc)
		return CLI_EXIT_OK;
	return cli_usage_error(c, "unexpected argument '%s'", argv[first]);
}
