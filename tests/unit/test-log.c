/* SPDX-License-Identifier: Apache-2.0 */
/* common/log.c: the daemons' --log-target and --log-level values, and their defaults. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

Test(log, target_names)
{
	enum log_target t = _LOG_TARGET_MAX;

	cr_assert_eq(log_target_from_string("stderr", &t), 0);
	cr_assert_eq(t, LOG_TARGET_STDERR);
	cr_assert_eq(log_target_from_string("journal", &t), 0);
	cr_assert_eq(t, LOG_TARGET_JOURNAL);
	cr_assert_eq(log_target_from_string("syslog", &t), -EINVAL);
	cr_assert_eq(log_target_from_string(NULL, &t), -EINVAL);
	cr_assert_eq(t, LOG_TARGET_JOURNAL);
}

Test(log, daemon_setup_takes_the_level_given_or_info)
{
	enum log_level l = _LOG_LEVEL_MAX;
	char err[256] = "";

	cr_assert_eq(log_setup_daemon("test", "stderr", "debug", &l, err, sizeof(err)), 0);
	cr_assert_eq(l, LOG_LEVEL_DEBUG);
	cr_assert_eq(log_setup_daemon("test", NULL, NULL, &l, err, sizeof(err)), 0);
	cr_assert_eq(l, LOG_LEVEL_INFO);
	cr_assert_str_empty(err);
}

Test(log, daemon_setup_names_an_unknown_value)
{
	enum log_level l = LOG_LEVEL_NOTICE;
	char err[256] = "";

	cr_assert_eq(log_setup_daemon("test", "syslog", "debug", &l, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "unknown log target 'syslog' (use stderr or journal)");
	cr_assert_eq(log_setup_daemon("test", "journal", "loud", &l, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err,
			 "unknown log level 'loud' (use error, warning, notice, info or debug)");
	cr_assert_eq(l, LOG_LEVEL_NOTICE);
}
