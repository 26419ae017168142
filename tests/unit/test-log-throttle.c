/* SPDX-License-Identifier: Apache-2.0 */
/* common/log-throttle.c: lines a second, the count of the rest, logged once the second is over. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/log-throttle.h"
#include "common/log.h"

/* stderr into a temp file for one test, to see what was logged. */
static FILE *captured;
static int saved_fd = -1;

static void capture(void)
{
	captured = tmpfile();
	cr_assert_not_null(captured);
	fflush(stderr);
	saved_fd = dup(STDERR_FILENO);
	cr_assert_geq(dup2(fileno(captured), STDERR_FILENO), 0);
	log_setup("test", LOG_TARGET_STDERR, LOG_LEVEL_DEBUG);
}

static char *captured_text(void)
{
	static char buf[4096];
	size_t n;

	fflush(stderr);
	dup2(saved_fd, STDERR_FILENO);
	close(saved_fd);
	rewind(captured);
	n = fread(buf, 1, sizeof(buf) - 1, captured);
	buf[n] = '\0';
	fclose(captured);
	return buf;
}

Test(log_throttle, per_second_lines_then_a_count)
{
	struct log_throttle t = { .per_second = 3 };
	int ok = 0;
	char *text;

	capture();
	for (int i = 0; i < 100; i++)
		ok += log_throttle_ok(&t, 5000 + (uint64_t)i, "refusals");
	cr_assert_eq(ok, 3);
	/* Still the same second: nothing reported yet. */
	log_throttle_flush(&t, 5999, "refusals");
	/* The next second: the count of the 97 others, once. */
	cr_assert(log_throttle_ok(&t, 6000, "refusals"));
	log_throttle_flush(&t, 7000, "refusals");
	text = captured_text();
	cr_assert_not_null(strstr(text, "97 more refusals were not logged (at most 3 a second)"),
			   "%s", text);
	cr_assert_null(strstr(strstr(text, "97 more") + strlen("97 more"), "more refusals"), "%s",
		       text);
}

Test(log_throttle, flush_reports_without_a_later_line)
{
	struct log_throttle t = { .per_second = 1 };
	char *text;

	capture();
	cr_assert(log_throttle_ok(&t, 1000, "denials"));
	cr_assert_not(log_throttle_ok(&t, 1001, "denials"));
	log_throttle_flush(&t, 2500, "denials");
	text = captured_text();
	cr_assert_not_null(strstr(text, "1 more denials were not logged"), "%s", text);
}
