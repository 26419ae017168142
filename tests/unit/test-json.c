/* SPDX-License-Identifier: Apache-2.0 */
/* common/json: JSON string quoting and escaping (RFC 8259 section 7). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"

/* json_write_string(s) as a string (caller frees). */
static char *json(const char *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cr_assert_not_null(f);
	json_write_string(f, s);
	cr_assert_eq(fclose(f), 0);
	return buf;
}

static void assert_json(const char *in, const char *want)
{
	char *got = json(in);

	cr_assert_str_eq(got, want, "input '%s'", in);
	free(got);
}

Test(json, plain_text_is_quoted)
{
	assert_json("", "\"\"");
	assert_json("/mn-cse-1", "\"/mn-cse-1\"");
}

Test(json, escapes_quotes_and_backslash)
{
	assert_json("a\"b", "\"a\\\"b\"");
	assert_json("a\\b", "\"a\\\\b\"");
	assert_json("\"\\\"", "\"\\\"\\\\\\\"\"");
}

Test(json, escapes_every_control_character)
{
	char in[2] = { 0 }, want[16];

	for (int ch = 1; ch < 0x20; ch++) {
		in[0] = (char)ch;
		snprintf(want, sizeof(want), "\"\\u%04x\"", ch);
		assert_json(in, want);
	}
	assert_json("\x7f", "\"\\u007f\"");
	assert_json("a\nb\tc", "\"a\\u000ab\\u0009c\"");
}

Test(json, passes_utf8_through)
{
	/* "é", "€" and U+1F600: 2-, 3- and 4-byte UTF-8 sequences, unchanged. */
	assert_json("caf\xc3\xa9", "\"caf\xc3\xa9\"");
	assert_json("\xe2\x82\xac 5", "\"\xe2\x82\xac 5\"");
	assert_json("\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\"");
}
