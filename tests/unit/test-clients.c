/* SPDX-License-Identifier: Apache-2.0 */
/* clients.d (agent/clients.c): who may act as which AE, the CSE, or an admin; file errors. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/clients.h"

static char dir[] = "/tmp/m2msa-clients-XXXXXX";

static void put(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

static void setup(void)
{
	strcpy(dir, "/tmp/m2msa-clients-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	(void)!system(cmd);
}

TestSuite(clients, .init = setup, .fini = teardown);

static struct clients_peer peer(uid_t uid, gid_t gid)
{
	return (struct clients_peer){ .pid = 1, .uid = uid, .gid = gid };
}

Test(clients, uid_and_group_rules)
{
	struct clients *c = NULL;
	struct m2msa_err err = { .wire_code = 0 };
	struct clients_peer app = peer(1001, 1001), other = peer(1002, 1002), grp = peer(1003, 1003);

	put("app.conf", "[client]\nuid = 1001\nae = Cae1, Cae2\n");
	put("cse.conf", "[client]\ngroup = root\ncse = yes\n"); /* gid 0 */
	cr_assert_eq(clients_load(dir, &c, &err), 0, "%s", err.msg);
	cr_expect_eq(clients_count(c), 2);
	cr_expect(clients_may_act_as(c, &app, "Cae1"));
	cr_expect(clients_may_act_as(c, &app, "Cae2"));
	cr_expect_not(clients_may_act_as(c, &app, "Cae3"), "another AE");
	cr_expect_not(clients_may_act_as(c, &app, ""), "the CSE");
	cr_expect_not(clients_may_act_as(c, &app, "Cae"), "a prefix of an AE-ID");
	cr_expect_not(clients_may_act_as(c, &other, "Cae1"), "another uid");
	cr_expect_not(clients_is_admin(c, &app));
	/* The group rule matches the primary gid or a supplementary group. */
	grp.groups[0] = 0;
	grp.n_groups = 1;
	cr_expect(clients_may_act_as(c, &grp, NULL));
	cr_expect_not(clients_may_act_as(c, &grp, "Cae1"));
	cr_expect(clients_may_act_as(c, &(struct clients_peer){ .uid = 5, .gid = 0 }, ""));
	/* root may do everything. */
	cr_expect(clients_may_act_as(c, &(struct clients_peer){ .uid = 0, .gid = 0 }, "Cae9"));
	cr_expect(clients_is_admin(c, &(struct clients_peer){ .uid = 0, .gid = 0 }));
	clients_free(c);
}

Test(clients, admin_flag_and_missing_dir)
{
	struct clients *c = NULL;
	struct m2msa_err err = { .wire_code = 0 };
	char missing[300];
	struct clients_peer op = peer(1005, 1005);

	put("ops.conf", "[client]\nuid = 1005\nadmin = yes\n");
	cr_assert_eq(clients_load(dir, &c, &err), 0, "%s", err.msg);
	cr_expect(clients_is_admin(c, &op));
	cr_expect_not(clients_may_act_as(c, &op, "Cae1"), "admin does not mean any AE");
	clients_free(c);
	snprintf(missing, sizeof(missing), "%s/nope", dir);
	cr_assert_eq(clients_load(missing, &c, &err), 0, "a missing dir is no policy");
	cr_expect_eq(clients_count(c), 0);
	cr_expect_not(clients_may_act_as(c, &op, "Cae1"));
	clients_free(c);
}

Test(clients, errors_name_file_line_and_key)
{
	static const struct {
		const char *text, *want;
	} bad[] = {
		{ "[client]\nuid = 1\nae = Cae1\nfoo = 1\n", "bad.conf:4: unknown key 'foo' in section [client]" },
		{ "[client]\nuid = 1\nuser = root\nae = x\n", "bad.conf:3: invalid value for 'user' in [client]: only one of" },
		{ "[client]\nuser = no-such-user-m2msa\nae = x\n", "bad.conf:2: invalid value for 'user' in [client]: no such user" },
		{ "[client]\nuid = 1\nae = C@1\n", "bad.conf:3: invalid value for 'ae' in [client]: 'C@1' is not an AE-ID" },
		{ "[client]\nuid = x\nae = a\n", "bad.conf:2: invalid value for 'uid'" },
		{ "[client]\nae = Cae1\n", "bad.conf: [client] needs one of user=, uid= or group=" },
		{ "[client]\nuid = 1\n", "bad.conf: the client is granted nothing" },
		{ "[clients]\nuid = 1\n", "bad.conf:1: unknown section [clients]" },
		{ "[client]\nuid = 1\nae = a\ntargets = Cae2\n", "bad.conf:4: invalid value for 'targets' in [client]: 'Cae2' is not a target (an absolute AE-ID" },
		{ "[client]\nuid = 1\nae = a\ntargets = /mn-cse-2/C*\n", "'/mn-cse-2/C*' is not a target" },
		{ "[client]\nuid = 1\nae = a\ntargets = /*\n", "'/*' is not a target" },
		{ "[client]\nuid = 1\nae = a\ntargets = /mn-cse-2/C@2\n", "'/mn-cse-2/C@2' is not a target" },
		{ "[client]\nuid = 1\ncse = yes\ntargets = /mn-cse-2/Cae2\n", "bad.conf: targets= restricts the AEs of ae=, but the file has no ae=" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct clients *c = NULL;
		struct m2msa_err err = { .wire_code = 0 };

		put("bad.conf", bad[i].text);
		cr_expect_eq(clients_load(dir, &c, &err), -EINVAL, "case %zu", i);
		cr_expect_not_null(strstr(err.msg, bad[i].want), "case %zu: '%s' lacks '%s'", i, err.msg,
				   bad[i].want);
		cr_expect_null(c);
	}
}

/* targets=: exact absolute AE-IDs and CSE wildcards; no targets= is any target. */
Test(clients, targets_restrict_pairwise_keys)
{
	struct clients *c = NULL;
	struct m2msa_err err = { .wire_code = 0 };
	struct clients_peer app = peer(1001, 1001), free_app = peer(1002, 1002),
			    root = peer(0, 0), unlisted = peer(1003, 1003);

	put("app.conf", "[client]\nuid = 1001\nae = Cae1\n"
			"targets = /mn-cse-2/Cae2, /mn-cse-3/*\n");
	put("free.conf", "[client]\nuid = 1002\nae = Cae1\n");
	cr_assert_eq(clients_load(dir, &c, &err), 0, "%s", err.msg);
	cr_expect(clients_may_target(c, &app, "Cae1", "/mn-cse-2/Cae2"));
	cr_expect_not(clients_may_target(c, &app, "Cae1", "/mn-cse-2/Cae3"), "another AE");
	cr_expect_not(clients_may_target(c, &app, "Cae1", "/mn-cse-2/Cae22"), "a longer AE-ID");
	cr_expect(clients_may_target(c, &app, "Cae1", "/mn-cse-3/Cany"));
	cr_expect_not(clients_may_target(c, &app, "Cae1", "/mn-cse-33/Cany"), "a longer CSE-ID");
	cr_expect_not(clients_may_target(c, &app, "Cae1", "/mn-cse-3/sub/Cany"),
		      "a CSE-ID below the pattern's");
	cr_expect_not(clients_may_target(c, &app, "Cae1", "/mn-cse-9/Cae2"), "another CSE");
	cr_expect_not(clients_may_target(c, &app, "Cae9", "/mn-cse-2/Cae2"), "an AE it is not");
	cr_expect(clients_may_target(c, &free_app, "Cae1", "/mn-cse-9/Cae2"), "no targets=");
	cr_expect(clients_may_target(c, &root, "Cx", "/mn-cse-9/Cae2"), "root");
	cr_expect_not(clients_may_target(c, &unlisted, "Cae1", "/mn-cse-2/Cae2"),
		      "an unlisted uid");
	clients_free(c);
}
