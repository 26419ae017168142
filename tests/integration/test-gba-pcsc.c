/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Method gba through the agent with a pcsc USIM, on real parts: pcscd with
 * vsmartcard's vpcd and the virtual USIM card of tests/vcard (software
 * Milenage with the subscriber's K and OPc), the real m2msa-bsf, m2masd as
 * the NAF ([zn]), swtpm for Ks_NAF, and the agent m2msad with `usim = pcsc`.
 * - The agent bootstraps through the card, establishes with method gba, and
 *   the key it serves (libm2msa) equals the key m2masd hands the target.
 * - The card pulled in the middle of AUTHENTICATE: the agent logs the clear
 *   error and establishes once the card is back, without a restart.
 * Skips when pcscd or vpcd are missing or another pcscd is running
 * (pcsc-fixture.h). After each test: K, OPc and the keys appear in no log.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../vcard/vusim.h"
#include "fixture.h"
#include "gba-fixture.h"
#include "harness.h"
#include "m2msa/m2msa.h"
#include "pcsc-fixture.h"

static struct {
	int lock;
	pid_t pcscd;
	uint16_t port;
	struct vusim *card;
} P = { .lock = -1 };

static void setup(void)
{
	gba_fx_setup();
	P.lock = pcsc_fx_lock();
	pcsc_fx_start_pcscd(gba_env.dir, &P.pcscd, &P.port);
}

static void teardown(void)
{
	vusim_stop(P.card);
	P.card = NULL;
	if (P.pcscd > 0)
		harness_kill_wait(&P.pcscd, SIGTERM);
	if (P.lock >= 0)
		close(P.lock);
	P.lock = -1;
	gba_fx_teardown();
}

/* The subscriber's card (the BSF's K and OPc) in vpcd's reader. */
static void insert_card(bool drop_on_auth)
{
	struct vusim_config cfg = { .port = P.port, .drop_on_auth = drop_on_auth };

	memcpy(cfg.k, gba_env.k, 16);
	memcpy(cfg.opc, gba_env.opc, 16);
	cr_assert_eq(vusim_start(&cfg, &P.card), 0, "the virtual card cannot reach vpcd");
}

/* m2msad for NODE_ID, method gba with usim = pcsc; its pid, its log in ret_log. */
static pid_t start_pcsc_agent(const struct mas_fixture *m, char **ret_log)
{
	char *sock = harness_strdupf("%s/agent.sock", m->dir);
	char *extra = harness_strdupf("node_id = " NODE_ID "\nmethods = gba\n[gba]\n"
				      "bsf_url = %s\nbsf_ca = %s\nusim = pcsc\nimpi = " IMPI "\n"
				      "timeout = 3s\n",
				      gba_env.url, gba_env.ca);
	char *conf = gba_fx_write_agent_conf_extra(m, extra);
	pid_t pid;

	*ret_log = harness_strdupf("%s/m2msad.log", m->dir);
	pid = fixture_start_agent(conf, *ret_log, sock, 400);
	free(conf), free(sock), free(extra);
	return pid;
}

/* The agent's Kc (libm2msa, as root may) equals the one m2masd gives the target. */
static void expect_keys_equal(const struct mas_fixture *m)
{
	char *sock = harness_strdupf("%s/agent.sock", m->dir);
	struct m2msa *h = NULL;
	struct m2msa_key *key = NULL;
	struct wire_msg got;

	cr_assert_eq(m2msa_open(sock, &h), 0);
	cr_assert_eq(m2msa_get_key(h, NULL, &key), 0);
	cr_assert_eq(m2msa_key_len(key), 32);
	gba_fx_note_key(m2msa_key_data(key), 32, "Kc (pcsc agent)");
	cr_assert_eq(fixture_retrieve(m, "target", m2msa_key_id(key), &got), 0);
	cr_assert_eq(got.type, WIRE_MSG_KEY_RESPONSE, "%s", got.error.reason);
	cr_expect_str_eq(got.key_response.node_id, NODE_ID);
	cr_expect_arr_eq(got.key_response.key, m2msa_key_data(key), 32,
			 "the agent's Kc differs from the MAS's");
	wire_msg_wipe(&got);
	m2msa_key_free(key);
	m2msa_close(h);
	free(sock);
}

Test(gba_pcsc, agent_bootstraps_through_the_card_and_holds_the_mas_key, .init = setup,
     .fini = teardown, .timeout = 240)
{
	char *zn_url = harness_strdupf("https://127.0.0.1:%u", gba_env.zn), *log_path = NULL, *log;
	struct mas_fixture m;
	struct agent_status st;
	pid_t agent;

	insert_card(false);
	gba_fx_start_mas(&m, zn_url, IMPI, 5);
	agent = start_pcsc_agent(&m, &log_path);
	cr_assert_eq(gba_fx_wait_established(&m, 40000, &st), 0,
		     "m2msad did not establish (see %s)", log_path);
	cr_expect_geq(vusim_auth_count(P.card), 1, "the card was never asked");
	log = fixture_read_text(log_path);
	cr_expect_not_null(strstr(log, "GBA bootstrap done: B-TID "), "%s", log);
	cr_expect_not_null(strstr(log, "(gba, TLS13-AES128-GCM-SHA256)"), "%s", log);
	free(log);
	expect_keys_equal(&m);
	harness_kill_wait(&agent, SIGTERM);
	mas_fixture_fini(&m);
	free(zn_url), free(log_path);
}

Test(gba_pcsc, card_pulled_mid_bootstrap_is_a_clear_error_then_the_agent_recovers,
     .init = setup, .fini = teardown, .timeout = 240)
{
	char *zn_url = harness_strdupf("https://127.0.0.1:%u", gba_env.zn), *log_path = NULL, *log;
	struct mas_fixture m;
	struct agent_status st;
	pid_t agent;

	insert_card(true); /* goes away when AUTHENTICATE arrives */
	gba_fx_start_mas(&m, zn_url, IMPI, 5);
	agent = start_pcsc_agent(&m, &log_path);
	fixture_wait_log_count(log_path, "was removed or stopped answering", 1, 400, 50);
	log = fixture_read_text(log_path);
	cr_expect_not_null(strstr(log, "the card in reader 'm2msa test vpcd 00 00' was removed or "
				       "stopped answering ("),
			   "%s", log);
	cr_expect_not_null(strstr(log, "); put the card back and retry"), "%s", log);
	free(log);
	cr_expect_neq(gba_fx_wait_established(&m, 1000, &st), 0, "established without a card");
	/* The card is back: the agent's next attempt bootstraps and establishes. */
	vusim_stop(P.card);
	P.card = NULL;
	insert_card(false);
	cr_assert_eq(gba_fx_wait_established(&m, 60000, &st), 0,
		     "m2msad did not recover after the card came back (see %s)", log_path);
	expect_keys_equal(&m);
	harness_kill_wait(&agent, SIGTERM);
	mas_fixture_fini(&m);
	free(zn_url), free(log_path);
}
