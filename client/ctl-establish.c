/* SPDX-License-Identifier: Apache-2.0 */
/* m2msactl establish: run one security association establishment with the MAS. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent-conf.h"
#include "agent/establish.h"
#include "client/ctl.h"
#include "common/log.h"
#include "tpm/keystore.h"
#include "tpm/signkey.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: m2msactl establish [--config FILE] [--json] [--key-out FILE]\n"
		"\n"
		"Run one security association establishment with the MAS: the node proves it\n"
		"holds Km (inside the TPM), checks the MAS's proof, and derives Kc in the TPM.\n"
		"Prints the SecureConnectionID (key ID), expiry, method and suite; never key bytes.\n"
		"\n"
		"  --config FILE    node configuration (default %s)\n"
		"  --json           print one JSON object instead of text\n"
		"  --key-out FILE   also write Kc (32 raw bytes) to FILE, mode 0600, for handing\n"
		"                   to an AE by hand; FILE must not exist yet\n",
		AGENT_CONF_DEFAULT);
}

static int write_key(const char *path, const struct secret *kc)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, kc->data, kc->len);
	if (n != (ssize_t)kc->len || fsync(fd) < 0) {
		int r = n < 0 ? -errno : -EIO;

		close(fd);
		unlink(path);
		return r;
	}
	return close(fd) < 0 ? -errno : 0;
}

static void print_result(const struct establish_result *res, const char *node_id, bool json)
{
	time_t exp = (time_t)res->expiry;
	long lifetime = (long)(res->expiry - (uint64_t)time(NULL));
	char when[64];

	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&exp));
	if (json) {
		/* Every string here was validated by the wire decoder: no quoting needed. */
		printf("{\"node_id\":\"%s\",\"key_id\":\"%s\",\"expiry\":%llu,\"expires\":\"%s\","
		       "\"lifetime\":%ld,\"method\":\"%s\",\"suite\":\"%s\"}\n",
		       node_id, res->key_id, (unsigned long long)res->expiry, when, lifetime,
		       wire_method_to_string(res->method), res->suite);
		return;
	}
	printf("node ID:   %s\n", node_id);
	printf("key ID:    %s\n", res->key_id);
	printf("expires:   %s (in %ld s)\n", when, lifetime);
	printf("method:    %s\n", wire_method_to_string(res->method));
	printf("suite:     %s (TLS 1.3 PSK, identity = key ID)\n", res->suite);
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
	const char *config = AGENT_CONF_DEFAULT, *key_out = NULL, *node_id;
	struct agent_conf conf = { .n_methods = 0 };
	struct establish_result res = { .kc = NULL };
	struct establish_error eerr;
	_cleanup_(tpm_closep) struct tpm_ctx *tpm = NULL;
	_cleanup_(tpm_key_freep) struct tpm_key *key = NULL;
	_cleanup_(tpm_signkey_freep) struct tpm_signkey *signkey = NULL;
	_cleanup_free_ char *cert = NULL, *chain = NULL;
	struct tls_signer signer = { tpm_signkey_tls_sign, NULL };
	bool offer_psk = false, offer_pki = false;
	WOLFSSL_CTX *ctx = NULL;
	struct kdf_prf prf;
	char err[512];
	bool json = false;
	int c, r, status = CTL_EXIT_FAILURE;

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
			return CTL_EXIT_OK;
		default:
			usage(stderr);
			return CTL_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "m2msactl establish: unexpected argument '%s'\n", argv[optind]);
		return CTL_EXIT_USAGE;
	}
	if (key_out && access(key_out, F_OK) == 0) {
		fprintf(stderr, "m2msactl establish: %s already exists; choose a new file for --key-out\n",
			key_out);
		return CTL_EXIT_FAILURE;
	}
	r = agent_conf_load(config, &conf, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "m2msactl establish: %s\n", err);
		return CTL_EXIT_FAILURE;
	}
	r = tpm_open(conf.tcti, &tpm, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "m2msactl establish: %s\n", err);
		goto out;
	}
	for (size_t i = 0; i < conf.n_methods; i++) {
		offer_psk |= conf.methods[i] == WIRE_METHOD_PSK;
		offer_pki |= conf.methods[i] == WIRE_METHOD_PKI;
	}
	/* Km is needed for psk only; a pki-only node names itself in node_id. */
	r = tpm_key_load(tpm, conf.state_dir, &key);
	if (r < 0 && (offer_psk || !conf.node_id)) {
		fprintf(stderr, "m2msactl establish: %s\n", tpm_last_error(tpm));
		goto out;
	}
	node_id = key ? tpm_key_node_id(key) : conf.node_id;
	if (conf.node_id && strcmp(conf.node_id, node_id) != 0) {
		fprintf(stderr,
			"m2msactl establish: %s sets node_id '%s' but the key in %s was provisioned "
			"for '%s' (fix node_id, or provision Km for this node)\n",
			config, conf.node_id, conf.state_dir, node_id);
		goto out;
	}
	if (offer_pki) {
		/* The node certificate; its key signs the TLS CertificateVerify inside the TPM. */
		if (asprintf(&cert, "%s/%s", conf.state_dir, TPM_NODE_CERT_FILE) < 0 ||
		    asprintf(&chain, "%s/%s", conf.state_dir, TPM_NODE_CHAIN_FILE) < 0)
			goto out;
		if (access(cert, R_OK) < 0) {
			fprintf(stderr, "m2msactl establish: method pki is configured but %s is "
					"missing (m2msactl pki-keygen, then pki-install --cert FILE)\n",
				cert);
			goto out;
		}
		r = tpm_signkey_load(tpm, conf.state_dir, &signkey);
		if (r < 0) {
			fprintf(stderr, "m2msactl establish: %s\n", tpm_last_error(tpm));
			goto out;
		}
		signer.userdata = signkey;
		ctx = tls_client_ctx_new_signer(conf.mas_ca, cert,
						access(chain, F_OK) == 0 ? chain : NULL, &signer, err,
						sizeof(err));
	} else {
		ctx = tls_client_ctx_new(conf.mas_ca, NULL, NULL, err, sizeof(err));
	}
	if (!ctx) {
		fprintf(stderr, "m2msactl establish: %s\n", err);
		goto out;
	}
	if (key)
		tpm_key_prf(key, &prf);
	r = establish_run(ctx,
			  &(struct establish_params){
				  .mas_address = conf.mas_address,
				  .server_name = conf.server_name,
				  .node_id = node_id,
				  .methods = conf.methods,
				  .n_methods = conf.n_methods,
				  .timeout_ms = (int)(conf.timeout * 1000),
			  },
			  key ? &prf : NULL, &res, &eerr);
	if (r < 0) {
		fprintf(stderr, "m2msactl establish: %s\n", eerr.msg);
		/* With pki offered the refusal may be about the certificate: the message says which. */
		if (r == -EKEYREJECTED && !offer_pki)
			fprintf(stderr, "m2msactl establish: the MAS holds a different Km for %s: "
					"provision the key the provider issued (m2msactl provision)\n",
				node_id);
		goto out;
	}
	if (key_out) {
		r = write_key(key_out, res.kc);
		if (r < 0) {
			fprintf(stderr, "m2msactl establish: cannot write %s: %s\n", key_out,
				strerror(-r));
			goto out;
		}
	}
	print_result(&res, node_id, json);
	status = CTL_EXIT_OK;
out:
	establish_result_clear(&res);
	if (ctx)
		wolfSSL_CTX_free(ctx);
	agent_conf_free(&conf);
	return status;
}
