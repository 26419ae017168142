/* SPDX-License-Identifier: Apache-2.0 */
/* mas/connbudget.c: per-source open caps, connection rates, bounded table. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "mas/connbudget.h"

static struct mas_connbudget *b;

static void fini(void)
{
	mas_connbudget_free(b);
	b = NULL;
}

TestSuite(connbudget, .fini = fini);

Test(connbudget, open_cap_per_source)
{
	cr_assert_eq(mas_connbudget_new(64, &b), 0);
	mas_connbudget_set_limits(b, 3, 0);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(mas_connbudget_open(b, "192.0.2.1", 0), 0);
	cr_assert_eq(mas_connbudget_open(b, "192.0.2.1", 0), -EMFILE);
	/* Another source has its own budget. */
	cr_assert_eq(mas_connbudget_open(b, "192.0.2.2", 0), 0);
	mas_connbudget_close(b, "192.0.2.1");
	cr_assert_eq(mas_connbudget_n_open(b, "192.0.2.1"), 2);
	cr_assert_eq(mas_connbudget_open(b, "192.0.2.1", 0), 0);
}

Test(connbudget, rate_is_a_two_second_bucket)
{
	cr_assert_eq(mas_connbudget_new(64, &b), 0);
	mas_connbudget_set_limits(b, 0, 5);
	for (int i = 0; i < 10; i++) {
		cr_assert_eq(mas_connbudget_open(b, "192.0.2.1", 1000), 0, "connection %d", i);
		mas_connbudget_close(b, "192.0.2.1");
	}
	cr_assert_eq(mas_connbudget_open(b, "192.0.2.1", 1000), -EAGAIN);
	/* 200 ms later: one more (5 a second). */
	cr_assert_eq(mas_connbudget_open(b, "192.0.2.1", 1200), 0);
	cr_assert_eq(mas_connbudget_open(b, "192.0.2.1", 1200), -EAGAIN);
}

Test(connbudget, successful_connections_give_their_token_back)
{
	cr_assert_eq(mas_connbudget_new(64, &b), 0);
	mas_connbudget_set_limits(b, 0, 1);
	for (int i = 0; i < 100; i++) {
		cr_assert_eq(mas_connbudget_open(b, "192.0.2.1", 0), 0, "connection %d", i);
		mas_connbudget_refund(b, "192.0.2.1");
		mas_connbudget_close(b, "192.0.2.1");
	}
	/* Two without a refund use up the two-second bucket. */
	cr_assert_eq(mas_connbudget_open(b, "192.0.2.1", 0), 0);
	cr_assert_eq(mas_connbudget_open(b, "192.0.2.1", 0), 0);
	cr_assert_eq(mas_connbudget_open(b, "192.0.2.1", 0), -EAGAIN);
}

Test(connbudget, table_is_bounded_and_busy_sources_are_kept)
{
	char key[MAS_SOURCE_MAX];
	int refused = 0;

	cr_assert_eq(mas_connbudget_new(16, &b), 0);
	mas_connbudget_set_limits(b, 2, 0);
	cr_assert_eq(mas_connbudget_open(b, "192.0.2.1", 0), 0);
	cr_assert_eq(mas_connbudget_open(b, "192.0.2.1", 0), 0);
	/* Many sources that each hold a connection: some are refused, none evicts 192.0.2.1. */
	for (int i = 0; i < 100; i++) {
		snprintf(key, sizeof(key), "198.51.100.%d", i);
		if (mas_connbudget_open(b, key, 1) == -ENOSPC)
			refused++;
	}
	cr_assert_gt(refused, 0);
	cr_assert_eq(mas_connbudget_n_open(b, "192.0.2.1"), 2);
	cr_assert_eq(mas_connbudget_open(b, "192.0.2.1", 2), -EMFILE);
}

Test(connbudget, ipv6_counts_per_64_and_mapped_ipv4_as_ipv4)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	char a[MAS_SOURCE_MAX], c[MAS_SOURCE_MAX];

	in6->sin6_family = AF_INET6;
	cr_assert_eq(inet_pton(AF_INET6, "2001:db8:1:2:aaaa::1", &in6->sin6_addr), 1);
	mas_source_of(&ss, a);
	cr_assert_eq(inet_pton(AF_INET6, "2001:db8:1:2:bbbb::7", &in6->sin6_addr), 1);
	mas_source_of(&ss, c);
	cr_assert_str_eq(a, "2001:db8:1:2::/64");
	cr_assert_str_eq(a, c);
	cr_assert_eq(inet_pton(AF_INET6, "::ffff:192.0.2.9", &in6->sin6_addr), 1);
	mas_source_of(&ss, a);
	cr_assert_str_eq(a, "192.0.2.9");
}
