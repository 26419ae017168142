/* SPDX-License-Identifier: Apache-2.0 */
/* The method gba test environment (gba-fixture.h): BSF, swtpm, USIM, m2masd with Zn, agent. */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/crypto.h"
#include "common/secret.h"
#include "common/milenage.h"
#include "bsf-fixture.h"
#include "gba-fixture.h"
#include "gba/base64.h"
#include "gba/btid.h"
#include "gba/ub-http.h"
#include "harness.h"
#include "mas/store.h"
#include "secrets.h"
#include "tpm/keystore.h"
#include "tpm/usimkey.h"
#include "usim/usim-state.h"
#include "usim/usim.h"

struct gba_env gba_env;

/* secrets_note() and remember the key for gba_fx_teardown's scan of the BSF's folder. */
void gba_fx_note_key(const uint8_t *key, size_t len, const char *what)
{
	secrets_note(key, len, what);
	if (len >= 16 && len <= 32 && gba_env.n_noted < GBA_FX_NOTED_MAX) {
		memcpy(gba_env.noted[gba_env.n_noted], key, len);
		gba_env.noted_len[gba_env.n_noted] = len;
		snprintf(gba_env.noted_what[gba_env.n_noted], sizeof(gba_env.noted_what[0]), "%s", what);
		gba_env.n_noted++;
	}
}
unsigned gba_fx_bsf_lifetime = 3600; /* [bsf] lifetime for the next gba_fx_setup() */

void gba_fx_hexfile(const char *name, const uint8_t *b, size_t n, char **ret_path)
{
	char hex[65];

	for (size_t i = 0; i < n; i++)
		snprintf(hex + 2 * i, 3, "%02x", b[i]);
	strcat(hex, "\n");
	*ret_path = harness_strdupf("%s/%s", gba_env.dir, name);
	cr_assert_eq(harness_write_file(*ret_path, hex, strlen(hex), 0600), 0);
}

void gba_fx_bsfctl(const char *const *args)
{
	bsf_fixture_ctl(gba_env.conf, args, NULL);
}

void gba_fx_start_bsf_process(void)
{
	gba_env.pid = bsf_fixture_start(gba_env.conf, gba_env.log, gba_env.ports, &gba_env.ub,
					&gba_env.zn);
}

/* The BSF with subscriber IMPI (TS 35.208 test set 1 K and OPc, bsf-fixture.c), and swtpm. */
void gba_fx_setup(void)
{
	memset(&gba_env, 0, sizeof(gba_env));
	if (!harness_have_program("openssl"))
		cr_skip_test("openssl is not installed (apt install openssl)");
	cr_assert_eq(harness_tmpdir(&gba_env.dir), 0);
	fixture_make_certs(gba_env.dir);
	gba_env.conf = harness_strdupf("%s/m2msa-bsf.conf", gba_env.dir);
	gba_env.log = harness_strdupf("%s/bsf.log", gba_env.dir);
	gba_env.ports = harness_strdupf("%s/bsf.ports", gba_env.dir);
	gba_env.state = harness_strdupf("%s/state", gba_env.dir);
	gba_env.ca = harness_strdupf("%s/pki/ca.crt", gba_env.dir);
	memcpy(gba_env.k, bsf_fixture_k, 16);
	memcpy(gba_env.opc, bsf_fixture_opc, 16);
	bsf_fixture_provision(gba_env.dir, gba_env.conf, gba_fx_bsf_lifetime, NULL, IMPI);
	gba_fx_start_bsf_process();
	gba_env.url = harness_strdupf("https://127.0.0.1:%u/", gba_env.ub);
	cr_assert_eq(harness_swtpm_start(NULL, &gba_env.tpm), 0, "cannot start swtpm");
	cr_assert_eq(gba_ub_http_global_init(), 0);
}

void gba_fx_teardown(void)
{
	usim_free(gba_env.usim);
	tpm_close(gba_env.t);
	harness_swtpm_stop(gba_env.tpm);
	harness_kill_wait(&gba_env.pid, SIGTERM);
	if (gba_env.dir) {
		secrets_note(gba_env.k, 16, "K");
		secrets_note(gba_env.opc, 16, "OPc");
		for (size_t i = 0; i < gba_env.n_noted; i++)
			secrets_note(gba_env.noted[i], gba_env.noted_len[i], gba_env.noted_what[i]);
		secrets_assert_logs_clean(gba_env.dir, NULL, NULL);
		if (!getenv("KEEP_TEST_DIR"))
			harness_rmtree(gba_env.dir);
	}
	free(gba_env.dir), free(gba_env.conf), free(gba_env.log), free(gba_env.ports), free(gba_env.state), free(gba_env.url),
		free(gba_env.ca);
	secret_wipe(&gba_env, sizeof(gba_env));
	gba_fx_bsf_lifetime = 3600;
	gba_fx_mas_extra = NULL;
}

/* The node's USIM: K into the TPM, OPc and SQN in the state dir; then open it on gba_env.t. */
void gba_fx_node_usim(const uint8_t k[16], uint64_t sqn)
{
	char err[512] = "";
	int r;

	if (!gba_env.t)
		cr_assert_eq(tpm_open(harness_swtpm_tcti(gba_env.tpm), &gba_env.t, err, sizeof(err)), 0, "%s",
			     err);
	r = tpm_usim_key_provision(gba_env.t, gba_env.state, k);
	cr_assert_eq(r, 0, "tpm_usim_key_provision: %s", tpm_last_error(gba_env.t));
	cr_assert_eq(usim_state_write(gba_env.state, IMPI, gba_env.opc, sqn, err, sizeof(err)), 0, "%s", err);
	usim_free(gba_env.usim);
	gba_env.usim = NULL;
	cr_assert_eq(usim_tpm_new(gba_env.t, gba_env.state, &gba_env.usim, err, sizeof(err)), 0, "%s", err);
}

/* Zn as the MAS will ask it: POST with the NAF client certificate. */

void gba_fx_bootstrap_ok(struct gba_ub_result *res)
{
	struct gba_ub_http h = { .bsf_url = gba_env.url, .bsf_ca = gba_env.ca, .timeout_ms = 10000 };
	char err[512] = "";
	int r = gba_ub_bootstrap(&h, IMPI, gba_env.usim, NAF, res, err, sizeof(err));

	cr_assert_eq(r, 0, "bootstrap: %d %s", r, err);
	gba_fx_note_key(res->ks_naf, 32, "Ks_NAF");
	gba_fx_note_aka(res->btid);
}

void gba_fx_note_aka(const char *btid)
{
	const char *at = strchr(btid, '@');
	uint8_t rand[18], res[16] = { 0 }, ks[32];
	struct milenage_cipher c;
	struct milenage m;
	int n;

	cr_assert_not_null(at, "B-TID %s", btid);
	n = gba_base64_decode(btid, (size_t)(at - btid), rand, sizeof(rand));
	cr_assert_eq(n, 16, "B-TID %s does not carry a 16-byte RAND", btid);
	cr_assert_eq(milenage_cipher_software_new(gba_env.k, &c), 0);
	cr_assert_eq(milenage_begin(&m, &c, gba_env.opc, rand), 0);
	cr_assert_eq(milenage_f2_f5(&m, res, NULL), 0);
	cr_assert_eq(milenage_f3(&m, ks), 0);
	cr_assert_eq(milenage_f4(&m, ks + 16), 0);
	milenage_end(&m);
	milenage_cipher_software_free(&c);
	/* RES is 8 bytes: zero-padded to the scan's 16, it is searched as its hex. */
	gba_fx_note_key(res, 16, "RES");
	gba_fx_note_key(ks, 16, "CK");
	gba_fx_note_key(ks + 16, 16, "IK");
	gba_fx_note_key(ks, 32, "Ks");
	secret_wipe(res, sizeof(res));
	secret_wipe(ks, sizeof(ks));
}

/* Every B-TID the agent's log names: their AKA outputs noted (gba_fx_note_aka). */
static void note_agent_btids(const struct mas_fixture *m)
{
	char *path = harness_strdupf("%s/m2msad.log", m->dir), *log = fixture_read_text(path);
	char seen[8][GBA_BTID_MAX + 1];
	size_t n_seen = 0;
	const char *p = log;

	while (p && (p = strstr(p, "B-TID ")) != NULL && n_seen < 8) {
		char btid[GBA_BTID_MAX + 1];
		bool known = false;

		p += 6;
		if (sscanf(p, "%255[A-Za-z0-9+/=@.-]", btid) != 1)
			continue;
		while (btid[0] && btid[strlen(btid) - 1] == '.')
			btid[strlen(btid) - 1] = '\0'; /* a sentence's full stop */
		if (!gba_btid_valid(btid))
			continue;
		for (size_t i = 0; i < n_seen; i++)
			known |= strcmp(seen[i], btid) == 0;
		if (known)
			continue;
		snprintf(seen[n_seen++], sizeof(seen[0]), "%s", btid);
		gba_fx_note_aka(btid);
	}
	free(log), free(path);
}

const char *gba_fx_mas_extra;

const uint8_t gba_fx_psk_km[32] = { 0x70, 0x73, 0x6b, 0x2d, 0x6b, 0x6d, 9, 8, 7, 6, 5, 4, 3, 2, 1 };

/* m2masd with [zn] at zn_url; node NODE_ID (methods gba, psk; IMPI impi) and /mn-psk (psk). */
void gba_fx_start_mas(struct mas_fixture *m, const char *zn_url, const char *impi, unsigned zn_timeout)
{
	static const uint8_t gba_psk[] = { WIRE_METHOD_GBA, WIRE_METHOD_PSK };
	static const uint8_t psk[] = { WIRE_METHOD_PSK };
	char *extra = harness_strdupf("%s[zn]\nbsf_url = %s\nbsf_ca = %s\ncert = %s/pki/naf.crt\n"
				      "key = %s/pki/naf.key\ntimeout = %us\n",
				      gba_fx_mas_extra ? gba_fx_mas_extra : "max_failures = 1000\n",
				      zn_url, gba_env.ca, gba_env.dir, gba_env.dir, zn_timeout);
	struct store *st;

	mas_fixture_init(m);
	mas_fixture_write_conf(m, extra);
	mas_fixture_add_node(m, NODE_ID, gba_fx_psk_km, gba_psk, 2, 0);
	mas_fixture_add_node(m, "/mn-psk", gba_fx_psk_km, psk, 1, 0);
	st = mas_fixture_store(m);
	cr_assert_eq(store_node_set_impi(st, NODE_ID, impi), 0);
	store_close(st);
	mas_fixture_start(m, NULL, NULL);
	free(extra);
}

WOLFSSL_CTX *gba_fx_mas_client_ctx(const struct mas_fixture *m)
{
	char err[256] = "", *ca = harness_strdupf("%s/pki/ca.crt", m->dir);
	WOLFSSL_CTX *ctx = tls_client_ctx_new(ca, NULL, NULL, err, sizeof(err));

	cr_assert_not_null(ctx, "%s", err);
	free(ca);
	return ctx;
}

/* One establishment of node_id offering methods, Km/Ks_NAF through the PRFs given. */
int gba_fx_node_establish(const struct mas_fixture *m, const char *node_id, const uint8_t *methods,
			  size_t n, const char *btid, const struct kdf_prf *gba_km,
			  uint64_t gba_expiry, const struct kdf_prf *km, struct establish_result *res,
			  struct m2msa_err *eerr)
{
	WOLFSSL_CTX *ctx = gba_fx_mas_client_ctx(m);
	char addr[64];
	int r;

	snprintf(addr, sizeof(addr), "127.0.0.1:%u", m->est_port);
	r = establish_run(ctx,
			  &(struct establish_params){ .mas_address = addr,
						      .server_name = FIXTURE_FQDN,
						      .node_id = node_id,
						      .methods = methods,
						      .n_methods = n,
						      .timeout_ms = 8000,
						      .btid = btid,
						      .gba_km = gba_km,
						      .gba_expiry = gba_expiry },
			  km, res, eerr);
	wolfSSL_CTX_free(ctx);
	return r;
}

/* Bootstrap, then put Ks_NAF into the gba slot: the slot's B-TID and expiry in ret. */
void gba_fx_bootstrap_into_slot(struct gba_slot *ret)
{
	struct gba_ub_result res;
	char err[512] = "";

	gba_fx_node_usim(gba_env.k, 0);
	gba_fx_bootstrap_ok(&res);
	cr_assert_eq(gba_slot_store(gba_env.t, gba_env.state, NODE_ID, &res, IMPI, NAF, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(gba_slot_read(gba_env.state, ret, err, sizeof(err)), 0, "%s", err);
}

/* The USIM (K, OPc, SQN 0) in the agent's state folder; the TPM connection closed again. */
void gba_fx_agent_usim(const struct mas_fixture *m)
{
	char *state = harness_strdupf("%s/node", m->dir);

	free(gba_env.state);
	gba_env.state = state;
	gba_fx_node_usim(gba_env.k, 0);
	usim_free(gba_env.usim);
	gba_env.usim = NULL;
	tpm_close(gba_env.t); /* swtpm serves one connection: the agent's */
	gba_env.t = NULL;
}

char *gba_fx_write_agent_conf_extra(const struct mas_fixture *m, const char *extra)
{
	char *conf = harness_strdupf("%s/m2msad.conf", m->dir);
	char *sock = harness_strdupf("%s/agent.sock", m->dir);
	char *clients = harness_strdupf("%s/clients.d", m->dir);

	cr_assert_eq(mkdir(clients, 0755), 0);
	mas_fixture_write_agent_conf(m, conf,
				     &(struct fixture_agent_conf){
					     .tcti = harness_swtpm_tcti(gba_env.tpm),
					     .node_extra = extra,
					     .timeout_s = 5,
					     .backoff_min_s = 1,
					     .backoff_max_s = 2,
					     .sock = sock,
					     .clients_dir = clients,
				     });
	free(sock), free(clients);
	return conf;
}

/* m2msad.conf for node NODE_ID offering methods, [gba] with bsf_url; its path (free()). */
char *gba_fx_write_agent_conf(const struct mas_fixture *m, const char *methods, const char *bsf_url)
{
	char *extra = harness_strdupf("node_id = " NODE_ID "\nmethods = %s\n[gba]\nbsf_url = %s\n"
				      "bsf_ca = %s\nusim = tpm\ntimeout = 3s\n",
				      methods, bsf_url, gba_env.ca);
	char *conf = gba_fx_write_agent_conf_extra(m, extra);

	free(extra);
	return conf;
}

/* m2msad with gba_fx_write_agent_conf()'s file; its pid. */
pid_t gba_fx_start_agent(const struct mas_fixture *m, const char *methods, const char *bsf_url,
			 char **ret_log)
{
	char *conf = gba_fx_write_agent_conf(m, methods, bsf_url);
	char *log = harness_strdupf("%s/m2msad.log", m->dir);
	char *sock = harness_strdupf("%s/agent.sock", m->dir);
	pid_t pid = fixture_start_agent(conf, log, sock, 400);

	free(conf), free(sock);
	*ret_log = log;
	return pid;
}

int gba_fx_wait_established(const struct mas_fixture *m, int timeout_ms, struct agent_status *ret)
{
	char *path = harness_strdupf("%s/status.json", m->dir);
	int r = -ETIMEDOUT;

	for (int i = 0; i < timeout_ms / 50; i++) {
		if (agent_status_read(path, ret) == 0 && strcmp(ret->state, "established") == 0 &&
		    ret->key_id[0]) {
			r = 0;
			note_agent_btids(m);
			break;
		}
		usleep(50 * 1000);
	}
	free(path);
	return r;
}

size_t gba_fx_count(const char *text, const char *needle)
{
	size_t n = 0;

	for (const char *p = text; (p = strstr(p, needle)); p++)
		n++;
	return n;
}
