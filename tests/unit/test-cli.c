/* SPDX-License-Identifier: Apache-2.0 */
/* common/cli: exit statuses, messages and the unexpected-argument check. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cli.h"

Test(cli, exit_statuses_are_the_documented_ones)
{
	cr_assert_eq(CLI_EXIT_OK, 0);
	cr_assert_eq(CLI_EXIT_FAILURE, 1);
	cr_assert_eq(CLI_EXIT_USAGE, 2);
}

/* Run f with stderr sent to a temporary file; return what it wrote (caller frees). */
static char *capture_stderr(int (*f)(void), int *ret_status)
{
	FILE *tmp = tmpfile();
	int saved = dup(STDERR_FILENO);
	char *buf = calloc(1, 1024);

	cr_assert(tmp && saved >= 0 && buf);
	fflush(stderr);
	cr_assert_geq(dup2(fileno(tmp), STDERR_FILENO), 0);
	*ret_status = f();
	fflush(stderr);
	cr_assert_geq(dup2(saved, STDERR_FILENO), 0);
	close(saved);
	rewind(tmp);
	buf[fread(buf, 1, 1023, tmp)] = '\0';
	fclose(tmp);
	return buf;
}

static const struct cli tool_cmd = { .tool = "m2masctl", .cmd = "node add" };
static const struct cli tool_only = { .tool = "m2masctl", .cmd = "" };

static int fail_with_cmd(void)
{
	return cli_fail(&tool_cmd, "node '%s' not found", "/x");
}

static int fail_without_cmd(void)
{
	return cli_fail(&tool_only, "out of %s", "memory");
}

static int usage_with_cmd(void)
{
	return cli_usage_error(&tool_cmd, "NODE-ID is missing");
}

static int extra_argument(void)
{
	char *argv[] = { "add", "/n1", "surplus", NULL };

	cr_assert_eq(cli_no_more_args(&tool_cmd, 2, argv, 2), CLI_EXIT_OK, "no extra argument");
	return cli_no_more_args(&tool_cmd, 3, argv, 2);
}

Test(cli, messages_name_tool_and_command)
{
	int status;
	char *err;

	err = capture_stderr(fail_with_cmd, &status);
	cr_assert_eq(status, CLI_EXIT_FAILURE);
	cr_assert_str_eq(err, "m2masctl node add: node '/x' not found\n");
	free(err);
	err = capture_stderr(fail_without_cmd, &status);
	cr_assert_eq(status, CLI_EXIT_FAILURE);
	cr_assert_str_eq(err, "m2masctl: out of memory\n");
	free(err);
	err = capture_stderr(usage_with_cmd, &status);
	cr_assert_eq(status, CLI_EXIT_USAGE);
	cr_assert_str_eq(err, "m2masctl node add: NODE-ID is missing (see m2masctl --help)\n");
	free(err);
}

Test(cli, unexpected_argument_is_a_usage_error_naming_it)
{
	int status;
	char *err = capture_stderr(extra_argument, &status);

	cr_assert_eq(status, CLI_EXIT_USAGE);
	cr_assert_str_eq(err, "m2masctl node add: unexpected argument 'surplus' (see m2masctl --help)\n");
	free(err);
}
