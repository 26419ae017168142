/* SPDX-License-Identifier: Apache-2.0 */
/*
 * m2masctl policy sign: sign a PCR policy (TPM2_PolicyAuthorize) for the nodes
 * whose Km was wrapped with --policy-signer, e.g. after a firmware update changed
 * their PCRs. Needs no store: only the signing key and the node's PCR values.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/secret.h"
#include "common/util.h"
#include "mas/ctl.h"
#include "tpm/policy.h"

#define KEY_PEM_MAX 16384

static const char sign_help[] =
	"Usage: m2masctl policy sign --pcrs sha256:0,2,4,7 --pcr-values FILE --key signer.key\n"
	"                            --epoch N --out FILE\n\n"
	"Sign a PCR policy: Km of nodes provisioned with --policy-signer (the public part of\n"
	"signer.key) may be used while their PCRs hold these values. Give the node the\n"
	"file; it installs it with m2msactl policy-install.\n\n"
	"  --pcrs SEL         the PCRs the policy covers\n"
	"  --pcr-values FILE  their values: tpm2_pcrread output from the node ('N : 0x...')\n"
	"  --key FILE         the P-256 policy signing key (PEM); keep it offline\n"
	"  --epoch N          a number higher than the node's current policy\n"
	"  --out FILE         where to write the signed policy\n";

static int read_text(const char *path, char *buf, size_t size, size_t *ret_len)
{
	int r = fileio_read(path, (uint8_t *)buf, size - 1, ret_len);

	if (r == 0)
		buf[*ret_len] = '\0';
	return r;
}

static int write_out(const char *path, const char *text)
{
	return fileio_write_atomic(path, text, strlen(text), 0644);
}

struct sign_args {
	const char *pcrs, *values, *key, *epoch, *out;
};

static int parse_args(int argc, char **argv, struct sign_args *a)
{
	static const struct option opts[] = {
		{ "pcrs", required_argument, NULL, 'p' },
		{ "pcr-values", required_argument, NULL, 'v' },
		{ "key", required_argument, NULL, 'k' },
		{ "epoch", required_argument, NULL, 'e' },
		{ "out", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int o;

	optind = 0;
	opterr = 0;
	while ((o = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (o) {
		case 'p': a->pcrs = optarg; break;
		case 'v': a->values = optarg; break;
		case 'k': a->key = optarg; break;
		case 'e': a->epoch = optarg; break;
		case 'o': a->out = optarg; break;
		case 'h': fputs(sign_help, stdout); return 0;
		default:
			fprintf(stderr, "m2masctl policy sign: bad option '%s' (see --help)\n",
				argv[optind - 1]);
			return 2;
		}
	}
	if (optind != argc || !a->pcrs || !a->values || !a->key || !a->epoch || !a->out) {
		fprintf(stderr, "m2masctl policy sign: --pcrs, --pcr-values, --key, --epoch and "
				"--out are required (see --help)\n");
		return 2;
	}
	return -1;
}

int ctl_policy_sign(struct ctl *c, int argc, char **argv)
{
	struct sign_args a = { 0 };
	struct tpm_signed_policy p = { 0 };
	_cleanup_free_ char *text = malloc(KEY_PEM_MAX), *out = NULL;
	char err[TPM_POLICY_ERR_MAX], *end;
	unsigned long epoch;
	size_t len = 0;
	int r;

	(void)c;
	r = parse_args(argc, argv, &a);
	if (r >= 0)
		return r;
	if (!text)
		return 1;
	if (tpm_policy_pcrs_parse(a.pcrs, &p.pcr_mask) < 0) {
		fprintf(stderr, "m2masctl policy sign: invalid --pcrs '%s' (e.g. sha256:0,2,4,7; "
				"PCRs 0 to 23)\n", a.pcrs);
		return 2;
	}
	errno = 0;
	epoch = strtoul(a.epoch, &end, 10);
	if (errno || *end || end == a.epoch || epoch > UINT32_MAX) {
		fprintf(stderr, "m2masctl policy sign: invalid --epoch '%s' (a number)\n", a.epoch);
		return 2;
	}
	p.epoch = (uint32_t)epoch;
	r = read_text(a.values, text, KEY_PEM_MAX, &len);
	if (r == 0)
		r = tpm_pcr_values_parse(text, len, p.pcr_mask, p.pcr, err, sizeof(err));
	else
		snprintf(err, sizeof(err), "%s", strerror(-r));
	if (r < 0) {
		fprintf(stderr, "m2masctl policy sign: %s: %s\n", a.values, err);
		return 1;
	}
	r = read_text(a.key, text, KEY_PEM_MAX, &len);
	if (r < 0) {
		fprintf(stderr, "m2masctl policy sign: cannot read %s: %s\n", a.key, strerror(-r));
		return 1;
	}
	r = tpm_policy_sign(&p, text, len, NULL, err, sizeof(err));
	secret_wipe(text, KEY_PEM_MAX);
	if (r < 0) {
		fprintf(stderr, "m2masctl policy sign: %s: %s\n", a.key, err);
		return 1;
	}
	r = tpm_policy_format(&p, &out);
	if (r == 0)
		r = write_out(a.out, out);
	if (r < 0) {
		fprintf(stderr, "m2masctl policy sign: cannot write %s: %s\n", a.out, strerror(-r));
		return 1;
	}
	fprintf(stderr, "m2masctl: signed policy epoch %lu for PCRs %s in %s (on the node: "
			"m2msactl policy-install %s)\n", epoch, a.pcrs, a.out, a.out);
	return 0;
}
