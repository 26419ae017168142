/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The command-line toolkit the administration tools (m2masctl, m2msactl) share:
 * one set of exit statuses, one way to print "TOOL CMD: message" on stderr, the
 * unexpected-argument check. Only command-line tools link it; it is the one place
 * in common/ that prints. JSON output goes through common/json.h.
 *
 * Exit statuses (documented in docs/m2masctl.md and docs/m2msactl.md):
 *   0 CLI_EXIT_OK       done
 *   1 CLI_EXIT_FAILURE  the operation failed; stderr names the thing and the fix
 *   2 CLI_EXIT_USAGE    bad command line (unknown command or option, missing or
 *                       extra argument, malformed value); nothing was changed
 */
#pragma once

#include <stdio.h>

#include "common/util.h"

#define CLI_EXIT_OK 0
#define CLI_EXIT_FAILURE 1
#define CLI_EXIT_USAGE 2

/*
 * Who is speaking, for messages: tool "m2masctl", cmd "node add" (or NULL/"" before
 * a command is known).
 */
struct cli {
	const char *tool;
	const char *cmd;
};

/* "TOOL CMD: message" on stderr; returns CLI_EXIT_FAILURE. */
_printf_(2, 3) int cli_fail(const struct cli *c, const char *fmt, ...);
/* "TOOL CMD: message (see TOOL --help)" on stderr; returns CLI_EXIT_USAGE. */
_printf_(2, 3) int cli_usage_error(const struct cli *c, const char *fmt, ...);
/*
 * The arguments argv[first..argc) should not be there: CLI_EXIT_OK if there are
 * none, else a usage error naming argv[first], and CLI_EXIT_USAGE.
 */
int cli_no_more_args(const struct cli *c, int argc, char **argv, int first);
