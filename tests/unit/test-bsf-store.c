/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The BSF's parts without the network: the store (sealing, wrong master key, rows
 * bound to their IMPI/B-TID), the AuC (vectors a software USIM accepts, SQN steps,
 * AUTS resync), the one-time challenge table, and the configuration loader.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bsf/auc.h"
#include "bsf/bsf-conf.h"
#include "bsf/bsf-store.h"
#include "bsf/pending.h"
#include "common/crypto.h"
#include "common/secret.h"
#include "hex.h"

static char dir[64], db_path[128];
static uint8_t mk[32];
static struct bsf_store *st;
/* TS 35.208 test set 1. */
static uint8_t k[16], opc[16];

static void setup(void)
{
	strcpy(dir, "/tmp/m2msa-test-bsf-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(db_path, sizeof(db_path), "%s/bsf.db", dir);
	cr_assert_eq(crypto_random(mk, sizeof(mk)), 0);
	unhex("465b5ce8b199b49faa5f0a2ee238a6bc", k, 16);
	unhex("cd63cb71954a9f4e48a5994e37a02baf", opc, 16);
	cr_assert_eq(bsf_store_open(db_path, mk, &st), 0);
}

static void teardown(void)
{
	char cmd[128];

	bsf_store_close(st);
	st = NULL;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

static void add_sub(const char *impi, uint64_t sqn)
{
	struct bsf_subscriber sub = { .sqn = sqn, .amf = { 0x80, 0x00 } };

	snprintf(sub.impi, sizeof(sub.impi), "%s", impi);
	cr_assert_eq(bsf_store_subscriber_add(st, &sub, k, opc), 0);
}

TestSuite(bsf_store, .init = setup, .fini = teardown);

Test(bsf_store, subscriber_round_trip_and_sealing)
{
	struct bsf_subscriber sub;
	struct secret *s = NULL;
	sqlite3 *db;
	sqlite3_stmt *q;
	int found = 0;

	add_sub("a@ims.test", 7);
	cr_assert_eq(bsf_store_subscriber_add(st, &(struct bsf_subscriber){ .impi = "a@ims.test" },
					      k, opc),
		     -EEXIST);
	cr_assert_eq(bsf_store_subscriber_get(st, "a@ims.test", &sub, &s), 0);
	cr_assert_eq(sub.sqn, 7);
	cr_assert_eq(sub.amf[0], 0x80);
	cr_assert_arr_eq(s->data, k, 16);
	cr_assert_arr_eq(s->data + 16, opc, 16);
	secret_free(s);
	cr_assert_eq(bsf_store_subscriber_get(st, "b@ims.test", &sub, NULL), -ENOENT);
	/* K never sits in the file in the clear. */
	cr_assert_eq(sqlite3_open(db_path, &db), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(db, "SELECT secrets FROM subscribers", -1, &q, NULL),
		     SQLITE_OK);
	while (sqlite3_step(q) == SQLITE_ROW) {
		found++;
		cr_assert_null(memmem(sqlite3_column_blob(q, 0), (size_t)sqlite3_column_bytes(q, 0),
				      k, 8));
	}
	sqlite3_finalize(q);
	/* A blob moved to another IMPI's row does not open. */
	add_sub("b@ims.test", 0);
	cr_assert_eq(sqlite3_exec(db,
				  "UPDATE subscribers SET secrets = (SELECT secrets FROM subscribers "
				  "WHERE impi = 'a@ims.test') WHERE impi = 'b@ims.test'",
				  NULL, NULL, NULL),
		     SQLITE_OK);
	sqlite3_close(db);
	cr_assert_eq(found, 1);
	cr_assert_eq(bsf_store_subscriber_get(st, "b@ims.test", &sub, &s), -EBADMSG);
	cr_assert_eq(bsf_store_subscriber_delete(st, "b@ims.test"), 0);
	cr_assert_eq(bsf_store_subscriber_delete(st, "b@ims.test"), -ENOENT);
}

Test(bsf_store, wrong_master_key_is_recognised)
{
	uint8_t other[32];

	bsf_store_close(st);
	st = NULL;
	memcpy(other, mk, 32);
	other[0] ^= 1;
	cr_assert_eq(bsf_store_open(db_path, other, &st), -EKEYREJECTED);
	cr_assert_eq(bsf_store_open(db_path, mk, &st), 0);
}

Test(bsf_store, sessions_sealed_and_purged)
{
	struct bsf_session sess = { .created = 100, .expiry = 200 }, back;
	struct secret *ks = NULL;
	uint8_t key[32];

	memset(key, 0x42, sizeof(key));
	strcpy(sess.btid, "QQ==@bsf.test");
	strcpy(sess.impi, "a@ims.test");
	memset(sess.rand, 0x11, 16);
	cr_assert_eq(bsf_store_session_put(st, &sess, key), 0);
	cr_assert_eq(bsf_store_session_get(st, "QQ==@bsf.test", &back, &ks), 0);
	cr_assert_arr_eq(ks->data, key, 32);
	cr_assert_str_eq(back.impi, "a@ims.test");
	cr_assert_arr_eq(back.rand, sess.rand, 16);
	cr_assert_eq(back.expiry, 200);
	secret_free(ks);
	cr_assert_eq(bsf_store_session_get(st, "Qg==@bsf.test", &back, NULL), -ENOENT);
	cr_assert_eq(bsf_store_session_purge(st, 199), 0);
	cr_assert_eq(bsf_store_session_purge(st, 200), 1);
	cr_assert_eq(bsf_store_session_get(st, "QQ==@bsf.test", &back, NULL), -ENOENT);
}

/* The AuC's vectors are what a USIM with the same K/OPc accepts; SQN steps by one. */
Test(bsf_store, auc_vectors_and_resync)
{
	_cleanup_milenage_cipher_ struct milenage_cipher cipher = { 0 };
	struct aka_usim_out out = { 0 };
	struct bsf_vector v;
	struct bsf_subscriber sub;

	add_sub("a@ims.test", 41);
	cr_assert_eq(milenage_cipher_software_new(k, &cipher), 0);
	cr_assert_eq(bsf_auc_vector(st, "a@ims.test", &v), 0);
	cr_assert_eq(bsf_store_subscriber_get(st, "a@ims.test", &sub, NULL), 0);
	cr_assert_eq(sub.sqn, 42);
	cr_assert_eq(aka_usim_run(&cipher, opc, v.rand, v.autn, 41, AKA_SQN_WINDOW_DEFAULT, &out), 0);
	cr_assert_eq(out.result, AKA_RESULT_OK);
	cr_assert_eq(out.sqn, 42);
	cr_assert_arr_eq(out.res, v.xres, 8);
	cr_assert_arr_eq(out.ck, v.ck, 16);
	cr_assert_arr_eq(out.ik, v.ik, 16);
	/* A USIM that is ahead: AUTS; the AuC takes SQN_MS and the next vector passes. */
	cr_assert_eq(bsf_auc_vector(st, "a@ims.test", &v), 0);
	cr_assert_eq(aka_usim_run(&cipher, opc, v.rand, v.autn, 900, AKA_SQN_WINDOW_DEFAULT, &out),
		     0);
	cr_assert_eq(out.result, AKA_RESULT_SYNC_FAILURE);
	out.auts[0] ^= 1; /* tampered: MAC-S fails, SQN unchanged */
	cr_assert_eq(bsf_auc_resync(st, "a@ims.test", v.rand, out.auts), -EBADMSG);
	cr_assert_eq(bsf_store_subscriber_get(st, "a@ims.test", &sub, NULL), 0);
	cr_assert_eq(sub.sqn, 43);
	out.auts[0] ^= 1;
	cr_assert_eq(bsf_auc_resync(st, "a@ims.test", v.rand, out.auts), 0);
	cr_assert_eq(bsf_store_subscriber_get(st, "a@ims.test", &sub, NULL), 0);
	cr_assert_eq(sub.sqn, 900);
	cr_assert_eq(bsf_auc_vector(st, "a@ims.test", &v), 0);
	cr_assert_eq(aka_usim_run(&cipher, opc, v.rand, v.autn, 900, AKA_SQN_WINDOW_DEFAULT, &out),
		     0);
	cr_assert_eq(out.result, AKA_RESULT_OK);
	cr_assert_eq(bsf_auc_vector(st, "nobody@ims.test", &v), -ENOENT);
	aka_usim_out_wipe(&out);
}

Test(bsf_pending, one_time_and_deadline)
{
	struct bsf_pending_table *t = NULL;
	struct bsf_pending p = { .deadline_ms = 1000 }, got;

	cr_assert_eq(bsf_pending_new(2, &t), 0);
	strcpy(p.nonce, "n1");
	strcpy(p.impi, "a@ims.test");
	p.v.xres[0] = 0x77;
	bsf_pending_add(t, &p, 0);
	cr_assert_eq(bsf_pending_take(t, "n1", 10, &got), 0);
	cr_assert_str_eq(got.impi, "a@ims.test");
	cr_assert_eq(got.v.xres[0], 0x77);
	cr_assert_eq(bsf_pending_take(t, "n1", 10, &got), -ENOENT); /* consumed */
	bsf_pending_add(t, &p, 0);
	cr_assert_eq(bsf_pending_take(t, "n1", 1000, &got), -ETIMEDOUT);
	cr_assert_eq(bsf_pending_take(t, "", 0, &got), -ENOENT);
	/* Full: the entry nearest its deadline makes room. */
	strcpy(p.nonce, "early");
	p.deadline_ms = 500;
	bsf_pending_add(t, &p, 0);
	strcpy(p.nonce, "late");
	p.deadline_ms = 900;
	bsf_pending_add(t, &p, 0);
	strcpy(p.nonce, "new");
	bsf_pending_add(t, &p, 0);
	cr_assert_eq(bsf_pending_take(t, "early", 1, &got), -ENOENT);
	cr_assert_eq(bsf_pending_take(t, "late", 1, &got), 0);
	cr_assert_eq(bsf_pending_take(t, "new", 1, &got), 0);
	bsf_pending_free(t);
}

static void write_conf(const char *text)
{
	char path[160];
	FILE *f;

	snprintf(path, sizeof(path), "%s/bsf.conf", dir);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

Test(bsf_store, conf_defaults_and_errors)
{
	struct bsf_conf c;
	char path[160], err[512];

	snprintf(path, sizeof(path), "%s/bsf.conf", dir);
	write_conf("[bsf]\ndomain = bsf.test\ncert = /c\nkey = /k\nnaf_ca = /ca\n");
	cr_assert_eq(bsf_conf_load(path, &c, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(c.ub_listen, "0.0.0.0:8443");
	cr_assert_eq(c.lifetime, 86400);
	cr_assert_eq(c.challenge_timeout, 60);
	cr_assert_eq(c.max_challenges, 30);
	bsf_conf_free(&c);
	write_conf("[bsf]\ncert = /c\nkey = /k\nnaf_ca = /ca\n");
	cr_assert_eq(bsf_conf_load(path, &c, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "domain is required"), "%s", err);
	cr_assert_eq(bsf_conf_load_store(path, &c, err, sizeof(err)), 0, "%s", err);
	bsf_conf_free(&c);
	write_conf("[bsf]\ndomain = not a name\ncert = /c\nkey = /k\nnaf_ca = /ca\n");
	cr_assert_eq(bsf_conf_load(path, &c, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "domain 'not a name'"), "%s", err);
	write_conf("[bsf]\ndomain = bsf.test\nub_port = 1\n");
	cr_assert_eq(bsf_conf_load(path, &c, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "ub_port"), "%s", err);
	write_conf("[bsf]\ndomain = bsf.test\ncert = /c\nkey = /k\nnaf_ca = /ca\nzn_listen = nowhere\n");
	cr_assert_eq(bsf_conf_load(path, &c, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "zn_listen 'nowhere'"), "%s", err);
}
