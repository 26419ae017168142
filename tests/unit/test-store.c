/* SPDX-License-Identifier: Apache-2.0 */
/* The SQLite node store: nodes, associations, encryption at rest, master key files, bad files. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/crypto.h"
#include "common/secret.h"
#include "mas/keyfile.h"
#include "mas/store.h"

static char dir[64];
static char db_path[128];
static uint8_t mk[STORE_MASTER_KEY_LEN];
static struct store *st;

static void setup(void)
{
	strcpy(dir, "/tmp/m2msa-test-store-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(db_path, sizeof(db_path), "%s/mas.db", dir);
	cr_assert_eq(crypto_random(mk, sizeof(mk)), 0);
	st = NULL;
}

static void teardown(void)
{
	char cmd[128];

	store_close(st);
	st = NULL;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

static struct store *open_store(void)
{
	struct store *s = NULL;
	int r = store_open(db_path, mk, &s);

	cr_assert_eq(r, 0, "store_open: %s", strerror(-r));
	return s;
}

/* A node with a given ID and a Km whose every byte is fill. */
static struct store_node make_node(const char *id, const char *target)
{
	struct store_node n = {
		.methods = { WIRE_METHOD_PSK, WIRE_METHOD_PKI },
		.n_methods = 2,
		.lifetime = 3600,
		.state = STORE_NODE_ACTIVE,
	};

	snprintf(n.node_id, sizeof(n.node_id), "%s", id);
	snprintf(n.km_id, sizeof(n.km_id), "km-%s@mas.example.org", id[0] == '/' ? id + 1 : id);
	snprintf(n.target_id, sizeof(n.target_id), "%s", target);
	return n;
}

static void fill(uint8_t *b, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(seed + 7 * i);
}

static struct store_assoc make_assoc(uint8_t seed, const char *node_id, uint64_t expiry)
{
	struct store_assoc a = { .method = WIRE_METHOD_PSK, .created = 1000, .expiry = expiry };

	fill(a.kcid, sizeof(a.kcid), seed);
	snprintf(a.node_id, sizeof(a.node_id), "%s", node_id);
	snprintf(a.target_id, sizeof(a.target_id), "/in-cse");
	return a;
}

static void add_node(const char *id, uint8_t km_seed)
{
	struct store_node n = make_node(id, "/in-cse");
	uint8_t km[32];

	fill(km, sizeof(km), km_seed);
	cr_assert_eq(store_node_add(st, &n, km), 0);
}

static void add_assoc(uint8_t seed, const char *node_id, uint64_t expiry)
{
	struct store_assoc a = make_assoc(seed, node_id, expiry);
	uint8_t kc[32], ae[32];

	fill(kc, sizeof(kc), (uint8_t)(seed + 100));
	fill(ae, sizeof(ae), (uint8_t)(seed + 200));
	cr_assert_eq(store_assoc_add(st, &a, kc, ae), 0);
}

TestSuite(store, .init = setup, .fini = teardown);

struct collect {
	char ids[8][WIRE_ID_MAX + 1];
	size_t n;
	size_t stop_after;
};

static int collect_node(const struct store_node *n, void *userdata)
{
	struct collect *c = userdata;

	cr_assert_lt(c->n, 8);
	strcpy(c->ids[c->n++], n->node_id);
	return c->stop_after && c->n == c->stop_after ? 42 : 0;
}

Test(store, node_add_get_list)
{
	struct collect c = { .n = 0 };
	struct store_node got;

	st = open_store();
	add_node("/mn-cse-b", 1);
	add_node("/mn-cse-a", 2);
	add_node("/mn-cse-c", 3);

	cr_assert_eq(store_node_get(st, "/mn-cse-a", &got), 0);
	cr_assert_str_eq(got.node_id, "/mn-cse-a");
	cr_assert_str_eq(got.km_id, "km-mn-cse-a@mas.example.org");
	cr_assert_str_eq(got.target_id, "/in-cse");
	cr_assert_eq(got.n_methods, 2);
	cr_assert_eq(got.methods[0], WIRE_METHOD_PSK);
	cr_assert_eq(got.methods[1], WIRE_METHOD_PKI);
	cr_assert_eq(got.lifetime, 3600);
	cr_assert_eq(got.state, STORE_NODE_ACTIVE);
	cr_assert_gt(got.created, 1600000000, "created is set to now when not given");

	cr_assert_eq(store_node_foreach(st, collect_node, &c), 0);
	cr_assert_eq(c.n, 3);
	cr_assert_str_eq(c.ids[0], "/mn-cse-a", "node_id order");
	cr_assert_str_eq(c.ids[1], "/mn-cse-b");
	cr_assert_str_eq(c.ids[2], "/mn-cse-c");

	c = (struct collect){ .stop_after = 2 };
	cr_assert_eq(store_node_foreach(st, collect_node, &c), 42, "callback's value stops");
	cr_assert_eq(c.n, 2);
}

Test(store, node_survives_reopen)
{
	struct store_node got;

	st = open_store();
	add_node("/mn-cse-1", 1);
	store_close(st);
	st = open_store();
	cr_assert_eq(store_node_get(st, "/mn-cse-1", &got), 0);
	cr_assert_str_eq(got.target_id, "/in-cse");
}

Test(store, node_duplicate_is_eexist)
{
	struct store_node n = make_node("/mn-cse-1", "");
	uint8_t km[32] = { 0 };

	st = open_store();
	cr_assert_eq(store_node_add(st, &n, km), 0);
	cr_assert_eq(store_node_add(st, &n, km), -EEXIST);
}

Test(store, node_unknown_is_enoent)
{
	struct store_node got;
	struct secret *k = NULL;
	uint8_t m = WIRE_METHOD_PSK;

	st = open_store();
	add_node("/mn-cse-1", 1);
	cr_assert_eq(store_node_get(st, "/nobody", &got), -ENOENT);
	cr_assert_eq(store_node_get_km(st, "/nobody", &k), -ENOENT);
	cr_assert_null(k, "ret untouched on failure");
	cr_assert_eq(store_node_set_target(st, "/nobody", "/in-cse"), -ENOENT);
	cr_assert_eq(store_node_set_methods(st, "/nobody", &m, 1), -ENOENT);
	cr_assert_eq(store_node_set_lifetime(st, "/nobody", 60), -ENOENT);
	cr_assert_eq(store_node_revoke(st, "/nobody"), -ENOENT);
	cr_assert_eq(store_node_delete(st, "/nobody"), -ENOENT);
}

Test(store, node_invalid_fields_are_einval)
{
	struct store_node n = make_node("bad id with spaces", "");
	uint8_t km[32] = { 0 }, dup[2] = { WIRE_METHOD_PSK, WIRE_METHOD_PSK }, unknown = 99;

	st = open_store();
	cr_assert_eq(store_node_add(st, &n, km), -EINVAL);
	n = make_node("/mn-cse-1", "bad target!");
	cr_assert_eq(store_node_add(st, &n, km), -EINVAL);
	n = make_node("/mn-cse-1", "");
	n.n_methods = 0;
	cr_assert_eq(store_node_add(st, &n, km), -EINVAL);
	n = make_node("/mn-cse-1", "");
	cr_assert_eq(store_node_add(st, &n, km), 0);
	cr_assert_eq(store_node_set_methods(st, "/mn-cse-1", dup, 2), -EINVAL);
	cr_assert_eq(store_node_set_methods(st, "/mn-cse-1", &unknown, 1), -EINVAL);
	cr_assert_eq(store_node_set_target(st, "/mn-cse-1", "a b"), -EINVAL);
}

Test(store, node_setters_persist)
{
	uint8_t m[2] = { WIRE_METHOD_PKI, WIRE_METHOD_GBA };
	struct store_node got;

	st = open_store();
	add_node("/mn-cse-1", 1);
	cr_assert_eq(store_node_set_target(st, "/mn-cse-1", "/in-cse-2"), 0);
	cr_assert_eq(store_node_set_methods(st, "/mn-cse-1", m, 2), 0);
	cr_assert_eq(store_node_set_lifetime(st, "/mn-cse-1", 6), 0);
	store_close(st);
	st = open_store();
	cr_assert_eq(store_node_get(st, "/mn-cse-1", &got), 0);
	cr_assert_str_eq(got.target_id, "/in-cse-2");
	cr_assert_eq(got.n_methods, 2);
	cr_assert_eq(got.methods[0], WIRE_METHOD_PKI);
	cr_assert_eq(got.methods[1], WIRE_METHOD_GBA);
	cr_assert_eq(got.lifetime, 6);
	cr_assert_eq(store_node_set_target(st, "/mn-cse-1", ""), 0, "an empty target is allowed");
}

Test(store, km_round_trip)
{
	struct store_node n = make_node("/mn-cse-1", "/in-cse");
	_cleanup_secret_ struct secret *k = NULL;
	uint8_t km[32];

	st = open_store();
	cr_assert_eq(crypto_random(km, sizeof(km)), 0);
	cr_assert_eq(store_node_add(st, &n, km), 0);
	store_close(st);
	st = open_store();
	cr_assert_eq(store_node_get_km(st, "/mn-cse-1", &k), 0);
	cr_assert_eq(k->len, 32);
	cr_assert(secret_equal(k->data, km, 32), "the decrypted Km equals the one added");
}

static bool file_contains(const char *path, const uint8_t *needle, size_t len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long size;
	bool found;

	if (!f)
		return false;
	cr_assert_eq(fseek(f, 0, SEEK_END), 0);
	size = ftell(f);
	rewind(f);
	buf = malloc((size_t)size + 1);
	cr_assert_not_null(buf);
	cr_assert_eq(fread(buf, 1, (size_t)size, f), (size_t)size);
	fclose(f);
	found = memmem(buf, (size_t)size, needle, len) != NULL;
	free(buf);
	return found;
}

Test(store, file_holds_no_plaintext_keys)
{
	struct store_node n = make_node("/mn-cse-1", "/in-cse");
	struct store_assoc a = make_assoc(9, "/mn-cse-1", 5000);
	uint8_t km[32], kc[32], ae[32], kcid_text[16];
	char wal[160];

	memset(km, 0x5a, sizeof(km));
	memset(kc, 0xc3, sizeof(kc));
	memset(ae, 0xa7, sizeof(ae));
	st = open_store();
	cr_assert_eq(store_node_add(st, &n, km), 0);
	cr_assert_eq(store_assoc_add(st, &a, kc, ae), 0);
	/* Still open: the rows may sit in the -wal file; check both. */
	snprintf(wal, sizeof(wal), "%s-wal", db_path);
	memcpy(kcid_text, a.kcid, 16);
	cr_assert(file_contains(db_path, kcid_text, 16) || file_contains(wal, kcid_text, 16),
		  "the search itself finds what is stored (KcID is stored in clear)");
	for (int pass = 0; pass < 2; pass++) {
		cr_assert_not(file_contains(db_path, km, 16), "Km in the database file");
		cr_assert_not(file_contains(db_path, kc, 16), "Kc in the database file");
		cr_assert_not(file_contains(db_path, ae, 16), "AE root in the database file");
		cr_assert_not(file_contains(wal, km, 16), "Km in the WAL");
		cr_assert_not(file_contains(wal, kc, 16), "Kc in the WAL");
		cr_assert_not(file_contains(wal, ae, 16), "AE root in the WAL");
		store_close(st);
		st = NULL;
	}
}

/* Read one BLOB column of one row with plain SQLite. */
static size_t read_blob(const char *sql, uint8_t *out, size_t out_len)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *q = NULL;
	size_t len;

	cr_assert_eq(sqlite3_open(db_path, &db), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_step(q), SQLITE_ROW);
	len = (size_t)sqlite3_column_bytes(q, 0);
	cr_assert_leq(len, out_len);
	memcpy(out, sqlite3_column_blob(q, 0), len);
	sqlite3_finalize(q);
	sqlite3_close(db);
	return len;
}

static void exec(const char *sql)
{
	sqlite3 *db = NULL;

	cr_assert_eq(sqlite3_open(db_path, &db), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
	sqlite3_close(db);
}

Test(store, wrong_master_key_cannot_decrypt)
{
	static const char aad[] = "node:/mn-cse-1";
	uint8_t other[32], sealed[128], out[128], km[32];
	struct store *s2 = NULL;
	size_t len;

	st = open_store();
	add_node("/mn-cse-1", 1);
	store_close(st);
	st = NULL;

	memcpy(other, mk, sizeof(other));
	other[0] ^= 1;
	cr_assert_eq(store_open(db_path, other, &s2), -EKEYREJECTED,
		     "a store refuses a master key that is not its own");
	cr_assert_null(s2);

	len = read_blob("SELECT km_sealed FROM nodes WHERE node_id = '/mn-cse-1'", sealed,
			sizeof(sealed));
	cr_assert_eq(len, 32 + CRYPTO_SEAL_OVERHEAD);
	cr_assert_eq(crypto_open(other, (const uint8_t *)aad, strlen(aad), sealed, len, out),
		     -EBADMSG, "the sealed Km does not open under another key");
	cr_assert_eq(crypto_open(mk, (const uint8_t *)aad, strlen(aad), sealed, len, out), 0,
		     "and does under the right one (the aad is as documented)");
	fill(km, sizeof(km), 1);
	cr_assert_eq(memcmp(out, km, 32), 0);
}

Test(store, sealed_blob_moved_to_another_row_fails)
{
	struct secret *k = NULL;

	st = open_store();
	add_node("/mn-cse-1", 1);
	add_node("/mn-cse-2", 2);
	add_assoc(1, "/mn-cse-1", 5000);
	store_close(st);
	st = NULL;
	exec("UPDATE nodes SET km_sealed = (SELECT km_sealed FROM nodes WHERE node_id = '/mn-cse-1') "
	     "WHERE node_id = '/mn-cse-2'");
	exec("UPDATE assocs SET ae_root_sealed = kc_sealed");
	st = open_store();
	cr_assert_eq(store_node_get_km(st, "/mn-cse-2", &k), -EBADMSG);
	cr_assert_null(k);
	cr_assert_eq(store_node_get_km(st, "/mn-cse-1", &k), 0);
	secret_free(k);
	k = NULL;
	{
		struct store_assoc a = make_assoc(1, "/mn-cse-1", 5000);
		struct secret *kc = NULL, *ae = NULL;

		cr_assert_eq(store_assoc_get_keys(st, a.kcid, &kc, NULL), 0);
		secret_free(kc);
		kc = NULL;
		cr_assert_eq(store_assoc_get_keys(st, a.kcid, &kc, &ae), -EBADMSG,
			     "Kc's blob in the AE-root column does not open");
		cr_assert_null(kc, "no output on failure");
		cr_assert_null(ae);
	}
}

struct assoc_seen {
	size_t n, n_revoked;
};

static int count_assoc(const struct store_assoc *a, void *userdata)
{
	struct assoc_seen *s = userdata;

	s->n++;
	s->n_revoked += a->revoked;
	return 0;
}

Test(store, revoke_node_revokes_its_associations)
{
	struct assoc_seen seen = { 0 };
	struct store_node got;

	st = open_store();
	add_node("/mn-cse-1", 1);
	add_node("/mn-cse-2", 2);
	add_assoc(1, "/mn-cse-1", 5000);
	add_assoc(2, "/mn-cse-1", 6000);
	add_assoc(3, "/mn-cse-2", 5000);
	cr_assert_eq(store_node_revoke(st, "/mn-cse-1"), 0);
	cr_assert_eq(store_node_get(st, "/mn-cse-1", &got), 0);
	cr_assert_eq(got.state, STORE_NODE_REVOKED);
	cr_assert_str_eq(store_node_state_to_string(got.state), "revoked");

	cr_assert_eq(store_assoc_foreach(st, "/mn-cse-1", count_assoc, &seen), 0);
	cr_assert_eq(seen.n, 2);
	cr_assert_eq(seen.n_revoked, 2, "both of the node's associations are revoked");
	seen = (struct assoc_seen){ 0 };
	cr_assert_eq(store_assoc_foreach(st, "/mn-cse-2", count_assoc, &seen), 0);
	cr_assert_eq(seen.n, 1);
	cr_assert_eq(seen.n_revoked, 0, "another node's association is untouched");
	cr_assert_eq(store_node_get(st, "/mn-cse-2", &got), 0);
	cr_assert_eq(got.state, STORE_NODE_ACTIVE);
}

Test(store, delete_node_deletes_its_associations)
{
	struct assoc_seen seen = { 0 };
	struct store_assoc a = make_assoc(1, "/mn-cse-1", 5000);
	struct store_assoc got;

	st = open_store();
	add_node("/mn-cse-1", 1);
	add_node("/mn-cse-2", 2);
	add_assoc(1, "/mn-cse-1", 5000);
	add_assoc(3, "/mn-cse-2", 5000);
	cr_assert_eq(store_node_delete(st, "/mn-cse-1"), 0);
	cr_assert_eq(store_assoc_get(st, a.kcid, &got), -ENOENT);
	cr_assert_eq(store_assoc_foreach(st, NULL, count_assoc, &seen), 0);
	cr_assert_eq(seen.n, 1);
}

Test(store, assoc_add_get_keys_revoke)
{
	struct store_assoc a = make_assoc(1, "/mn-cse-1", 5000), got;
	_cleanup_secret_ struct secret *kc = NULL;
	_cleanup_secret_ struct secret *ae = NULL;
	uint8_t want_kc[32], want_ae[32], unknown[16] = { 0 };

	st = open_store();
	add_node("/mn-cse-1", 1);
	add_assoc(1, "/mn-cse-1", 5000);

	cr_assert_eq(store_assoc_get(st, a.kcid, &got), 0);
	cr_assert_eq(memcmp(got.kcid, a.kcid, 16), 0);
	cr_assert_str_eq(got.node_id, "/mn-cse-1");
	cr_assert_str_eq(got.target_id, "/in-cse");
	cr_assert_eq(got.method, WIRE_METHOD_PSK);
	cr_assert_eq(got.created, 1000);
	cr_assert_eq(got.expiry, 5000);
	cr_assert_not(got.revoked);

	fill(want_kc, 32, 101);
	fill(want_ae, 32, 201);
	cr_assert_eq(store_assoc_get_keys(st, a.kcid, &kc, &ae), 0);
	cr_assert(secret_equal(kc->data, want_kc, 32));
	cr_assert(secret_equal(ae->data, want_ae, 32));
	secret_free(kc);
	kc = NULL;
	cr_assert_eq(store_assoc_get_keys(st, a.kcid, &kc, NULL), 0, "AE root not asked for");
	cr_assert(secret_equal(kc->data, want_kc, 32));

	cr_assert_eq(store_assoc_get(st, unknown, &got), -ENOENT);
	cr_assert_eq(store_assoc_get_keys(st, unknown, NULL, NULL), -ENOENT);
	cr_assert_eq(store_assoc_revoke(st, unknown), -ENOENT);

	cr_assert_eq(store_assoc_revoke(st, a.kcid), 0);
	cr_assert_eq(store_assoc_get(st, a.kcid, &got), 0);
	cr_assert(got.revoked);
}

Test(store, assoc_duplicate_and_unknown_node)
{
	struct store_assoc a = make_assoc(1, "/mn-cse-1", 5000);
	uint8_t k[32] = { 0 };

	st = open_store();
	add_node("/mn-cse-1", 1);
	cr_assert_eq(store_assoc_add(st, &a, k, k), 0);
	cr_assert_eq(store_assoc_add(st, &a, k, k), -EEXIST, "KcID taken");
	a = make_assoc(2, "/nobody", 5000);
	cr_assert_eq(store_assoc_add(st, &a, k, k), -ENOENT, "foreign key: node must exist");
}

Test(store, purge_removes_only_expired)
{
	struct store_assoc a1 = make_assoc(1, "/mn-cse-1", 5000), a3 = make_assoc(3, "/mn-cse-1", 9000);
	struct store_assoc got;

	st = open_store();
	add_node("/mn-cse-1", 1);
	add_assoc(1, "/mn-cse-1", 5000);
	add_assoc(2, "/mn-cse-1", 6000);
	add_assoc(3, "/mn-cse-1", 9000);
	cr_assert_eq(store_assoc_purge_expired(st, 4999), 0);
	cr_assert_eq(store_assoc_purge_expired(st, 6000), 2, "expiry <= now goes");
	cr_assert_eq(store_assoc_get(st, a1.kcid, &got), -ENOENT);
	cr_assert_eq(store_assoc_get(st, a3.kcid, &got), 0);
	cr_assert_eq(store_assoc_purge_expired(st, 6000), 0);
}

Test(store, two_handles_see_each_others_writes)
{
	struct store *other = NULL;
	struct store_node got;

	st = open_store();
	cr_assert_eq(store_open(db_path, mk, &other), 0);
	add_node("/mn-cse-1", 1);
	cr_assert_eq(store_node_get(other, "/mn-cse-1", &got), 0, "m2masctl's add seen by m2masd");
	cr_assert_eq(store_node_revoke(other, "/mn-cse-1"), 0);
	cr_assert_eq(store_node_get(st, "/mn-cse-1", &got), 0);
	cr_assert_eq(got.state, STORE_NODE_REVOKED);
	store_close(other);
}

Test(store, store_file_is_private)
{
	struct stat sb;

	st = open_store();
	cr_assert_eq(stat(db_path, &sb), 0);
	cr_assert_eq(sb.st_mode & 0777, 0600);
}

Test(store, not_sqlite_is_eio)
{
	struct store *s = NULL;
	FILE *f = fopen(db_path, "w");

	cr_assert_not_null(f);
	for (int i = 0; i < 100; i++)
		fputs("this is not an SQLite database at all\n", f);
	fclose(f);
	cr_assert_eq(store_open(db_path, mk, &s), -EIO);
	cr_assert_null(s);
}

Test(store, foreign_schema_is_eproto)
{
	struct store *s = NULL;

	exec("CREATE TABLE something (x INTEGER)");
	cr_assert_eq(store_open(db_path, mk, &s), -EPROTO, "another program's database");
	cr_assert_null(s);

	cr_assert_eq(unlink(db_path), 0);
	st = open_store();
	store_close(st);
	st = NULL;
	exec("PRAGMA user_version = 99");
	cr_assert_eq(store_open(db_path, mk, &s), -EPROTO, "a newer schema version");
}

Test(store, missing_folder_is_enoent)
{
	struct store *s = NULL;
	char path[160];

	snprintf(path, sizeof(path), "%s/no/such/dir/mas.db", dir);
	cr_assert_eq(store_open(path, mk, &s), -ENOENT);
}

/* ---- master key files ---- */

static void write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, data, len), (ssize_t)len);
	cr_assert_eq(fchmod(fd, mode), 0);
	close(fd);
}

Test(store, master_key_group_readable_is_eperm)
{
	struct secret *k = NULL;
	char path[128];

	snprintf(path, sizeof(path), "%s/mk", dir);
	write_file(path, mk, sizeof(mk), 0644);
	cr_assert_eq(mas_master_key_load(path, &k), -EPERM);
	cr_assert_null(k);
	cr_assert_eq(chmod(path, 0640), 0);
	cr_assert_eq(mas_master_key_load(path, &k), -EPERM);
	cr_assert_eq(chmod(path, 0600), 0);
	cr_assert_eq(mas_master_key_load(path, &k), 0);
	cr_assert(secret_equal(k->data, mk, 32));
	secret_free(k);
}

Test(store, master_key_raw_and_hex_agree)
{
	_cleanup_secret_ struct secret *raw = NULL;
	_cleanup_secret_ struct secret *hex = NULL;
	struct secret *bad = NULL;
	char text[80], path[128];

	snprintf(path, sizeof(path), "%s/mk", dir);
	write_file(path, mk, sizeof(mk), 0600);
	cr_assert_eq(mas_master_key_load(path, &raw), 0);
	mas_key_to_hex(mk, text);
	strcat(text, "\n");
	write_file(path, text, strlen(text), 0600);
	cr_assert_eq(mas_master_key_load(path, &hex), 0);
	cr_assert(secret_equal(raw->data, mk, 32));
	cr_assert(secret_equal(hex->data, mk, 32));

	text[10] = 'x';
	write_file(path, text, strlen(text), 0600);
	cr_assert_eq(mas_master_key_load(path, &bad), -EINVAL, "not hex");
	write_file(path, mk, 31, 0600);
	cr_assert_eq(mas_master_key_load(path, &bad), -EINVAL, "31 bytes");
	write_file(path, "", 0, 0600);
	cr_assert_eq(mas_master_key_load(path, &bad), -EINVAL, "empty");
	cr_assert_null(bad);
	snprintf(path, sizeof(path), "%s/absent", dir);
	cr_assert_eq(mas_master_key_load(path, &bad), -ENOENT);
}

Test(store, master_key_create)
{
	_cleanup_secret_ struct secret *a = NULL;
	_cleanup_secret_ struct secret *b = NULL;
	struct stat sb;
	char path[128], path2[128];

	snprintf(path, sizeof(path), "%s/mk", dir);
	snprintf(path2, sizeof(path2), "%s/mk2", dir);
	umask(0);
	cr_assert_eq(mas_master_key_create(path), 0);
	cr_assert_eq(stat(path, &sb), 0);
	cr_assert_eq(sb.st_mode & 0777, 0600, "mode 0600 whatever the umask");
	cr_assert_eq(mas_master_key_create(path), -EEXIST, "never overwritten");
	cr_assert_eq(mas_master_key_create(path2), 0);
	cr_assert_eq(mas_master_key_load(path, &a), 0);
	cr_assert_eq(mas_master_key_load(path2, &b), 0);
	cr_assert_not(secret_equal(a->data, b->data, 32), "two keys differ (random)");
	st = NULL;
	cr_assert_eq(store_open(db_path, a->data, &st), 0, "a created key opens a store");
}

/* Pairwise end-to-end keys (docs/protocol.md §14): sealed, bound to their ID, revoked with the node, purged. */
Test(store, peer_keys_sealed_revoked_with_their_node_and_purged)
{
	uint8_t master[STORE_MASTER_KEY_LEN] = { 7 }, km[32] = { 1 }, key[32];
	struct store_node n = { .node_id = "/mn-cse-1", .km_id = "km@x", .n_methods = 1,
				.methods = { WIRE_METHOD_PSK } };
	struct store_peer_key k = { .node_id = "/mn-cse-1", .ae_id = "Cae1",
				    .target = "/mn-cse-2/Cae2", .created = 100, .expiry = 200 }, g;
	struct secret *got = NULL;
	char path[] = "/tmp/test-store-peer-XXXXXX";
	struct store *s = NULL;
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	close(fd);
	unlink(path);
	memset(key, 0x5a, sizeof(key));
	memset(k.id, 0x11, sizeof(k.id));
	cr_assert_eq(store_open(path, master, &s), 0);
	cr_assert_eq(store_node_add(s, &n, km), 0);
	strcpy(n.node_id, "/mn-cse-2"); /* the target's node */
	cr_assert_eq(store_node_add(s, &n, km), 0);
	cr_assert_eq(store_peer_key_add(s, &k, key), 0);
	cr_expect_eq(store_peer_key_add(s, &k, key), -EEXIST);
	cr_assert_eq(store_peer_key_get(s, k.id, &g, &got), 0);
	cr_expect_arr_eq(got->data, key, 32);
	cr_expect_str_eq(g.target, "/mn-cse-2/Cae2");
	cr_expect_not(g.revoked);
	secret_free(got);
	got = NULL;
	strcpy(k.target, "mn-cse-2/Cae2");
	k.id[0] = 0x22;
	cr_expect_eq(store_peer_key_add(s, &k, key), -EINVAL, "a target that is not absolute");
	cr_assert_eq(store_node_revoke(s, "/mn-cse-1"), 1, "one pairwise key revoked");
	memset(k.id, 0x11, sizeof(k.id));
	cr_assert_eq(store_peer_key_get(s, k.id, &g, NULL), 0);
	cr_expect(g.revoked, "revoking the node revokes the keys it registered");
	cr_expect_eq(store_peer_key_purge_expired(s, 199), 0);
	cr_expect_eq(store_peer_key_purge_expired(s, 200), 1);
	cr_expect_eq(store_peer_key_get(s, k.id, &g, NULL), -ENOENT);
	store_close(s);
	unlink(path);
}

/* The same store calls for a pairwise key, as used below. */
static struct store_peer_key make_peer(uint8_t id_byte, const char *node_id)
{
	struct store_peer_key k = { .ae_id = "Cae1", .target = "/mn-cse-2/Cae2", .created = 100,
				    .expiry = 200 };

	memset(k.id, id_byte, sizeof(k.id));
	snprintf(k.node_id, sizeof(k.node_id), "%s", node_id);
	return k;
}

Test(store, peer_key_unknown_node_moved_blob_and_node_delete)
{
	struct store_peer_key a = make_peer(0x11, "/mn-cse-1"), b = make_peer(0x22, "/mn-cse-1");
	struct store_peer_key c = make_peer(0x33, "/nobody"), g;
	uint8_t key[32], sealed[128];
	struct secret *got = NULL;
	size_t len;
	char sql[512];

	fill(key, sizeof(key), 3);
	st = open_store();
	add_node("/mn-cse-1", 9);
	add_node("/mn-cse-2", 8);
	cr_assert_eq(store_peer_key_add(st, &a, key), 0);
	cr_assert_eq(store_peer_key_add(st, &b, key), 0);
	cr_expect_eq(store_peer_key_add(st, &c, key), -ENOENT, "a key for an unknown node");
	cr_expect_eq(store_peer_key_revoke(st, c.id), -ENOENT);
	/* a's sealed key in b's row: bound to its ID, it does not open there. */
	len = read_blob("SELECT key_sealed FROM peer_keys WHERE id = x'11111111111111111111111111111111'",
			sealed, sizeof(sealed));
	cr_assert_gt(len, 32);
	snprintf(sql, sizeof(sql), "UPDATE peer_keys SET key_sealed = x'");
	for (size_t i = 0; i < len; i++)
		snprintf(sql + strlen(sql), sizeof(sql) - strlen(sql), "%02x", sealed[i]);
	snprintf(sql + strlen(sql), sizeof(sql) - strlen(sql),
		 "' WHERE id = x'22222222222222222222222222222222'");
	exec(sql);
	cr_expect_eq(store_peer_key_get(st, b.id, &g, &got), -EBADMSG);
	cr_expect_eq(store_peer_key_get(st, a.id, &g, &got), 0);
	secret_free(got);
	cr_assert_eq(store_peer_key_revoke(st, a.id), 0);
	cr_assert_eq(store_peer_key_get(st, a.id, &g, NULL), 0);
	cr_expect(g.revoked);
	cr_assert_eq(store_node_delete(st, "/mn-cse-1"), 2, "two pairwise keys deleted");
	cr_expect_eq(store_peer_key_get(st, a.id, &g, NULL), -ENOENT, "deleted with their node");
	cr_expect_eq(store_peer_key_get(st, b.id, &g, NULL), -ENOENT, "deleted with their node");
}

/* A store observer (store_set_observer) that counts the operations reported failed. */
static void count_failed(uint64_t ns, bool failed, void *userdata)
{
	if (failed)
		++*(int *)userdata;
}

/*
 * A pairwise key is refused in its insert's transaction when its originator's node
 * or its target's node is revoked (-EKEYREVOKED) or gone (-ENOENT), and nothing is
 * written: a node revoke between m2masd's checks and the insert cannot leave an
 * active key towards or from the revoked node behind. A refusal is an answer, not
 * a store failure (m2masd_store_errors_total).
 */
Test(store, peer_key_refused_for_a_revoked_or_missing_node)
{
	struct store_peer_key k = make_peer(0x11, "/mn-cse-1"), g;
	uint8_t key[32];
	int failed = 0;

	fill(key, sizeof(key), 4);
	st = open_store();
	store_set_observer(st, count_failed, &failed);
	add_node("/mn-cse-1", 9);
	add_node("/mn-cse-2", 8);
	add_node("mn-cse-3", 7); /* named by targets "/mn-cse-3/..." */
	cr_assert_eq(store_peer_key_add(st, &k, key), 0, "the control: both nodes active");
	cr_assert_eq(store_node_revoke(st, "/mn-cse-2"), 1);
	k.id[0] = 0x12;
	cr_expect_eq(store_peer_key_add(st, &k, key), -EKEYREVOKED, "the target's node revoked");
	cr_expect_eq(store_peer_key_get(st, k.id, &g, NULL), -ENOENT, "a row was written");
	k = make_peer(0x13, "/mn-cse-2");
	strcpy(k.target, "/mn-cse-1/Cae1");
	cr_expect_eq(store_peer_key_add(st, &k, key), -EKEYREVOKED, "the originator's revoked");
	cr_expect_eq(store_peer_key_get(st, k.id, &g, NULL), -ENOENT, "a row was written");
	k = make_peer(0x14, "/mn-cse-1");
	strcpy(k.target, "/mn-cse-9/Cae2");
	cr_expect_eq(store_peer_key_add(st, &k, key), -ENOENT, "no node for the target");
	cr_expect_eq(store_peer_key_get(st, k.id, &g, NULL), -ENOENT, "a row was written");
	k.id[0] = 0x15;
	strcpy(k.target, "/mn-cse-3/Cae3");
	cr_assert_eq(store_peer_key_add(st, &k, key), 0, "the target's node without its '/'");
	cr_assert_eq(store_node_revoke(st, "mn-cse-3"), 1);
	k.id[0] = 0x16;
	cr_expect_eq(store_peer_key_add(st, &k, key), -EKEYREVOKED);
	cr_expect_eq(store_peer_key_get(st, k.id, &g, NULL), -ENOENT, "a row was written");
	cr_assert_eq(store_node_delete(st, "/mn-cse-1"), 2, "the two keys of the controls");
	k = make_peer(0x17, "/mn-cse-1");
	cr_expect_eq(store_peer_key_add(st, &k, key), -EKEYREVOKED, "revoked before missing");
	k.target[8] = '9'; /* "/mn-cse-9/Cae2" */
	cr_expect_eq(store_peer_key_add(st, &k, key), -ENOENT, "neither node there");
	cr_expect_eq(store_peer_key_get(st, k.id, &g, NULL), -ENOENT, "a row was written");
	cr_expect_eq(failed, 0, "a refused key was reported as a failed store operation");
}

/* A pairwise key stored from another thread: its result. */
struct peer_add {
	struct store_peer_key k;
	int r;
};

static void *peer_add_thread(void *arg)
{
	struct peer_add *a = arg;
	uint8_t key[32] = { 0 };

	a->r = store_peer_key_add(st, &a->k, key);
	return NULL;
}

/*
 * A node revoke in flight on another connection (its write transaction open when
 * the insert starts): the insert waits for the write lock and reads the nodes
 * under it, so it sees the target's node revoked, not the state before.
 */
Test(store, peer_key_insert_waits_for_a_node_revoke_in_flight)
{
	struct peer_add a = { .k = make_peer(0x21, "/mn-cse-1") };
	struct store_peer_key g;
	sqlite3 *db = NULL;
	pthread_t t;

	st = open_store();
	add_node("/mn-cse-1", 9);
	add_node("/mn-cse-2", 8);
	cr_assert_eq(sqlite3_open(db_path, &db), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(db, "BEGIN IMMEDIATE; UPDATE nodes SET state = 'revoked' "
				      "WHERE node_id = '/mn-cse-2'",
				  NULL, NULL, NULL),
		     SQLITE_OK, "%s", sqlite3_errmsg(db));
	cr_assert_eq(pthread_create(&t, NULL, peer_add_thread, &a), 0);
	usleep(300 * 1000); /* the insert waits for the lock meanwhile (busy timeout 5 s) */
	cr_assert_eq(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	pthread_join(t, NULL);
	cr_expect_eq(a.r, -EKEYREVOKED, "%s", strerror(-a.r));
	cr_expect_eq(store_peer_key_get(st, a.k.id, &g, NULL), -ENOENT, "a row was written");
}

Test(store, node_impi_is_kept_set_and_checked)
{
	struct store_node n = make_node("/mn-cse-1", "/in-cse"), got;
	uint8_t km[32];

	fill(km, sizeof(km), 1);
	st = open_store();
	snprintf(n.impi, sizeof(n.impi), "node1@ims.test");
	cr_assert_eq(store_node_add(st, &n, km), 0);
	cr_assert_eq(store_node_get(st, "/mn-cse-1", &got), 0);
	cr_assert_str_eq(got.impi, "node1@ims.test");
	cr_assert_eq(store_node_set_impi(st, "/mn-cse-1",
					 "001010000000001@ims.mnc001.mcc001.3gppnetwork.org"),
		     0);
	cr_assert_eq(store_node_get(st, "/mn-cse-1", &got), 0);
	cr_assert_str_eq(got.impi, "001010000000001@ims.mnc001.mcc001.3gppnetwork.org");
	cr_assert_eq(store_node_set_impi(st, "/mn-cse-1", "bad impi"), -EINVAL);
	cr_assert_eq(store_node_set_impi(st, "/mn-cse-1", "x'; DROP TABLE nodes; --"), -EINVAL);
	cr_assert_eq(store_node_set_impi(st, "/nobody", "a@b"), -ENOENT);
	cr_assert_eq(store_node_set_impi(st, "/mn-cse-1", ""), 0);
	cr_assert_eq(store_node_get(st, "/mn-cse-1", &got), 0);
	cr_assert_str_eq(got.impi, "");
	snprintf(n.node_id, sizeof(n.node_id), "/mn-cse-2");
	snprintf(n.impi, sizeof(n.impi), "no spaces allowed");
	cr_assert_eq(store_node_add(st, &n, km), -EINVAL);
	cr_expect(store_impi_valid(""));
	cr_expect_not(store_impi_valid(NULL));
	memset(n.impi, 'a', STORE_IMPI_MAX);
	n.impi[STORE_IMPI_MAX] = '\0';
	cr_expect(store_impi_valid(n.impi), "255 characters");
}

/*
 * A schema 1 file as main's m2masd wrote it before pairwise keys (no impi, no
 * peer_keys): refused without migration (-ESTALE, "run m2masctl migrate"),
 * migrated to 2 by STORE_OPEN_MIGRATE with its Km intact, peer_keys added.
 */
Test(store, schema_1_store_is_migrated_to_2)
{
	struct store_config c = { .backend = STORE_BACKEND_SQLITE, .location = db_path };
	struct store_peer_key k = make_peer(0x44, "/mn-cse-1");
	struct store_node got;
	struct secret *km = NULL;
	uint8_t key[32] = { 5 };
	int version = -1;

	st = open_store();
	add_node("/mn-cse-1", 9);
	add_node("/mn-cse-2", 8);
	store_close(st);
	st = NULL;
	exec("ALTER TABLE nodes DROP COLUMN impi; DROP TABLE peer_keys; PRAGMA user_version = 1");
	cr_assert_eq(store_probe(&c, &version), 0);
	cr_assert_eq(version, 1);
	cr_assert_eq(store_open(db_path, mk, &st), -ESTALE, "an older schema needs migrate");
	cr_assert_null(st);
	cr_assert_eq(store_open_config(&c, mk, STORE_OPEN_MIGRATE, &st), 0);
	cr_assert_eq(store_schema_version(st, &version), 0);
	cr_expect_eq(version, 2);
	cr_assert_eq(store_node_get(st, "/mn-cse-1", &got), 0);
	cr_assert_str_eq(got.impi, "");
	cr_assert_eq(store_node_get_km(st, "/mn-cse-1", &km), 0, "Km lost in the migration");
	secret_free(km);
	cr_assert_eq(store_node_set_impi(st, "/mn-cse-1", "node1@ims.test"), 0);
	cr_assert_eq(store_peer_key_add(st, &k, key), 0, "peer_keys added at open");
	store_close(st);
	st = open_store();
	cr_assert_eq(store_node_get(st, "/mn-cse-1", &got), 0);
	cr_assert_str_eq(got.impi, "node1@ims.test");
}

/* A schema 2 file without peer_keys (written before the two merged) gains it at open. */
Test(store, peer_keys_added_at_open_to_a_file_without_them)
{
	struct store_peer_key k = make_peer(0x55, "/mn-cse-1"), g;
	uint8_t key[32] = { 6 };

	st = open_store();
	add_node("/mn-cse-1", 9);
	add_node("/mn-cse-2", 8);
	store_close(st);
	st = NULL;
	exec("DROP TABLE peer_keys");
	st = open_store();
	cr_assert_eq(store_peer_key_add(st, &k, key), 0);
	cr_assert_eq(store_node_revoke(st, "/mn-cse-1"), 1);
	cr_assert_eq(store_peer_key_get(st, k.id, &g, NULL), 0);
	cr_expect(g.revoked);
}
