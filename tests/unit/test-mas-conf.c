/* SPDX-License-Identifier: Apache-2.0 */
/* m2masd.conf: defaults, drop-in overrides, required keys and bad values. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mas/mas-conf.h"
#include "mas/store.h"

static char dir[64];
static char conf_path[128];

static void setup(void)
{
	strcpy(dir, "/tmp/m2msa-test-mas-conf-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(conf_path, sizeof(conf_path), "%s/m2masd.conf", dir);
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f, "%s", path);
	fputs(text, f);
	fclose(f);
}

static void write_dropin(const char *name, const char *text)
{
	char d[160], p[256];

	snprintf(d, sizeof(d), "%s.d", conf_path);
	mkdir(d, 0755);
	snprintf(p, sizeof(p), "%s/%s", d, name);
	write_text(p, text);
}

static const char minimal[] = "[mas]\n"
			      "fqdn = mas.example.net\n"
			      "cert = /etc/m2msa/mas.crt\n"
			      "key = /etc/m2msa/mas.key\n"
			      "target_ca = /etc/m2msa/target-ca.crt\n";

TestSuite(mas_conf, .init = setup, .fini = teardown);

Test(mas_conf, defaults)
{
	struct mas_conf c = { 0 };
	char err[512] = "";

	write_text(conf_path, minimal);
	cr_assert_eq(mas_conf_load(conf_path, &c, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(c.listen, "0.0.0.0:5683");
	cr_assert_str_eq(c.retrieval_listen, "0.0.0.0:5684");
	cr_assert_str_eq(c.fqdn, "mas.example.net");
	cr_assert_str_eq(c.cert, "/etc/m2msa/mas.crt");
	cr_assert_str_eq(c.key, "/etc/m2msa/mas.key");
	cr_assert_str_eq(c.target_ca, "/etc/m2msa/target-ca.crt");
	cr_assert_eq(c.lifetime, 3600);
	cr_assert_eq(c.handshake_timeout, 10);
	cr_assert_eq(c.idle_timeout, 30);
	cr_assert_eq(c.max_failures, 5);
	cr_assert_eq(c.failure_window, 60);
	cr_assert_eq(c.retrieval_connections, 128);
	cr_assert_eq(c.connections_per_source, 64);
	cr_assert_eq(c.connection_rate_per_source, 20);
	cr_assert_eq(c.first_byte_timeout, 3);
	cr_assert_eq(c.workers, 0, "one worker per online CPU");
	cr_assert_str_eq(c.store_path, "/var/lib/m2msa/mas.db");
	cr_assert_str_eq(c.master_key, "/etc/m2msa/mas-master.key");
	cr_assert_str_eq(c.log_level, "info");
	mas_conf_free(&c);
	cr_assert_null(c.fqdn, "free clears the struct");
	mas_conf_free(NULL);
}

Test(mas_conf, full_file_with_dropin_override)
{
	struct mas_conf c = { 0 };
	char err[512] = "";

	write_text(conf_path, "[mas]\n"
			      "listen = 127.0.0.1:7000\n"
			      "retrieval_listen = [::1]:7001\n"
			      "fqdn = mas.example.net\n"
			      "cert = /etc/m2msa/mas.crt\n"
			      "key = /etc/m2msa/mas.key\n"
			      "target_ca = /etc/m2msa/target-ca.crt\n"
			      "lifetime = 2h\n"
			      "handshake_timeout = 5s\n"
			      "idle_timeout = 1m\n"
			      "max_failures = 3\n"
			      "failure_window = 10m\n"
			      "workers = 3\n"
			      "[store]\n"
			      "path = /srv/mas.db\n"
			      "master_key = /srv/master.key\n"
			      "[log]\n"
			      "level = debug\n");
	write_dropin("10-lifetime.conf", "[mas]\nlifetime = 6s\n");
	write_dropin("20-store.conf", "[store]\npath = /srv/other.db\n[log]\nlevel = warning\n");
	write_dropin("ignored.txt", "[nonsense]\nx = 1\n");
	cr_assert_eq(mas_conf_load(conf_path, &c, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(c.listen, "127.0.0.1:7000");
	cr_assert_str_eq(c.retrieval_listen, "[::1]:7001");
	cr_assert_eq(c.lifetime, 6, "drop-in overrides the main file");
	cr_assert_eq(c.handshake_timeout, 5);
	cr_assert_eq(c.idle_timeout, 60);
	cr_assert_eq(c.max_failures, 3);
	cr_assert_eq(c.failure_window, 600);
	cr_assert_eq(c.workers, 3);
	cr_assert_str_eq(c.store_path, "/srv/other.db", "later drop-in wins");
	cr_assert_str_eq(c.master_key, "/srv/master.key", "untouched key keeps the main file's");
	cr_assert_str_eq(c.log_level, "warning");
	mas_conf_free(&c);
}

Test(mas_conf, missing_required_key)
{
	static const char *const keys[] = { "fqdn", "cert", "key", "target_ca" };

	for (size_t i = 0; i < 4; i++) {
		struct mas_conf c = { 0 };
		char text[512] = "[mas]\n", err[512] = "", want[256];
		const char *p = minimal + strlen("[mas]\n");

		/* Keep every line of the minimal file except the one for keys[i]. */
		while (*p) {
			const char *nl = strchr(p, '\n');

			if (strncmp(p, keys[i], strlen(keys[i])) != 0 || p[strlen(keys[i])] != ' ')
				strncat(text, p, (size_t)(nl - p + 1));
			p = nl + 1;
		}
		write_text(conf_path, text);
		cr_assert_eq(mas_conf_load(conf_path, &c, err, sizeof(err)), -EINVAL, "%s", keys[i]);
		snprintf(want, sizeof(want), "%s: [mas] %s is required", conf_path, keys[i]);
		cr_assert_str_eq(err, want);
		cr_assert_null(c.fqdn, "ret untouched on failure");
	}
}

Test(mas_conf, store_only_load_tolerates_missing_server_keys)
{
	struct mas_conf c = { 0 };
	char err[512] = "";

	write_text(conf_path, "[store]\npath = /srv/mas.db\n");
	cr_assert_eq(mas_conf_load(conf_path, &c, err, sizeof(err)), -EINVAL);
	cr_assert_eq(mas_conf_load_store(conf_path, &c, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(c.store_path, "/srv/mas.db");
	cr_assert_str_eq(c.master_key, "/etc/m2msa/mas-master.key");
	cr_assert_null(c.fqdn);
	mas_conf_free(&c);

	write_text(conf_path, "[store]\npath = relative.db\n");
	cr_assert_eq(mas_conf_load_store(conf_path, &c, err, sizeof(err)), -EINVAL,
		     "values are still checked");
	cr_assert(strstr(err, "absolute path"), "%s", err);
}

Test(mas_conf, bad_duration)
{
	struct mas_conf c = { 0 };
	char text[512], err[512] = "";

	snprintf(text, sizeof(text), "%slifetime = 5 minutes\n", minimal);
	write_text(conf_path, text);
	cr_assert_eq(mas_conf_load(conf_path, &c, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, conf_path) && strstr(err, ":6:") && strstr(err, "lifetime"),
		  "names file, line and key: %s", err);

	snprintf(text, sizeof(text), "%slifetime = 0\n", minimal);
	write_text(conf_path, text);
	cr_assert_eq(mas_conf_load(conf_path, &c, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "lifetime must be at least 1s"), "%s", err);
}

Test(mas_conf, bad_values)
{
	static const struct {
		const char *line;
		const char *msg;
	} cases[] = {
		{ "[log]\nlevel = loud\n", "level 'loud'" },
		{ "[mas]\nlisten = 5683\n", "listen '5683' is not host:port" },
		{ "[mas]\nfqdn = not a name\n", "fqdn 'not a name'" },
		{ "[mas]\nmax_failures = 0\n", "max_failures must be at least 1" },
		{ "[mas]\nidle_timeout = 0s\n", "idle_timeout must be at least 1s" },
		{ "[mas]\nconnections_per_source = 0\n", "connections_per_source must be at least 1" },
		{ "[mas]\nretrieval_connections = 0\n", "retrieval_connections must be at least 1" },
		{ "[mas]\nfirst_byte_timeout = 0s\n", "first_byte_timeout must be at least 1s" },
		{ "[mas]\nworkers = 257\n", "workers must be from 0 (one per online CPU) to 256" },
		{ "[mas]\nworkers = -1\n", "workers" },
		{ "[mas]\nprot = 1\n", "unknown key 'prot'" },
		{ "[stor]\npath = /x\n", "unknown section [stor]" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mas_conf c = { 0 };
		char text[512], err[512] = "";

		snprintf(text, sizeof(text), "%s%s", minimal, cases[i].line);
		write_text(conf_path, text);
		cr_assert_eq(mas_conf_load(conf_path, &c, err, sizeof(err)), -EINVAL, "%s",
			     cases[i].line);
		cr_assert(strstr(err, cases[i].msg), "want '%s' in '%s'", cases[i].msg, err);
	}
}

Test(mas_conf, missing_file_is_enoent)
{
	struct mas_conf c = { 0 };
	char err[512] = "";

	cr_assert_eq(mas_conf_load(conf_path, &c, err, sizeof(err)), -ENOENT);
}

Test(mas_conf, postgresql_store_and_metrics)
{
	struct mas_conf c = { 0 };
	struct store_config sc;
	char err[512] = "", text[1024];

	snprintf(text, sizeof(text),
		 "%s[store]\nbackend = postgresql\nconninfo = host=db dbname=m2msa user=m2masd\n"
		 "password_file = /etc/m2msa/pg-password\n[metrics]\nlisten = 127.0.0.1:9641\n",
		 minimal);
	write_text(conf_path, text);
	cr_assert_eq(mas_conf_load(conf_path, &c, err, sizeof(err)), 0, "%s", err);
	mas_conf_store_config(&c, &sc);
	cr_assert_eq(sc.backend, STORE_BACKEND_POSTGRESQL);
	cr_assert_str_eq(sc.location, "host=db dbname=m2msa user=m2masd");
	cr_assert_str_eq(sc.password_file, "/etc/m2msa/pg-password");
	cr_assert_str_eq(c.metrics_listen, "127.0.0.1:9641");
	mas_conf_free(&c);

	/* The default stays SQLite on its path. */
	write_text(conf_path, minimal);
	cr_assert_eq(mas_conf_load(conf_path, &c, err, sizeof(err)), 0, "%s", err);
	mas_conf_store_config(&c, &sc);
	cr_assert_eq(sc.backend, STORE_BACKEND_SQLITE);
	cr_assert_str_eq(sc.location, "/var/lib/m2msa/mas.db");
	cr_assert_null(c.metrics_listen, "metrics are off by default");
	mas_conf_free(&c);
}

Test(mas_conf, bad_store_settings_name_the_fix)
{
	static const struct {
		const char *store, *needle;
	} cases[] = {
		{ "backend = mysql\n", "is not sqlite or postgresql" },
		{ "backend = postgresql\n", "needs conninfo" },
		{ "backend = postgresql\nconninfo = host=db password=secret\n", "password_file" },
		{ "backend = postgresql\nconninfo = postgresql://u:secret@db/m2msa\n", "password_file" },
	};
	char err[512], text[1024];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mas_conf c = { 0 };

		snprintf(text, sizeof(text), "%s[store]\n%s", minimal, cases[i].store);
		write_text(conf_path, text);
		err[0] = '\0';
		cr_assert_eq(mas_conf_load(conf_path, &c, err, sizeof(err)), -EINVAL, "case %zu", i);
		cr_assert(strstr(err, cases[i].needle), "case %zu: %s", i, err);
	}
	snprintf(text, sizeof(text), "%s[metrics]\nlisten = nowhere\n", minimal);
	write_text(conf_path, text);
	cr_assert_eq(mas_conf_load(conf_path, &(struct mas_conf){ 0 }, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "[metrics] listen"), "%s", err);
}
