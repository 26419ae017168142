/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The method gba test environment shared by test-gba and test-gba-mas: the real
 * m2msa-bsf (its own AuC, subscriber IMPI with TS 35.208 test set 1 K and OPc),
 * swtpm, the node's USIM in the TPM, m2masd as the NAF ([zn] against the BSF),
 * one-shot establishments and the agent m2msad with method gba. After each test
 * K, OPc and every noted key appear in no log (secrets.h).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include "agent/establish.h"
#include "agent/gba-slot.h"
#include "agent/status.h"
#include "common/err.h"
#include "common/kdf.h"
#include "fixture.h"
#include "gba/ub-client.h"

#define IMPI "node1@ims.test"
#define DOMAIN "bsf.test"
#define NAF "mas.test"
#define NODE_ID "/mn-cse-1"

#define GBA_FX_NOTED_MAX 96

struct gba_env {
	char *dir, *conf, *log, *ports, *state, *url, *ca;
	pid_t pid;
	uint16_t ub, zn;
	struct harness_swtpm *tpm;
	struct tpm_ctx *t;
	struct usim *usim;
	uint8_t k[16], opc[16];
	/* Keys noted for the log scans, kept to note again: mas_fixture_fini()'s scan forgets them. */
	uint8_t noted[GBA_FX_NOTED_MAX][32];
	size_t noted_len[GBA_FX_NOTED_MAX];
	char noted_what[GBA_FX_NOTED_MAX][24];
	size_t n_noted;
};

extern struct gba_env gba_env;
extern unsigned gba_fx_bsf_lifetime; /* [bsf] lifetime for the next gba_fx_setup() */
/* The psk Km of NODE_ID and /mn-psk in gba_fx_start_mas(). */
extern const uint8_t gba_fx_psk_km[32];
/* [mas] lines for the next gba_fx_start_mas() (NULL: max_failures = 1000); teardown resets it. */
extern const char *gba_fx_mas_extra;

/* secrets_note() and remember the key for gba_fx_teardown's scan of the BSF's folder. */
void gba_fx_note_key(const uint8_t *key, size_t len, const char *what);
/*
 * Note the AKA outputs behind btid (its RAND is base64 in it): RES, CK, IK and
 * Ks = CK || IK, computed with software Milenage from gba_env's K and OPc, so
 * that the log scans look for them too.
 */
void gba_fx_note_aka(const char *btid);
/* name in the test folder, holding b in hex; its path in ret_path (free()). */
void gba_fx_hexfile(const char *name, const uint8_t *b, size_t n, char **ret_path);
/* m2msa-bsfctl --config ... args, which must succeed. */
void gba_fx_bsfctl(const char *const *args);
/* m2msa-bsf on the config file; its ports in gba_env.ub, gba_env.zn. */
void gba_fx_start_bsf_process(void);
/* The BSF with subscriber IMPI, swtpm; .init of every test. */
void gba_fx_setup(void);
void gba_fx_teardown(void);
/* The node's USIM: K into the TPM, OPc and SQN in the state dir; then open it on gba_env.t. */
void gba_fx_node_usim(const uint8_t k[16], uint64_t sqn);
/* One Ub bootstrap with gba_env.usim, which must succeed. */
void gba_fx_bootstrap_ok(struct gba_ub_result *res);
/* m2masd with [zn] at zn_url; node NODE_ID (methods gba, psk; IMPI impi) and /mn-psk (psk). */
void gba_fx_start_mas(struct mas_fixture *m, const char *zn_url, const char *impi,
		      unsigned zn_timeout);
WOLFSSL_CTX *gba_fx_mas_client_ctx(const struct mas_fixture *m);
/* One establishment of node_id offering methods, Km/Ks_NAF through the PRFs given. */
int gba_fx_node_establish(const struct mas_fixture *m, const char *node_id,
			  const uint8_t *methods, size_t n, const char *btid,
			  const struct kdf_prf *gba_km, uint64_t gba_expiry,
			  const struct kdf_prf *km, struct establish_result *res,
			  struct m2msa_err *eerr);
/* Bootstrap, then put Ks_NAF into the gba slot: the slot's B-TID and expiry in ret. */
void gba_fx_bootstrap_into_slot(struct gba_slot *ret);
/* The USIM (K, OPc, SQN 0) in the agent's state folder; the TPM connection closed again. */
void gba_fx_agent_usim(const struct mas_fixture *m);
/*
 * m2msad.conf in m's folder: socket agent.sock, clients.d (created, empty), and
 * extra under [node] (the node ID, methods and a [gba] section); its path (free()).
 */
char *gba_fx_write_agent_conf_extra(const struct mas_fixture *m, const char *extra);
/* m2msad.conf for node NODE_ID offering methods, [gba] with bsf_url; its path (free()). */
char *gba_fx_write_agent_conf(const struct mas_fixture *m, const char *methods,
			      const char *bsf_url);
/* m2msad with gba_fx_write_agent_conf()'s file; its pid, its log's path in ret_log. */
pid_t gba_fx_start_agent(const struct mas_fixture *m, const char *methods, const char *bsf_url,
			 char **ret_log);
/* Wait for status.json to say established with a key: 0, or -ETIMEDOUT. */
int gba_fx_wait_established(const struct mas_fixture *m, int timeout_ms,
			    struct agent_status *ret);
/* How often needle occurs in text. */
size_t gba_fx_count(const char *text, const char *needle);
