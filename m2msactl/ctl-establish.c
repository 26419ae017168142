/* SPDX-License-Identifier: Apache-2.0 */
/* m2msactl establish: run one security association establishment with the MAS. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent-conf.h"
#include "agent/establish.h"
#include "agent/gba-slot.h"
#include "agent/node-creds.h"
#include "m2msactl/ctl.h"
#include "common/fileio.h"
#include "common/json.h"
#include "common/log.h"
#include "gba/ub-http.h"
#include "tpm/keystore.h"
#include "usim/usim.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: m2msactl establish [--config FILE] [--json] [--key-out FILE]\n"
		"\n"
		"Run one security association establishment with the MAS: the node proves it\n"
		"holds Km (inside the TPM), checks the MAS's proof, and derives Kc in the TPM.\n"
		"With method gba and no usable bootstrap in STATE_DIR/gba, it first bootstraps\n"
		"with the BSF of [gba] (Ub, the USIM) and imports Ks_NAF into the TPM.\n"
		"Prints the SecureConnectionID (key ID), expiry, method and suite; never key bytes.\n"
		"\n"
		"  --config FILE    node configuration (default %s)\n"
		"  --json           print one JSON object instead of text\n"
		"  --key-out FILE   also write Kc (32 raw bytes) to FILE, mode 0600, for handing\n"
		"                   to an AE by hand; FILE must not exist yet\n",
		AGENT_CONF_DEFAULT);
}

static void print_result(const struct establish_result *res, const char *node_id, bool json)
{
	time_t exp = (time_t)res->expiry;
	long lifetime = (long)(res->expiry - (uint64_t)time(NULL));
	char when[64];

	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&exp));
	if (json) {
		printf("{\"node_id\":");
		json_write_string(stdout, node_id);
		printf(",\"key_id\":");
		json_write_string(stdout, res->key_id);
		printf(",\"expiry\":%llu,\"expires\":", (unsigned long long)res->expiry);
		json_write_string(stdout, when);
		printf(",\"lifetime\":%ld,\"method\":", lifetime);
		json_write_string(stdout, wire_method_to_string(res->method));
		printf(",\"suite\":");
		json_write_string(stdout, res->suite);
		printf("}\n");
		return;
	}
	printf("node ID:   %s\n", node_id);
	printf("key ID:    %s\n", res->key_id);
	printf("expires:   %s (in %ld s)\n", when, lifetime);
	printf("method:    %s\n", wire_method_to_string(res->method));
	printf("suite:     %s (TLS 1.3 PSK, identity = key ID)\n", res->suite);
}

/* Method gba: a usable bootstrap (at least 10 % of its lifetime left, or a new one). */
static int gba_prepare(const struct agent_conf *conf, struct node_creds *creds,
		       struct gba_slot *slot, struct tpm_key **ret_key)
{
	struct gba_ub_http h = { .bsf_url = conf->gba_bsf_url, .bsf_ca = conf->gba_bsf_ca,
				 .timeout_ms = (long)conf->gba_timeout * 1000 };
	struct tpm_ctx *t = node_creds_tpm(creds);
	struct gba_ub_result res = { 0 };
	struct usim *u = NULL;
	char err[512] = "";
	int r;

	if (gba_slot_read(conf->state_dir, slot, err, sizeof(err)) == 0 &&
	    slot->expiry > (int64_t)time(NULL) + 60 &&
	    gba_slot_load_key(t, conf->state_dir, ret_key) == 0)
		return 0;
	if (strcmp(conf->gba_usim, "pcsc") == 0)
		r = usim_pcsc_open(conf->gba_reader, conf->gba_impi, &u, err, sizeof(err));
	else
		r = usim_tpm_new(t, conf->state_dir, &u, err, sizeof(err));
	if (r >= 0)
		r = gba_ub_http_global_init();
	if (r >= 0)
		r = gba_ub_bootstrap(&h, conf->gba_impi ? conf->gba_impi : usim_impi(u), u,
				     conf->server_name, &res, err, sizeof(err));
	if (r >= 0)
		r = gba_slot_store(t, conf->state_dir, node_creds_node_id(creds), &res,
				   conf->gba_impi ? conf->gba_impi : usim_impi(u), conf->server_name,
				   err, sizeof(err));
	gba_ub_result_wipe(&res);
	usim_free(u);
	if (r >= 0)
		r = gba_slot_read(conf->state_dir, slot, err, sizeof(err));
	if (r >= 0)
		r = gba_slot_load_key(t, conf->state_dir, ret_key);
	if (r < 0) {
		fprintf(stderr, "m2msactl establish: GBA bootstrap with %s failed: %s\n",
			conf->gba_bsf_url, err[0] ? err : tpm_last_error(t));
		return r;
	}
	fprintf(stderr, "m2msactl establish: bootstrapped with %s: B-TID %s\n", conf->gba_bsf_url,
		slot->btid);
	return 0;
}

/* One establishment with the credentials conf names; prints the result. An exit status. */
static int establish_once(const struct agent_conf *conf, const char *key_out, bool json)
{
	_cleanup_(node_creds_freep) struct node_creds *creds = NULL;
	struct establish_result res = { .kc = NULL };
	struct m2msa_err err = { .wire_code = 0 };
	struct gba_slot slot;
	struct tpm_key *gba_key = NULL;
	struct kdf_prf gba_prf;
	const char *node_id;
	bool tpm_suspect;
	int r;

	r = node_creds_new(conf, &creds);
	if (r < 0) {
		fprintf(stderr, "m2msactl establish: %s\n", strerror(-r));
		return CLI_EXIT_FAILURE;
	}
	r = node_creds_prepare(creds, &err, &tpm_suspect);
	if (r < 0) {
		fprintf(stderr, "m2msactl establish: %s\n", err.msg);
		return CLI_EXIT_FAILURE;
	}
	node_id = node_creds_node_id(creds);
	if (agent_conf_offers(conf, WIRE_METHOD_GBA)) {
		r = gba_prepare(conf, creds, &slot, &gba_key);
		if (r < 0)
			return CLI_EXIT_FAILURE;
		tpm_key_prf(gba_key, &gba_prf);
	}
	/* Each MAS instance in [mas] address in turn, while another one may help. */
	for (size_t i = 0; i < conf->n_mas_addresses; i++) {
		r = establish_run(node_creds_tls(creds),
				  &(struct establish_params){
					  .mas_address = conf->mas_addresses[i],
					  .server_name = conf->server_name,
					  .node_id = node_id,
					  .methods = conf->methods,
					  .n_methods = conf->n_methods,
					  .timeout_ms = (int)(conf->timeout * 1000),
					  .btid = gba_key ? slot.btid : NULL,
					  .gba_km = gba_key ? &gba_prf : NULL,
					  .gba_expiry = gba_key ? (uint64_t)slot.expiry : 0,
				  },
				  node_creds_km(creds), &res, &err);
		if (r >= 0 || !agent_conf_failover_helps(r) || i + 1 == conf->n_mas_addresses)
			break;
		fprintf(stderr, "m2msactl establish: %s; trying the next MAS, %s\n", err.msg,
			conf->mas_addresses[i + 1]);
	}
	tpm_key_free(gba_key);
	if (r < 0 && gba_key && establish_gba_refused(&err)) {
		char path[4096];

		/* The MAS refused Ks_NAF (B-TID unknown or expired there): bootstrap again next run. */
		snprintf(path, sizeof(path), "%s/" GBA_SLOT_DIR "/" GBA_SLOT_INFO_FILE, conf->state_dir);
		(void)unlink(path);
		fprintf(stderr, "m2msactl establish: the MAS refused the proof made with the Ks_NAF of "
				"B-TID %s; run m2msactl establish again to bootstrap anew\n",
			slot.btid);
	}
	if (r < 0) {
		fprintf(stderr, "m2msactl establish: %s\n", err.msg);
		/* With pki offered the refusal may be about the certificate: the message says which. */
		if (r == -EKEYREJECTED && !agent_conf_offers(conf, WIRE_METHOD_PKI) &&
		    !establish_gba_refused(&err))
			fprintf(stderr, "m2msactl establish: the MAS holds a different Km for %s: "
					"provision the key the provider issued (m2msactl provision)\n",
				node_id);
		return CLI_EXIT_FAILURE;
	}
	r = key_out ? fileio_write_exclusive(key_out, res.kc->data, res.kc->len, 0600) : 0;
	if (r < 0)
		fprintf(stderr, "m2msactl establish: cannot write %s: %s\n", key_out, strerror(-r));
	else
		print_result(&res, node_id, json);
	establish_result_clear(&res);
	return r < 0 ? CLI_EXIT_FAILURE : CLI_EXIT_OK;
}

int ctl_establish(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "key-out", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *config = AGENT_CONF_DEFAULT, *key_out = NULL;
	_cleanup_(agent_conf_free) struct agent_conf conf = { .n_methods = 0 };
	struct m2msa_err err = { .wire_code = 0 };
	bool json = false;
	int c, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'k':
			key_out = optarg;
			break;
		case 'h':
			usage(stdout);
			return CLI_EXIT_OK;
		default:
			usage(stderr);
			return CLI_EXIT_USAGE;
		}
	}
	r = cli_no_more_args(&(const struct cli){ "m2msactl", "establish" }, argc, argv, optind);
	if (r != CLI_EXIT_OK)
		return r;
	if (key_out && access(key_out, F_OK) == 0) {
		fprintf(stderr, "m2msactl establish: %s already exists; choose a new file for --key-out\n",
			key_out);
		return CLI_EXIT_FAILURE;
	}
	r = agent_conf_load(config, &conf, &err);
	if (r < 0) {
		fprintf(stderr, "m2msactl establish: %s\n", err.msg);
		return CLI_EXIT_FAILURE;
	}
	return establish_once(&conf, key_out, json);
}
