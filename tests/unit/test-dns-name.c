/* SPDX-License-Identifier: Apache-2.0 */
/* common/dns-name: the one DNS name check (label and name lengths, characters, dots). */
#include <criterion/criterion.h>
#include <string.h>

#include "common/dns-name.h"

Test(dns_name, accepts_host_names)
{
	cr_assert(dns_name_valid("mas.example.net"));
	cr_assert(dns_name_valid("localhost"));
	cr_assert(dns_name_valid("BSF-1.Example.COM"));
	cr_assert(dns_name_valid("0.a"));
}

Test(dns_name, refuses_empty_labels_and_other_characters)
{
	static const char *const bad[] = {
		"", ".", "a..b", ".a", "a.", "a b", "a_b.example", "a@b", "bsf.example.com:443",
		"caf\xc3\xa9.example",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_not(dns_name_valid(bad[i]), "'%s' passed", bad[i]);
}

Test(dns_name, limits_labels_to_63_and_names_to_253_characters)
{
	char name[300];

	memset(name, 'a', 63);
	name[63] = '\0';
	cr_assert(dns_name_valid(name));
	memset(name, 'a', 64);
	name[64] = '\0';
	cr_assert_not(dns_name_valid(name));
	/* 4 labels of 63 and dots: 255 characters; cut to 253 and 254. */
	for (int i = 0; i < 4; i++) {
		memset(name + 64 * i, 'b', 63);
		name[64 * i + 63] = '.';
	}
	name[253] = '\0';
	cr_assert(dns_name_valid(name));
	name[253] = 'b';
	name[254] = '\0';
	cr_assert_not(dns_name_valid(name));
}
