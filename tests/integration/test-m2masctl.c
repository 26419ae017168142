/* SPDX-License-Identifier: Apache-2.0 */
/* m2masctl, the built binary, run against a store in a temp dir: commands, output, exit codes. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/secret.h"
#include "harness.h"
#include "mas/keyfile.h"
#include "mas/store.h"
#include "secrets.h"
#include "pg-fixture.h"

struct run {
	int status;
	char *out;
	char *err;
};

static char *dir, *bin, *store_path, *key_path;

static void setup(void)
{
	const char *build = getenv("BUILDDIR");

	cr_assert_not_null(build, "BUILDDIR is not set (run through meson test)");
	bin = harness_strdupf("%s/mas/m2masctl", build);
	if (access(bin, X_OK) != 0)
		cr_skip_test("%s is not built (meson compile m2masctl)", bin);
	cr_assert_eq(harness_tmpdir(&dir), 0);
	store_path = store_fixture_location(dir); /* a file, or a PostgreSQL database */
	key_path = harness_strdupf("%s/master.key", dir);
}

static void teardown(void)
{
	if (!dir)
		return; /* already done (a skipped test calls it itself) */
	secrets_assert_logs_clean(dir, store_path, key_path); /* no key byte in any log */
	if (dir)
		harness_rmtree(dir);
	free(dir);
	free(bin);
	free(store_path);
	free(key_path);
	dir = bin = store_path = key_path = NULL;
}

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
	memset(r, 0, sizeof(*r));
}

/* m2masctl --store S --master-key K ARGS... (NULL-terminated), stdin from stdin_data. */
static struct run ctl_in(const char *stdin_data, const char *arg, ...)
{
	const char *argv[32] = { bin, "--store", store_path, "--master-key", key_path };
	struct run r = { 0 };
	size_t n = 5;
	va_list ap;

	va_start(ap, arg);
	for (const char *a = arg; a; a = va_arg(ap, const char *)) {
		cr_assert_lt(n, 31);
		argv[n++] = a;
	}
	va_end(ap);
	argv[n] = NULL;
	cr_assert_eq(harness_run(argv, NULL, stdin_data, &r.status, &r.out, &r.err), 0);
	return r;
}
#define ctl(...) ctl_in(NULL, __VA_ARGS__, NULL)

static void init_store(void)
{
	struct run r = ctl("init");

	cr_assert_eq(r.status, 0, "init: %s", r.err);
	run_free(&r);
}

static struct store *open_store(void)
{
	_cleanup_secret_ struct secret *mk = NULL;
	struct store *s = NULL;

	cr_assert_eq(mas_master_key_load(key_path, &mk), 0);
	cr_assert_eq(store_open(store_path, mk->data, &s), 0);
	return s;
}

static bool is_hex64_line(const char *s)
{
	if (strlen(s) != 65 || s[64] != '\n')
		return false;
	for (int i = 0; i < 64; i++)
		if (!strchr("0123456789abcdef", s[i]))
			return false;
	return true;
}

TestSuite(m2masctl, .init = setup, .fini = teardown);

Test(m2masctl, init_creates_and_refuses_to_overwrite)
{
	struct stat st;
	struct run r;

	init_store();
	cr_assert_eq(stat(key_path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600, "master key file mode");
	if (!pg_fixture_enabled()) {
		cr_assert_eq(stat(store_path, &st), 0);
		cr_assert_eq(st.st_mode & 0077, 0, "store not readable by others");
	}

	r = ctl("init");
	cr_assert_eq(r.status, 1);
	cr_assert(strstr(r.err, "refusing to overwrite"), "%s", r.err);
	run_free(&r);
}

Test(m2masctl, add_generate_km_prints_it_once)
{
	_cleanup_secret_ struct secret *km = NULL;
	char hex[2 * MAS_KEY_LEN + 1];
	struct store *s;
	struct run r;

	init_store();
	r = ctl("node", "add", "/mn-cse-1", "--km-id", "km-1@mas.example.net", "--target",
		"/in-cse", "--methods", "psk,pki", "--lifetime", "2h", "--generate-km");
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(is_hex64_line(r.out), "stdout is the Km as 64 hex digits: '%s'", r.out);
	cr_assert(strstr(r.err, "only this once"), "%s", r.err);
	cr_assert(strstr(r.err, "m2msactl provision"), "%s", r.err);

	s = open_store();
	cr_assert_eq(store_node_get_km(s, "/mn-cse-1", &km), 0);
	store_close(s);
	mas_key_to_hex(km->data, hex);
	cr_assert_eq(strncmp(r.out, hex, 64), 0, "the printed key is the stored Km");
	hex[64] = '\0';

	{
		struct run l = ctl("node", "list");
		struct run j = ctl("node", "list", "--json");
		struct run sh = ctl("node", "show", "/mn-cse-1");

		cr_assert_eq(l.status, 0);
		cr_assert(strstr(l.out, "/mn-cse-1") && strstr(l.out, "km-1@mas.example.net") &&
				  strstr(l.out, "psk,pki") && strstr(l.out, "2h"),
			  "%s", l.out);
		cr_assert_null(strstr(l.out, hex), "list shows no key bytes");
		cr_assert_null(strstr(j.out, hex), "list --json shows no key bytes");
		cr_assert_null(strstr(sh.out, hex), "show shows no key bytes");
		cr_assert(strstr(sh.out, "state:        active"), "%s", sh.out);
		run_free(&l);
		run_free(&j);
		run_free(&sh);
	}
	run_free(&r);
}

Test(m2masctl, add_from_file_and_stdin)
{
	_cleanup_secret_ struct secret *km = NULL;
	uint8_t raw[32];
	char *file = harness_strdupf("%s/km.bin", dir);
	struct store *s;
	struct run r;

	init_store();
	for (int i = 0; i < 32; i++)
		raw[i] = (uint8_t)(0xa0 + i);
	cr_assert_eq(harness_write_file(file, raw, sizeof(raw), 0600), 0);
	r = ctl("node", "add", "/mn-cse-1", "--km-id", "k1", "--target", "/in-cse", "--km-file",
		file);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_str_eq(r.out, "", "nothing on stdout without --generate-km");
	run_free(&r);

	r = ctl_in("a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf\n", "node",
		   "add", "/mn-cse-2", "--km-id", "k2", "--target", "/in-cse", "--km-file", "-",
		   NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	run_free(&r);

	s = open_store();
	cr_assert_eq(store_node_get_km(s, "/mn-cse-1", &km), 0);
	cr_assert(secret_equal(km->data, raw, 32), "raw file");
	secret_free(km);
	km = NULL;
	cr_assert_eq(store_node_get_km(s, "/mn-cse-2", &km), 0);
	cr_assert(secret_equal(km->data, raw, 32), "hex on stdin");
	store_close(s);

	r = ctl_in("not a key", "node", "add", "/mn-cse-3", "--km-id", "k3", "--target", "/in-cse",
		   "--km-file", "-", NULL);
	cr_assert_eq(r.status, 1);
	cr_assert(strstr(r.err, "32 raw bytes or 64 hex digits"), "%s", r.err);
	run_free(&r);
	free(file);
}

Test(m2masctl, list_json_parses)
{
	struct run r;
	const char *argv[] = {
		"python3", "-c",
		"import json,sys\n"
		"d=json.load(sys.stdin)\n"
		"assert isinstance(d,list) and len(d)==2, d\n"
		"assert d[0]['node_id']=='/mn-cse-a' and d[1]['node_id']=='/mn-cse-b', d\n"
		"assert d[0]['methods']==['psk'] and d[0]['state']=='active', d\n"
		"assert d[1]['target_id']=='/in-cse-2' and d[1]['lifetime']==6, d\n"
		"assert set(d[0])=={'node_id','km_id','target_id','methods','lifetime','state','created','impi'}\n"
		"assert d[0]['impi']=='' and d[1]['impi']=='node-b@ims.test', d\n"
		"print('ok')\n",
		NULL,
	};
	int status;
	char *out = NULL, *err = NULL;

	if (!harness_have_program("python3"))
		cr_skip_test("python3 is needed to check the JSON (apt install python3)");
	init_store();
	r = ctl("node", "list", "--json");
	cr_assert_eq(r.status, 0);
	cr_assert_str_eq(r.out, "[]\n", "empty store");
	run_free(&r);
	r = ctl("node", "add", "/mn-cse-b", "--km-id", "kb", "--target", "/in-cse", "--generate-km");
	cr_assert_eq(r.status, 0, "%s", r.err);
	run_free(&r);
	r = ctl("node", "add", "/mn-cse-a", "--km-id", "ka", "--target", "/in-cse", "--generate-km");
	run_free(&r);
	r = ctl("node", "set-target", "/mn-cse-b", "/in-cse-2");
	cr_assert_eq(r.status, 0, "%s", r.err);
	run_free(&r);
	r = ctl("node", "set-lifetime", "/mn-cse-b", "6s");
	cr_assert_eq(r.status, 0, "%s", r.err);
	run_free(&r);
	r = ctl("node", "set-impi", "/mn-cse-b", "node-b@ims.test");
	cr_assert_eq(r.status, 0, "%s", r.err);
	run_free(&r);
	r = ctl("node", "list", "--json");
	cr_assert_eq(r.status, 0);
	cr_assert_eq(harness_run(argv, NULL, r.out, &status, &out, &err), 0);
	cr_assert_eq(status, 0, "JSON check failed: %s\n%s", err, r.out);
	cr_assert_str_eq(out, "ok\n");
	free(out);
	free(err);
	run_free(&r);
}

Test(m2masctl, impi_on_add_show_and_set_impi)
{
	struct run r;

	init_store();
	r = ctl("node", "add", "/mn-cse-g", "--km-id", "kg", "--target", "/in-cse", "--methods",
		"gba", "--impi", "node-g@ims.test", "--generate-km");
	cr_assert_eq(r.status, 0, "%s", r.err);
	run_free(&r);
	r = ctl("node", "show", "/mn-cse-g");
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_not_null(strstr(r.out, "impi:         node-g@ims.test\n"), "%s", r.out);
	run_free(&r);
	r = ctl("node", "set-impi", "/mn-cse-g", "");
	cr_assert_eq(r.status, 0, "%s", r.err);
	run_free(&r);
	r = ctl("node", "show", "/mn-cse-g");
	cr_assert_not_null(strstr(r.out, "impi:         (none)\n"), "%s", r.out);
	run_free(&r);
	r = ctl("node", "set-impi", "/mn-cse-g", "not an impi");
	cr_assert_eq(r.status, 2);
	cr_assert_not_null(strstr(r.err, "invalid IMPI 'not an impi'"), "%s", r.err);
	run_free(&r);
	r = ctl("node", "add", "/mn-cse-h", "--km-id", "kh", "--target", "/in-cse", "--impi", "a b",
		"--generate-km");
	cr_assert_eq(r.status, 2);
	cr_assert_not_null(strstr(r.err, "invalid --impi 'a b'"), "%s", r.err);
	run_free(&r);
	r = ctl("node", "set-impi", "/nobody", "x@y");
	cr_assert_eq(r.status, 1, "%s", r.err);
	run_free(&r);
}

Test(m2masctl, revoke_node_and_assocs)
{
	struct store_assoc a = { .method = WIRE_METHOD_PSK, .created = 1000 };
	char kcid_hex[33], key_id[64];
	uint8_t k[32] = { 0 };
	struct store *s;
	struct run r;

	init_store();
	r = ctl("node", "add", "/mn-cse-1", "--km-id", "k1", "--target", "/in-cse", "--generate-km");
	cr_assert_eq(r.status, 0, "%s", r.err);
	run_free(&r);

	/* Two associations as m2masd would register them: one live, one long expired. */
	s = open_store();
	strcpy(a.node_id, "/mn-cse-1");
	strcpy(a.target_id, "/in-cse");
	memset(a.kcid, 0x11, sizeof(a.kcid));
	a.expiry = (uint64_t)time(NULL) + 3600;
	cr_assert_eq(store_assoc_add(s, &a, k, k), 0);
	memset(a.kcid, 0x22, sizeof(a.kcid));
	a.expiry = 2000;
	cr_assert_eq(store_assoc_add(s, &a, k, k), 0);
	store_close(s);

	memset(kcid_hex, '1', 32);
	kcid_hex[32] = '\0';
	r = ctl("assoc", "list");
	cr_assert_eq(r.status, 0);
	cr_assert(strstr(r.out, kcid_hex), "%s", r.out);
	cr_assert(strstr(r.out, "active") && strstr(r.out, "expired"), "%s", r.out);
	run_free(&r);

	snprintf(key_id, sizeof(key_id), "%s@mas.example.net", kcid_hex);
	r = ctl("assoc", "revoke", key_id);
	cr_assert_eq(r.status, 0, "%s", r.err);
	run_free(&r);
	r = ctl("assoc", "list", "--node", "/mn-cse-1", "--json");
	cr_assert(strstr(r.out, "\"state\":\"revoked\"") && strstr(r.out, "\"state\":\"expired\""),
		  "%s", r.out);
	run_free(&r);

	r = ctl("assoc", "purge");
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(strstr(r.err, "removed 1 expired association"), "%s", r.err);
	run_free(&r);

	r = ctl("node", "revoke", "/mn-cse-1");
	cr_assert_eq(r.status, 0, "%s", r.err);
	run_free(&r);
	r = ctl("node", "show", "/mn-cse-1");
	cr_assert_eq(r.status, 0);
	cr_assert(strstr(r.out, "state:        revoked"), "%s", r.out);
	cr_assert(strstr(r.out, "0 active, 0 expired, 1 revoked"), "%s", r.out);
	run_free(&r);

	r = ctl("node", "delete", "/mn-cse-1");
	cr_assert_eq(r.status, 0, "%s", r.err);
	run_free(&r);
	r = ctl("assoc", "list", "--json");
	cr_assert_str_eq(r.out, "[]\n");
	run_free(&r);
}

/* A pairwise key with ID id_byte x 16, as m2masd registers it: node_id's AE Cae1 towards target. */
static void add_peer_key(struct store *s, uint8_t id_byte, const char *node_id,
			 const char *target)
{
	struct store_peer_key k = { .ae_id = "Cae1", .created = 1000 };
	uint8_t key[32];

	memset(key, id_byte, sizeof(key));
	memset(k.id, id_byte, sizeof(k.id));
	snprintf(k.node_id, sizeof(k.node_id), "%s", node_id);
	snprintf(k.target, sizeof(k.target), "%s", target);
	k.expiry = (uint64_t)time(NULL) + 3600;
	cr_assert_eq(store_peer_key_add(s, &k, key), 0, "%s towards %s", node_id, target);
}

/* The stored state of key id_byte: "active", "revoked" or "gone". */
static const char *peer_key_state(uint8_t id_byte)
{
	uint8_t id[STORE_PEER_ID_LEN];
	struct store_peer_key k;
	struct store *s = open_store();
	int r;

	memset(id, id_byte, sizeof(id));
	r = store_peer_key_get(s, id, &k, NULL);
	store_close(s);
	cr_assert(r == 0 || r == -ENOENT, "key %02x: %s", id_byte, strerror(-r));
	return r == -ENOENT ? "gone" : k.revoked ? "revoked" : "active";
}

/* node revoke / delete NODE: exit 0 and the message counting n pairwise keys. */
static void node_change_counts(const char *verb, const char *node_id, int n)
{
	struct run r = ctl("node", verb, node_id);
	char *want = harness_strdupf("m2masctl: node '%s' %sd, with all its associations and %d "
				     "pairwise key%s (registered by it or towards its AEs)\n",
				     node_id, verb, n, n == 1 ? "" : "s");

	cr_assert_eq(r.status, 0, "node %s %s: %s", verb, node_id, r.err);
	cr_expect_str_eq(r.err, want);
	free(want);
	run_free(&r);
}

/*
 * node revoke and node delete take the pairwise keys in both directions: the ones
 * the node registered and the ones towards its AEs (target "/<node>/<AE-ID>", as
 * wire_target_names_node reads it), no others. '_' is an identifier character and
 * a LIKE wildcard: revoking /mn_cse must leave the keys towards /mnXcse alone.
 */
Test(m2masctl, node_revoke_and_delete_take_the_pairwise_keys_towards_the_node)
{
	/* Every target's node is registered, or the store refuses the key (-ENOENT). */
	static const char *const nodes[] = { "/mn-cse-1", "/mn-cse-2", "/mn_cse", "/mnXcse",
					     "mn-cse-3", "/mn-cse-2/x", "/mn-cse-20" };
	struct store *s;
	struct run r;

	init_store();
	for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
		r = ctl("node", "add", nodes[i], "--km-id", "k1", "--target", "/in-cse",
			"--generate-km");
		cr_assert_eq(r.status, 0, "%s: %s", nodes[i], r.err);
		run_free(&r);
	}
	s = open_store();
	add_peer_key(s, 0x01, "/mn-cse-1", "/mn-cse-2/Cae2");	 /* towards /mn-cse-2 */
	add_peer_key(s, 0x02, "/mn-cse-2", "/mn-cse-1/Cae1");	 /* registered by it */
	add_peer_key(s, 0x03, "/mn-cse-1", "/mnXcse/Cae1");	 /* /mn_cse as LIKE matches it */
	add_peer_key(s, 0x04, "/mn-cse-1", "/mn-cse-2/x/Cae2"); /* CSE part /mn-cse-2/x */
	add_peer_key(s, 0x05, "/mn-cse-1", "/mn-cse-20/Cae2");	 /* a prefix, not the node */
	add_peer_key(s, 0x06, "/mn-cse-1", "/mn-cse-3/Cae3");	 /* node ID without the '/' */
	add_peer_key(s, 0x07, "/mn-cse-1", "/mn_cse/Cae1");	 /* towards /mn_cse */
	store_close(s);

	node_change_counts("revoke", "/mn_cse", 1);
	cr_expect_str_eq(peer_key_state(0x07), "revoked");
	cr_expect_str_eq(peer_key_state(0x03), "active", "'_' matched another node's key");

	node_change_counts("revoke", "/mn-cse-2", 2);
	r = ctl("peer-key", "show", "01010101010101010101010101010101");
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_expect(strstr(r.out, "target /mn-cse-2/Cae2\n"), "%s", r.out);
	cr_expect(strstr(r.out, "state revoked\n"), "the key towards the node: %s", r.out);
	run_free(&r);
	cr_expect_str_eq(peer_key_state(0x02), "revoked", "the key the node registered");
	cr_expect_str_eq(peer_key_state(0x04), "active");
	cr_expect_str_eq(peer_key_state(0x05), "active");
	node_change_counts("revoke", "/mn-cse-2", 0); /* revoked already: none counted again */

	node_change_counts("delete", "mn-cse-3", 1);
	cr_expect_str_eq(peer_key_state(0x06), "gone");
	r = ctl("peer-key", "show", "06060606060606060606060606060606");
	cr_expect_eq(r.status, 1, "%s", r.out);
	run_free(&r);
	node_change_counts("delete", "/mn-cse-2", 2);
	cr_expect_str_eq(peer_key_state(0x01), "gone");
	cr_expect_str_eq(peer_key_state(0x02), "gone");
	node_change_counts("delete", "/mn_cse", 1);
	cr_expect_str_eq(peer_key_state(0x07), "gone");
	cr_expect_str_eq(peer_key_state(0x03), "active", "'_' matched another node's key");
	cr_expect_str_eq(peer_key_state(0x04), "active");
	cr_expect_str_eq(peer_key_state(0x05), "active");
}

/* A node revoke or delete from another thread: its result. */
struct node_change {
	struct store *s;
	bool delete;
	int r;
};

static void *node_change_thread(void *arg)
{
	struct node_change *c = arg;

	c->r = c->delete ? store_node_delete(c->s, "/mn-cse-2") :
			   store_node_revoke(c->s, "/mn-cse-2");
	return NULL;
}

/*
 * PostgreSQL: a node revoke or delete while a pairwise key towards the node is
 * being stored (held open here as the store's insert does it: the node's row FOR
 * SHARE, then the key) waits for the insert and then takes the new key too; the
 * delete locks the node's row before it counts the keys (store-pg.c).
 */
Test(m2masctl, node_revoke_and_delete_wait_for_a_pairwise_key_insert_in_flight)
{
	struct node_change c;
	struct store *s;
	struct run r;

	if (!pg_fixture_enabled())
		cr_skip_test("SQLite: the insert, node revoke and node delete take the one write "
			     "lock (test-store checks the insert under it)");
	init_store();
	for (int i = 1; i <= 2; i++) {
		char node[16];

		snprintf(node, sizeof(node), "/mn-cse-%d", i);
		r = ctl("node", "add", node, "--km-id", "k1", "--target", "/in-cse",
			"--generate-km");
		cr_assert_eq(r.status, 0, "%s: %s", node, r.err);
		run_free(&r);
	}
	s = open_store();
	for (int i = 1; i <= 2; i++) {
		char *sql = harness_strdupf(
			"SELECT 1 FROM nodes WHERE node_id = '/mn-cse-2' FOR SHARE; "
			"INSERT INTO peer_keys (id, node_id, ae_id, target, created, expiry, "
			"revoked, key_sealed) VALUES (decode(repeat('%02x', 16), 'hex'), "
			"'/mn-cse-1', 'Cae1', '/mn-cse-2/Cae2', 1000, 4000000000, false, '\\x00')",
			i);
		PGconn *tx = pg_fixture_tx_begin(store_path, sql);
		pthread_t t;
		bool waited, committed;

		c = (struct node_change){ .s = s, .delete = i == 2 };
		cr_assert_eq(pthread_create(&t, NULL, node_change_thread, &c), 0);
		waited = pg_fixture_tx_wait_for_waiter(tx, 10000);
		committed = pg_fixture_tx_commit(tx);
		pthread_join(t, NULL);
		cr_assert(waited, "node %s did not wait for the insert",
			  c.delete ? "delete" : "revoke");
		cr_assert(committed);
		/* The revoke revokes the new key; the delete deletes it and the revoked one. */
		cr_expect_eq(c.r, i, "node %s: %d", c.delete ? "delete" : "revoke", c.r);
		cr_expect_eq(store_fixture_query_int(store_path, "SELECT count(*) FROM peer_keys "
								 "WHERE NOT revoked"),
			     0);
		free(sql);
	}
	store_close(s);
	cr_expect_eq(store_fixture_query_int(store_path, "SELECT count(*) FROM peer_keys"), 0);
}

/* peer-key show and revoke on a pairwise key as m2masd would register it (docs/m2masctl.md). */
Test(m2masctl, peer_key_show_and_revoke)
{
	struct store_peer_key k = { .created = 1000 };
	uint8_t key[32] = { 0 };
	char id_hex[33], key_id[64];
	struct store *s;
	struct run r;

	init_store();
	r = ctl("node", "add", "/mn-cse-1", "--km-id", "k1", "--target", "/in-cse", "--generate-km");
	cr_assert_eq(r.status, 0, "%s", r.err);
	run_free(&r);
	r = ctl("node", "add", "/mn-cse-2", "--km-id", "k2", "--target", "/in-cse",
		"--generate-km");
	cr_assert_eq(r.status, 0, "%s", r.err);
	run_free(&r);
	s = open_store();
	memset(k.id, 0x33, sizeof(k.id));
	strcpy(k.node_id, "/mn-cse-1");
	strcpy(k.ae_id, "Cae1");
	strcpy(k.target, "/mn-cse-2/Cae2");
	k.expiry = (uint64_t)time(NULL) + 3600;
	cr_assert_eq(store_peer_key_add(s, &k, key), 0);
	store_close(s);
	memset(id_hex, '3', 32);
	id_hex[32] = '\0';
	snprintf(key_id, sizeof(key_id), "%s@mas.example.net", id_hex);

	r = ctl("peer-key", "show", key_id);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_expect(strstr(r.out, "originator Cae1 on node /mn-cse-1\ntarget /mn-cse-2/Cae2\n"), "%s",
		  r.out);
	cr_expect(strstr(r.out, "state active\n"), "%s", r.out);
	run_free(&r);
	r = ctl("peer-key", "revoke", id_hex);
	cr_expect_eq(r.status, 0, "%s", r.err);
	cr_expect(strstr(r.err, "pairwise key 33333333333333333333333333333333 revoked"), "%s", r.err);
	run_free(&r);
	r = ctl("peer-key", "show", id_hex);
	cr_expect(strstr(r.out, "state revoked\n"), "%s", r.out);
	run_free(&r);
	s = open_store();
	cr_assert_eq(store_peer_key_get(s, k.id, &k, NULL), 0);
	cr_expect(k.revoked);
	store_close(s);
	/* Unknown and malformed IDs. */
	r = ctl("peer-key", "revoke", "00112233445566778899aabbccddeeff");
	cr_expect_eq(r.status, 1);
	cr_expect(strstr(r.err, "pairwise key '00112233445566778899aabbccddeeff' not found"), "%s",
		  r.err);
	run_free(&r);
	r = ctl("peer-key", "show", "xyz");
	cr_expect_eq(r.status, 2);
	cr_expect(strstr(r.err, "'xyz' is not a pairwise key ID (32 hex digits"), "%s", r.err);
	run_free(&r);
	/* With the configuration read, a key ID of another MAS is refused, not looked up. */
	{
		char *conf = harness_strdupf("%s/m2masd.conf", dir);
		char *lines = store_fixture_conf_lines(store_path);
		char *text = harness_strdupf("[mas]\nfqdn = mas.example.net\n[store]\n%s"
					     "master_key = %s\n", lines, key_path);
		char other[64];
		const char *show[] = { bin, "--config", conf, "peer-key", "show", key_id, NULL };
		const char *revoke[] = { bin, "--config", conf, "peer-key", "revoke", other, NULL };

		snprintf(other, sizeof(other), "%s@mas.other.net", id_hex);
		cr_assert_eq(harness_write_file(conf, text, strlen(text), 0644), 0);
		cr_assert_eq(harness_run(show, NULL, NULL, &r.status, &r.out, &r.err), 0);
		cr_expect_eq(r.status, 0, "%s", r.err);
		run_free(&r);
		cr_assert_eq(harness_run(revoke, NULL, NULL, &r.status, &r.out, &r.err), 0);
		cr_expect_eq(r.status, 2, "%s", r.err);
		cr_expect(strstr(r.err, "is a pairwise key ID of the MAS mas.other.net, not of "
				 "this one (mas.example.net, [mas] fqdn)"),
			  "%s", r.err);
		run_free(&r);
		show[5] = other;
		cr_assert_eq(harness_run(show, NULL, NULL, &r.status, &r.out, &r.err), 0);
		cr_expect_eq(r.status, 2, "%s", r.err);
		cr_expect_null(strstr(r.out, "originator"), "%s", r.out);
		run_free(&r);
		free(conf);
		free(text);
		free(lines);
	}
}

Test(m2masctl, failures_exit_1_and_name_the_fix)
{
	struct run r;

	r = ctl("node", "list");
	cr_assert_eq(r.status, 1, "no store yet");
	cr_assert(strstr(r.err, "run m2masctl init"), "%s", r.err);
	run_free(&r);

	init_store();
	r = ctl("node", "show", "/nobody");
	cr_assert_eq(r.status, 1);
	cr_assert(strstr(r.err, "node '/nobody' not found (see m2masctl node list)"), "%s", r.err);
	run_free(&r);
	r = ctl("node", "revoke", "/nobody");
	cr_assert_eq(r.status, 1);
	cr_assert(strstr(r.err, "not found"), "%s", r.err);
	run_free(&r);

	r = ctl("node", "add", "/mn-cse-1", "--km-id", "k", "--target", "/in", "--generate-km");
	cr_assert_eq(r.status, 0, "%s", r.err);
	run_free(&r);
	r = ctl("node", "add", "/mn-cse-1", "--km-id", "k", "--target", "/in", "--generate-km");
	cr_assert_eq(r.status, 1);
	cr_assert(strstr(r.err, "already exists"), "%s", r.err);
	cr_assert_str_eq(r.out, "", "no key printed when the add failed");
	run_free(&r);

	r = ctl("assoc", "revoke", "00112233445566778899aabbccddeeff");
	cr_assert_eq(r.status, 1);
	cr_assert(strstr(r.err, "not found (see m2masctl assoc list)"), "%s", r.err);
	run_free(&r);

	cr_assert_eq(chmod(key_path, 0644), 0);
	r = ctl("node", "list");
	cr_assert_eq(r.status, 1);
	cr_assert(strstr(r.err, "chmod 600"), "%s", r.err);
	run_free(&r);

	cr_assert_eq(unlink(key_path), 0);
	cr_assert_eq(mas_master_key_create(key_path), 0);
	r = ctl("node", "list");
	cr_assert_eq(r.status, 1, "another master key");
	cr_assert(strstr(r.err, "does not belong"), "%s", r.err);
	run_free(&r);
}

Test(m2masctl, usage_errors_exit_2)
{
	static const char *const cases[][12] = {
		{ NULL },
		{ "frobnicate", NULL },
		{ "node", NULL },
		{ "node", "frob", NULL },
		{ "node", "add", NULL },
		{ "node", "add", "/mn-cse-1", "--target", "/in", "--generate-km", NULL },
		{ "node", "add", "/mn-cse-1", "--km-id", "k", "--target", "/in", NULL },
		{ "node", "add", "bad id!", "--km-id", "k", "--target", "/in", "--generate-km", NULL },
		{ "node", "add", "/n", "--km-id", "k", "--target", "/in", "--methods", "psk,xyz", NULL },
		{ "node", "list", "--bogus", NULL },
		{ "node", "show", NULL },
		{ "node", "show", "/a", "/b", NULL },
		{ "node", "set-lifetime", "/a", "soon", NULL },
		{ "assoc", "revoke", "xyz", NULL },
	};

	init_store();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *argv[16] = { bin, "--store", store_path, "--master-key", key_path };
		struct run r = { 0 };
		size_t n = 5;

		for (size_t j = 0; cases[i][j]; j++)
			argv[n++] = cases[i][j];
		argv[n] = NULL;
		cr_assert_eq(harness_run(argv, NULL, NULL, &r.status, &r.out, &r.err), 0);
		cr_assert_eq(r.status, 2, "case %zu (%s %s): status %d, %s", i,
			     cases[i][0] ? cases[i][0] : "", cases[i][0] && cases[i][1] ? cases[i][1] : "",
			     r.status, r.err);
		cr_assert_neq(r.err[0], '\0', "case %zu says what is wrong", i);
		cr_assert_str_eq(r.out, "", "case %zu prints nothing on stdout", i);
		run_free(&r);
	}
	{
		struct run r = { 0 };
		const char *argv[] = { bin, "--bogus", NULL };

		cr_assert_eq(harness_run(argv, NULL, NULL, &r.status, &r.out, &r.err), 0);
		cr_assert_eq(r.status, 2);
		run_free(&r);
	}
}

Test(m2masctl, config_file_supplies_store_paths)
{
	char *conf = harness_strdupf("%s/m2masd.conf", dir);
	char *lines = store_fixture_conf_lines(store_path);
	char *text = harness_strdupf("[store]\n%smaster_key = %s\n[log]\nlevel = debug\n", lines,
				     key_path);
	struct run r = { 0 };
	const char *init[] = { bin, "--config", conf, "init", NULL };
	const char *list[] = { bin, "--config", conf, "node", "list", "--json", NULL };
	const char *missing[] = { bin, "--config", "/nonexistent/m2masd.conf", "node", "list", NULL };

	cr_assert_eq(harness_write_file(conf, text, strlen(text), 0644), 0);
	cr_assert_eq(harness_run(init, NULL, NULL, &r.status, &r.out, &r.err), 0);
	cr_assert_eq(r.status, 0, "%s", r.err);
	run_free(&r);
	if (!pg_fixture_enabled())
		cr_assert_eq(access(store_path, F_OK), 0, "init used [store] path");
	cr_assert_eq(harness_run(list, NULL, NULL, &r.status, &r.out, &r.err), 0);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_str_eq(r.out, "[]\n");
	run_free(&r);
	cr_assert_eq(harness_run(missing, NULL, NULL, &r.status, &r.out, &r.err), 0);
	cr_assert_eq(r.status, 1);
	cr_assert(strstr(r.err, "/nonexistent/m2masd.conf"), "%s", r.err);
	run_free(&r);
	free(conf);
	free(text);
	free(lines);
}

Test(m2masctl, migrate_reports_the_schema_version)
{
	struct run r = ctl("migrate");

	cr_assert_eq(r.status, 1, "nothing to migrate before init");
	cr_assert(strstr(r.err, "run m2masctl init"), "%s", r.err);
	run_free(&r);
	init_store();
	r = ctl("migrate");
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(strstr(r.out, "schema version 2, nothing to migrate"), "%s", r.out);
	run_free(&r);
	r = ctl("node", "add", "/mn-cse-1", "--km-id", "k", "--target", "/in", "--generate-km");
	cr_assert_eq(r.status, 0, "the migrated store is usable: %s", r.err);
	run_free(&r);
}

/*
 * A schema 1 store (no nodes.impi) is refused by m2masd's open until m2masctl
 * migrate brings it to 2; its nodes and their Km survive, and impi is "".
 */
Test(m2masctl, migrate_takes_a_schema_1_store_to_2)
{
	bool pg = store_backend_for_location(store_path) == STORE_BACKEND_POSTGRESQL;
	_cleanup_secret_ struct secret *mk = NULL;
	struct secret *km = NULL;
	struct store *s = NULL;
	struct store_node n;
	struct run r;

	init_store();
	r = ctl("node", "add", "/mn-cse-1", "--km-id", "k", "--target", "/in", "--generate-km");
	cr_assert_eq(r.status, 0, "%s", r.err);
	run_free(&r);
	store_fixture_exec(store_path, pg ? "ALTER TABLE nodes DROP COLUMN impi; "
					    "DELETE FROM m2msa_schema WHERE version = 2" :
					    "ALTER TABLE nodes DROP COLUMN impi; "
					    "PRAGMA user_version = 1");
	cr_assert_eq(mas_master_key_load(key_path, &mk), 0);
	cr_assert_eq(store_open(store_path, mk->data, &s), -ESTALE, "schema 1 before migrate");
	r = ctl("migrate");
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(strstr(r.out, "schema migrated from version 1 to 2"), "%s", r.out);
	run_free(&r);
	s = open_store();
	cr_assert_eq(store_node_get(s, "/mn-cse-1", &n), 0);
	cr_expect_str_eq(n.impi, "");
	cr_expect_eq(store_node_get_km(s, "/mn-cse-1", &km), 0, "Km kept by the migration");
	secret_free(km);
	cr_expect_eq(store_node_set_impi(s, "/mn-cse-1", "node1@ims.test"), 0);
	store_close(s);
	r = ctl("migrate");
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert(strstr(r.out, "schema version 2, nothing to migrate"), "%s", r.out);
	run_free(&r);
}

/* PostgreSQL only: the password comes from [store] password_file, and a wrong one is named. */
Test(m2masctl, postgresql_password_file_is_used_and_errors_name_the_fix)
{
	char *conf, *text, *pw;
	const char *list[] = { bin, "--config", NULL, "node", "list", NULL };
	struct run r = { 0 };

	if (!pg_fixture_enabled()) {
		teardown(); /* a skipped test does not reach .fini */
		cr_skip_test("needs the PostgreSQL suite (meson test --suite integration-pg)");
	}
	init_store();
	conf = harness_strdupf("%s/m2masd.conf", dir);
	pw = harness_strdupf("%s/pg-password", dir);
	list[2] = conf;
	text = harness_strdupf("[store]\nbackend = postgresql\nconninfo = %s\npassword_file = %s\n"
			       "master_key = %s\n",
			       store_path, pw, key_path);
	cr_assert_eq(harness_write_file(conf, text, strlen(text), 0644), 0);
	cr_assert_eq(harness_write_file(pw, "not-the-password\n", 17, 0600), 0);
	/* libpq would use PGPASSFILE's right password if ours were not passed. */
	cr_assert_eq(harness_run(list, NULL, NULL, &r.status, &r.out, &r.err), 0);
	cr_assert_eq(r.status, 1, "a wrong password is refused");
	cr_assert(strstr(r.err, "password_file"), "names the setting: %s", r.err);
	run_free(&r);

	cr_assert_eq(chmod(pw, 0644), 0);
	cr_assert_eq(harness_run(list, NULL, NULL, &r.status, &r.out, &r.err), 0);
	cr_assert_eq(r.status, 1);
	cr_assert(strstr(r.err, "chmod 600"), "a readable password file is refused: %s", r.err);
	run_free(&r);

	free(text);
	text = harness_strdupf("[store]\nbackend = postgresql\nconninfo = %s\npassword_file = %s\n"
			       "master_key = %s\n",
			       store_path, pg_fixture_password_file(), key_path);
	cr_assert_eq(harness_write_file(conf, text, strlen(text), 0644), 0);
	cr_assert_eq(harness_run(list, NULL, NULL, &r.status, &r.out, &r.err), 0);
	cr_assert_eq(r.status, 0, "the right password file: %s", r.err);
	run_free(&r);

	free(text);
	text = harness_strdupf("[store]\nbackend = postgresql\nconninfo = host=127.0.0.1 port=1 "
			       "dbname=x connect_timeout=2\nmaster_key = %s\n",
			       key_path);
	cr_assert_eq(harness_write_file(conf, text, strlen(text), 0644), 0);
	cr_assert_eq(harness_run(list, NULL, NULL, &r.status, &r.out, &r.err), 0);
	cr_assert_eq(r.status, 1);
	cr_assert(strstr(r.err, "is the server running"), "an unreachable server: %s", r.err);
	run_free(&r);

	free(text);
	free(pw);
	free(conf);
}
