/* SPDX-License-Identifier: Apache-2.0 */
/* m2msactl usim provision / usim check: the tpm USIM backend's K into the TPM, and a check. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "m2msactl/ctl-keyfile.h"
#include "m2msactl/ctl.h"
#include "common/aka.h"
#include "common/secret.h"
#include "tpm/usimkey.h"
#include "usim/usim-state.h"
#include "usim/usim.h"

/* 16 bytes (K, OP or OPc) from a key file: 32 hex digits or 16 raw bytes. */
static int read_key16(const char *path, uint8_t out[static 16], const char *what, char *err,
		      size_t err_len)
{
	_cleanup_secret_ struct secret *buf = NULL;
	size_t len = 0, hex_digits = 0;
	int r;

	r = ctl_key_file_read(path, &buf, &len);
	if (r == -EFBIG) {
		snprintf(err, err_len, "%s is not a %s file: more than %d bytes", path, what,
			 CTL_KEY_FILE_MAX);
		return -EINVAL;
	}
	if (r < 0) {
		snprintf(err, err_len, "cannot read the %s file %s: %s", what, path, strerror(-r));
		return r;
	}
	r = ctl_key_parse(buf->data, len, out, 16, &hex_digits);
	if (r == -EINVAL && hex_digits)
		snprintf(err, err_len,
			 "%s: wrong length for %s: %zu hex digits; it must be 32 hex digits (16 bytes)",
			 path, what, hex_digits);
	else if (r == -EINVAL)
		snprintf(err, err_len,
			 "%s: wrong length for %s: %zu bytes; it must be 16 raw bytes or 32 hex digits",
			 path, what, len);
	else if (r < 0)
		snprintf(err, err_len, "%s: %s", path, strerror(-r));
	return r;
}

enum {
	OPT_IMPI = 0x100,
	OPT_K_FILE,
	OPT_OPC_FILE,
	OPT_OP_FILE,
	OPT_SQN,
	OPT_TCTI,
	OPT_STATE_DIR,
	OPT_PCSC,
	OPT_READER,
};

static const char provision_help[] =
	"Usage: m2msactl usim provision --impi IMPI --k-file FILE (--opc-file FILE | --op-file FILE)\n"
	"                               [--sqn N] [--tcti TCTI] [--state-dir DIR] [--force] [-v]\n\n"
	"Import the subscriber key K into the TPM as an AES-128 key (the tpm USIM backend of\n"
	"method gba) and write usim.pub, usim.priv, usim.conf, usim.opc and usim.sqn into DIR.\n"
	"Every Milenage operation with K then runs inside the TPM.\n\n"
	"  --impi IMPI      the subscriber's IMPI (the Ub user name)\n"
	"  --k-file FILE    K: 16 raw bytes or 32 hex digits; '-' reads standard input\n"
	"  --opc-file FILE  OPc, same format\n"
	"  --op-file FILE   OP instead of OPc: OPc = OP xor E_K(OP) is computed in the TPM\n"
	"  --sqn N          the highest SQN already used (default 0: fresh subscription)\n"
	"  --tcti TCTI      default " TPM_DEFAULT_TCTI "\n"
	"  --state-dir DIR  default " TPM_DEFAULT_STATE_DIR "\n"
	"  --force          replace a USIM already provisioned in DIR\n"
	"  -v, --verbose    show the TPM's raw response codes on failure\n";

struct provision_args {
	const char *impi, *k_file, *opc_file, *op_file, *tcti, *state_dir;
	uint64_t sqn;
	bool force, verbose;
};

static int parse_sqn(const char *s, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || s[0] == '-' || v > AKA_SQN_MAX)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int provision_parse(int argc, char **argv, struct provision_args *a)
{
	static const struct option opts[] = {
		{ "impi", required_argument, NULL, OPT_IMPI },
		{ "k-file", required_argument, NULL, OPT_K_FILE },
		{ "opc-file", required_argument, NULL, OPT_OPC_FILE },
		{ "op-file", required_argument, NULL, OPT_OP_FILE },
		{ "sqn", required_argument, NULL, OPT_SQN },
		{ "tcti", required_argument, NULL, OPT_TCTI },
		{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
		{ "force", no_argument, NULL, 'f' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "hv", opts, NULL)) >= 0) {
		switch (c) {
		case OPT_IMPI: a->impi = optarg; break;
		case OPT_K_FILE: a->k_file = optarg; break;
		case OPT_OPC_FILE: a->opc_file = optarg; break;
		case OPT_OP_FILE: a->op_file = optarg; break;
		case OPT_SQN:
			if (parse_sqn(optarg, &a->sqn) < 0) {
				fprintf(stderr, "m2msactl usim provision: invalid --sqn '%s' (0 to "
						"2^48-1)\n", optarg);
				return CLI_EXIT_USAGE;
			}
			break;
		case OPT_TCTI: a->tcti = optarg; break;
		case OPT_STATE_DIR: a->state_dir = optarg; break;
		case 'f': a->force = true; break;
		case 'v': a->verbose = true; break;
		case 'h': fputs(provision_help, stdout); return CLI_EXIT_OK;
		default:
			fputs("(see m2msactl usim provision --help)\n", stderr);
			return CLI_EXIT_USAGE;
		}
	}
	if (cli_no_more_args(&(const struct cli){ "m2msactl", "usim provision" }, argc, argv, optind) !=
	    CLI_EXIT_OK)
		return CLI_EXIT_USAGE;
	if (!a->impi || !a->k_file || !a->opc_file == !a->op_file) {
		fprintf(stderr, "m2msactl usim provision: --impi, --k-file and one of --opc-file "
				"or --op-file are required (see --help)\n");
		return CLI_EXIT_USAGE;
	}
	if (!usim_impi_valid(a->impi)) {
		fprintf(stderr, "m2msactl usim provision: invalid --impi '%s' (1 to 255 characters "
				"from A-Z a-z 0-9 . _ - @ + ! ~ %%)\n", a->impi);
		return CLI_EXIT_USAGE;
	}
	return -1;
}

/* OPc = OP xor E_K(OP) with the K just imported. */
static int opc_from_op(struct tpm_ctx *t, const char *dir, const uint8_t op[static 16],
		       uint8_t opc[static 16])
{
	_cleanup_(tpm_usim_key_freep) struct tpm_usim_key *k = NULL;
	struct milenage_cipher c;
	int r;

	r = tpm_usim_key_load(t, dir, &k);
	if (r < 0)
		return r;
	tpm_usim_key_cipher(k, &c);
	return milenage_opc(&c, op, opc);
}

static int usim_provision(int argc, char **argv)
{
	struct provision_args a = { .tcti = TPM_DEFAULT_TCTI, .state_dir = TPM_DEFAULT_STATE_DIR };
	_cleanup_(tpm_closep) struct tpm_ctx *t = NULL;
	uint8_t k[16] = { 0 }, opc[16] = { 0 }, op[16] = { 0 };
	char err[512], existing[4096];
	int r;

	r = provision_parse(argc, argv, &a);
	if (r >= 0)
		return r;
	snprintf(existing, sizeof(existing), "%s/" TPM_USIM_PUB_FILE, a.state_dir);
	if (!a.force && access(existing, F_OK) == 0) {
		fprintf(stderr, "m2msactl usim provision: a USIM is already provisioned in %s; "
				"replacing it destroys its K and SQN state for good (add --force if "
				"that is what you want)\n", a.state_dir);
		return CLI_EXIT_FAILURE;
	}
	r = read_key16(a.k_file, k, "K", err, sizeof(err));
	if (r == 0)
		r = read_key16(a.opc_file ? a.opc_file : a.op_file, a.opc_file ? opc : op,
			       a.opc_file ? "OPc" : "OP", err, sizeof(err));
	if (r == 0)
		r = tpm_open(a.tcti, &t, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "m2msactl usim provision: %s\n", err);
		goto out;
	}
	r = tpm_usim_key_provision(t, a.state_dir, k);
	secret_wipe(k, sizeof(k));
	if (r == 0 && a.op_file)
		r = opc_from_op(t, a.state_dir, op, opc);
	if (r < 0) {
		ctl_tpm_error("m2msactl usim provision: ", t, a.verbose);
		goto out;
	}
	r = usim_state_write(a.state_dir, a.impi, opc, a.sqn, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "m2msactl usim provision: %s\n", err);
		goto out;
	}
	printf("Provisioned the USIM for %s in %s (K in the TPM, SQN %" PRIu64 ").\n", a.impi,
	       a.state_dir, a.sqn);
out:
	secret_wipe(k, sizeof(k));
	secret_wipe(op, sizeof(op));
	secret_wipe(opc, sizeof(opc));
	return r < 0 ? CLI_EXIT_FAILURE : CLI_EXIT_OK;
}

static const char check_help[] =
	"Usage: m2msactl usim check [--tcti TCTI] [--state-dir DIR] [-v]\n"
	"       m2msactl usim check --pcsc [--reader NAME] [--impi IMPI]\n\n"
	"Check the tpm USIM backend: the state files are readable, K loads in the TPM and\n"
	"one AES-128 operation with it works. Prints the IMPI and the highest accepted SQN.\n"
	"With --pcsc, check the pcsc backend instead: pcscd answers, the reader has a card\n"
	"with a USIM application, and the IMPI (given, or derived from the card's IMSI).\n\n"
	"  --tcti TCTI      default " TPM_DEFAULT_TCTI "\n"
	"  --state-dir DIR  default " TPM_DEFAULT_STATE_DIR "\n"
	"  --pcsc           check the card in a PC/SC reader\n"
	"  --reader NAME    that reader (default: the first reader with a card)\n"
	"  --impi IMPI      the configured IMPI (default: from the card's IMSI)\n"
	"  -v, --verbose    show the TPM's raw response codes on failure\n";

static int check_pcsc(const char *reader, const char *impi)
{
	_cleanup_usim_ struct usim *u = NULL;
	char err[512];
	int r;

	r = usim_pcsc_open(reader, impi, &u, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "FAIL  USIM card: %s\n", err);
		return CLI_EXIT_FAILURE;
	}
	printf("ok    USIM application selected on the card in %s\n",
	       reader ? reader : "the first reader with a card");
	printf("ok    IMPI %s%s\n", usim_impi(u), impi ? "" : " (from the card's IMSI)");
	return CLI_EXIT_OK;
}

static int usim_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "tcti", required_argument, NULL, OPT_TCTI },
		{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
		{ "pcsc", no_argument, NULL, OPT_PCSC },
		{ "reader", required_argument, NULL, OPT_READER },
		{ "impi", required_argument, NULL, OPT_IMPI },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *tcti = TPM_DEFAULT_TCTI, *state_dir = TPM_DEFAULT_STATE_DIR;
	const char *reader = NULL, *card_impi = NULL;
	_cleanup_(tpm_closep) struct tpm_ctx *t = NULL;
	_cleanup_(tpm_usim_key_freep) struct tpm_usim_key *k = NULL;
	bool pcsc = false;
	_cleanup_free_ char *impi = NULL;
	uint8_t opc[16], block[16] = { 0 };
	bool verbose = false;
	uint64_t sqn;
	char err[512];
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "hv", opts, NULL)) >= 0) {
		switch (c) {
		case OPT_TCTI: tcti = optarg; break;
		case OPT_STATE_DIR: state_dir = optarg; break;
		case OPT_PCSC: pcsc = true; break;
		case OPT_READER: reader = optarg; break;
		case OPT_IMPI: card_impi = optarg; break;
		case 'v': verbose = true; break;
		case 'h': fputs(check_help, stdout); return CLI_EXIT_OK;
		default:
			fputs("(see m2msactl usim check --help)\n", stderr);
			return CLI_EXIT_USAGE;
		}
	}
	if (cli_no_more_args(&(const struct cli){ "m2msactl", "usim check" }, argc, argv, optind) !=
	    CLI_EXIT_OK)
		return CLI_EXIT_USAGE;
	if (!pcsc && (reader || card_impi)) {
		fprintf(stderr, "m2msactl usim check: --reader and --impi go with --pcsc (see "
				"--help)\n");
		return CLI_EXIT_USAGE;
	}
	if (pcsc)
		return check_pcsc(reader, card_impi);
	r = usim_state_read(state_dir, &impi, opc, err, sizeof(err));
	secret_wipe(opc, sizeof(opc));
	if (r == 0)
		r = usim_state_sqn_read(state_dir, &sqn, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "FAIL  USIM state: %s\n", err);
		return CLI_EXIT_FAILURE;
	}
	printf("ok    USIM state in %s: IMPI %s, highest accepted SQN %" PRIu64 "\n", state_dir,
	       impi, sqn);
	r = tpm_open(tcti, &t, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "FAIL  TPM: %s\n", err);
		return CLI_EXIT_FAILURE;
	}
	r = tpm_usim_key_load(t, state_dir, &k);
	if (r == 0)
		r = tpm_usim_key_encrypt(k, block, block);
	secret_wipe(block, sizeof(block));
	if (r < 0) {
		ctl_tpm_error("FAIL  USIM key: ", t, verbose);
		return CLI_EXIT_FAILURE;
	}
	printf("ok    K loads in the TPM at %s and AES-128 with it works\n", tcti);
	return CLI_EXIT_OK;
}

static const char usim_help[] =
	"Usage: m2msactl usim provision ...   import K into the TPM (see usim provision --help)\n"
	"       m2msactl usim check ...       check the provisioned USIM\n";

int ctl_usim(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usim_help, stderr);
		return CLI_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(usim_help, stdout);
		return CLI_EXIT_OK;
	}
	if (strcmp(argv[1], "provision") == 0)
		return usim_provision(argc - 1, argv + 1);
	if (strcmp(argv[1], "check") == 0)
		return usim_check(argc - 1, argv + 1);
	fprintf(stderr, "m2msactl usim: unknown subcommand '%s' (provision or check)\n", argv[1]);
	return CLI_EXIT_USAGE;
}
