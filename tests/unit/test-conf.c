/* SPDX-License-Identifier: Apache-2.0 */
/* The INI configuration parser: good files, drop-ins, and every kind of bad file. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/conf.h"

struct cfg {
	char *name;
	char *path;
	bool flag;
	uint16_t port;
	uint32_t count;
	uint64_t lifetime;
};

static const struct conf_item items[] = {
	{ "node", "name", conf_parse_string, offsetof(struct cfg, name) },
	{ "node", "path", conf_parse_path, offsetof(struct cfg, path) },
	{ "node", "flag", conf_parse_bool, offsetof(struct cfg, flag) },
	{ "mas", "port", conf_parse_port, offsetof(struct cfg, port) },
	{ "mas", "count", conf_parse_uint32, offsetof(struct cfg, count) },
	{ "mas", "lifetime", conf_parse_duration, offsetof(struct cfg, lifetime) },
};
#define N_ITEMS (sizeof(items) / sizeof(items[0]))

static char dir[64];

static void setup(void)
{
	strcpy(dir, "/tmp/m2msa-test-conf-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

static const char *write_file(const char *name, const char *text)
{
	static char p[4][128];
	static int slot;
	char *path = p[slot++ % 4];
	FILE *f;

	snprintf(path, 128, "%s/%s", dir, name);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static void cfg_free(struct cfg *c)
{
	free(c->name);
	free(c->path);
}

TestSuite(conf, .init = setup, .fini = teardown);

Test(conf, good_file)
{
	struct cfg c = { 0 };
	char err[CONF_ERR_MAX] = "";
	const char *p = write_file("a.conf", "# comment\n[node]\nname = mn-cse-1\npath=/var/lib/x\n"
					     "flag = yes\n\n[mas]\nport = 5683\ncount = 7\n"
					     "lifetime = 2h\n");

	cr_assert_eq(conf_parse_file(p, items, N_ITEMS, &c, err, sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(c.name, "mn-cse-1");
	cr_expect_str_eq(c.path, "/var/lib/x");
	cr_expect(c.flag);
	cr_expect_eq(c.port, 5683);
	cr_expect_eq(c.count, 7);
	cr_expect_eq(c.lifetime, 7200);
	cfg_free(&c);
}

Test(conf, durations)
{
	static const struct {
		const char *text;
		uint64_t secs;
	} ok[] = { { "90", 90 }, { "90s", 90 }, { "15m", 900 }, { "2h", 7200 }, { "1d", 86400 } };
	static const char *const bad[] = { "", "-1", "1w", "1.5h", "h", "99999999999" };
	char err[CONF_ERR_MAX];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		uint64_t v = 0;

		cr_assert_eq(conf_parse_duration(ok[i].text, &v, err, sizeof(err)), 0);
		cr_expect_eq(v, ok[i].secs, "%s", ok[i].text);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t v = 0;

		cr_expect_eq(conf_parse_duration(bad[i], &v, err, sizeof(err)), -EINVAL, "%s", bad[i]);
	}
}

Test(conf, dropins_override_in_lexical_order)
{
	struct cfg c = { 0 };
	char err[CONF_ERR_MAX] = "", d[128];
	const char *p = write_file("main.conf", "[node]\nname = base\n[mas]\nport = 1\n");

	snprintf(d, sizeof(d), "%s/main.conf.d", dir);
	cr_assert_eq(mkdir(d, 0755), 0);
	write_file("main.conf.d/20-b.conf", "[mas]\nport = 20\n");
	write_file("main.conf.d/10-a.conf", "[mas]\nport = 10\n[node]\nname = dropin\n");
	write_file("main.conf.d/30-ignored.txt", "[bogus]\nx = 1\n");
	cr_assert_eq(conf_load(p, d, items, N_ITEMS, &c, err, sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(c.name, "dropin");
	cr_expect_eq(c.port, 20);
	cfg_free(&c);
}

Test(conf, missing_dropin_folder_is_fine)
{
	struct cfg c = { 0 };
	char err[CONF_ERR_MAX] = "", d[128];
	const char *p = write_file("main.conf", "[node]\nname = base\n");

	snprintf(d, sizeof(d), "%s/none.d", dir);
	cr_assert_eq(conf_load(p, d, items, N_ITEMS, &c, err, sizeof(err)), 0, "%s", err);
	cfg_free(&c);
}

static void expect_error(const char *text, int code, const char *want_fmt)
{
	struct cfg c = { 0 };
	char err[CONF_ERR_MAX] = "", want[CONF_ERR_MAX];
	const char *p = write_file("bad.conf", text);

	/* want_fmt holds one %s for the file's path. */
	const char *at = strstr(want_fmt, "%s");

	snprintf(want, sizeof(want), "%.*s%s%s", (int)(at - want_fmt), want_fmt, p, at + 2);
	cr_expect_eq(conf_parse_file(p, items, N_ITEMS, &c, err, sizeof(err)), code);
	cr_expect_str_eq(err, want);
	cfg_free(&c);
}

Test(conf, unknown_key)
{
	expect_error("[node]\nname = a\nnmae = b\n", -EINVAL,
		     "%s:3: unknown key 'nmae' in section [node]");
}

Test(conf, unknown_section)
{
	expect_error("[node]\nname = a\n[nodes]\nname = b\n", -EINVAL, "%s:3: unknown section [nodes]");
}

Test(conf, empty_unknown_section)
{
	expect_error("[node]\nname = a\n[extra]\n", -EINVAL, "%s:3: unknown section [extra]");
}

Test(conf, key_outside_section)
{
	expect_error("name = a\n", -EINVAL, "%s:1: key 'name' outside any section");
}

Test(conf, bad_port)
{
	expect_error("[mas]\nport = 70000\n", -EINVAL,
		     "%s:2: invalid value for 'port' in [mas]: expected a port number from 1 to 65535");
}

Test(conf, bad_bool)
{
	expect_error("[node]\nflag = maybe\n", -EINVAL,
		     "%s:2: invalid value for 'flag' in [node]: expected yes or no");
}

Test(conf, relative_path)
{
	expect_error("[node]\npath = var/lib\n", -EINVAL,
		     "%s:2: invalid value for 'path' in [node]: expected an absolute path");
}

Test(conf, empty_string)
{
	expect_error("[node]\nname =\n", -EINVAL,
		     "%s:2: invalid value for 'name' in [node]: expected a value, got an empty string");
}

Test(conf, syntax_error)
{
	expect_error("[node]\nthis line has no equals sign\n", -EINVAL,
		     "%s:2: syntax error (expected [section] or key = value)");
}

Test(conf, missing_file)
{
	struct cfg c = { 0 };
	char err[CONF_ERR_MAX] = "", p[128], want[256];

	snprintf(p, sizeof(p), "%s/absent.conf", dir);
	snprintf(want, sizeof(want), "%s: cannot open: No such file or directory", p);
	cr_expect_eq(conf_parse_file(p, items, N_ITEMS, &c, err, sizeof(err)), -ENOENT);
	cr_expect_str_eq(err, want);
}

Test(conf, unreadable_file)
{
	struct cfg c = { 0 };
	char err[CONF_ERR_MAX] = "", want[256];
	const char *p = write_file("secret.conf", "[node]\nname = a\n");
	int status = -1, r;
	pid_t pid;

	cr_assert_eq(chmod(p, 0000), 0);
	cr_assert_eq(chmod(dir, 0755), 0);
	snprintf(want, sizeof(want), "%s: cannot open: Permission denied", p);
	if (geteuid() != 0) {
		cr_expect_eq(conf_parse_file(p, items, N_ITEMS, &c, err, sizeof(err)), -EACCES);
		cr_expect_str_eq(err, want);
		return;
	}
	/* root reads any file: check as nobody in a child, which reports by exit status
	 * (and leaves by _exit, so no at-exit machinery runs under the foreign uid). */
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		if (setgid(65534) < 0 || setuid(65534) < 0)
			_exit(3);
		r = conf_parse_file(p, items, N_ITEMS, &c, err, sizeof(err));
		_exit(r == -EACCES && strcmp(err, want) == 0 ? 0 : 1);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status));
	cr_expect_neq(WEXITSTATUS(status), 3, "cannot drop privileges to nobody");
	cr_expect_eq(WEXITSTATUS(status), 0, "unreadable file not reported as '%s'", want);
}
