/* SPDX-License-Identifier: Apache-2.0 */
/* m2msactl provision and tpm-check: put Km into the TPM, and check that it works. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "m2msactl/ctl-keyfile.h"
#include "m2msactl/ctl.h"
#include "common/err.h"
#include "common/kdf.h"
#include "common/secret.h"
#include "tpm/keystore.h"
#include "tpm/owner-auth.h"
#include "tpm/policy.h"
#include "common/fileio.h"
#include "tpm/tpm-ctx.h"

static int read_key_file(const char *path, uint8_t km[static TPM_KM_LEN], struct m2msa_err *err)
{
	_cleanup_secret_ struct secret *buf = NULL;
	const char *name = strcmp(path, "-") == 0 ? "(stdin)" : path;
	size_t len = 0, hex_digits = 0;
	int r;

	r = ctl_key_file_read(path, &buf, &len);
	if (r == -EFBIG)
		return err_set(err, -EINVAL,
			       "%s is not a key file: more than %d bytes (Km is 32 raw bytes "
			       "or 64 hex digits)",
			       name, CTL_KEY_FILE_MAX);
	if (r < 0)
		return err_set(err, r, "cannot read the key file %s: %s", name, strerror(-r));
	r = ctl_key_parse(buf->data, len, km, TPM_KM_LEN, &hex_digits);
	if (r == -EINVAL && hex_digits)
		return err_set(err, -EINVAL,
			       "%s: wrong key length: %zu hex digits (%zu bytes); Km must be 32 bytes "
			       "(64 hex digits)",
			       name, hex_digits, hex_digits / 2);
	if (r == -EINVAL)
		return err_set(err, -EINVAL,
			       "%s: wrong key length: %zu bytes; Km must be 32 raw bytes or 64 hex digits",
			       name, len);
	if (r < 0)
		return err_set(err, r, "%s: %s", name, strerror(-r));
	return 0;
}

void ctl_tpm_error(const char *prefix, const struct tpm_ctx *t, bool verbose)
{
	fprintf(stderr, "%s%s\n", prefix, tpm_last_error(t));
	if (verbose && *tpm_last_error_detail(t))
		fprintf(stderr, "%sdebug: %s\n", prefix, tpm_last_error_detail(t));
}

enum {
	OPT_NODE_ID = 0x100,
	OPT_KM_ID,
	OPT_KEY_FILE,
	OPT_PCRS,
	OPT_TCTI,
	OPT_STATE_DIR,
	OPT_IMPORT,
	OPT_IMPORT_TOOLS,
	OPT_OWNER_AUTH,
	OPT_POLICY_SIGNER,
};

/* The policy signer's public key from a PEM file; a message on failure. */
static int load_signer(const char *pem_path, TPM2B_PUBLIC *ret)
{
	_cleanup_free_ uint8_t *pem = NULL;
	char err[TPM_POLICY_ERR_MAX];
	size_t len = 0;
	int r;

	r = fileio_read_alloc(pem_path, 16384, &pem, &len);
	if (r < 0) {
		fprintf(stderr, "m2msactl provision: cannot read %s: %s\n", pem_path, strerror(-r));
		return r;
	}
	r = tpm_policy_signer_from_pem((const char *)pem, len, ret, err, sizeof(err));
	secret_wipe(pem, len);
	if (r < 0)
		fprintf(stderr, "m2msactl provision: %s: %s\n", pem_path, err);
	return r;
}

static const char provision_help[] =
	"Usage: m2msactl provision --import km.dup [--node-id CSE-ID] [--km-id KMID]\n"
	"                          [--tcti TCTI] [--owner-auth-file F] [--state-dir DIR] [--force] [-v]\n"
	"       m2msactl provision --node-id CSE-ID --km-id KMID --import-tpm2-tools PREFIX\n"
	"                          [--tcti TCTI] [--owner-auth-file F] [--state-dir DIR] [--force] [-v]\n"
	"       m2msactl provision --node-id CSE-ID --km-id KMID --key-file FILE\n"
	"                          [--pcrs sha256:0,7 | --policy-signer signer.pem]\n"
	"                          [--tcti TCTI] [--state-dir DIR] [--force] [-v]\n\n"
	"Put the 32-byte long-term key Km into the TPM as an HMAC-SHA256 key under the\n"
	"storage primary key, and write km.pub, km.priv and node.conf into DIR.\n"
	"--import takes Km wrapped to this TPM's storage key (m2masctl node add --wrap-to\n"
	"with the srk.pub from m2msactl tpm-identity): Km never appears in clear.\n\n"
	"  --import FILE    a km.dup; the node ID and KmID come from it\n"
	"  --import-tpm2-tools PREFIX\n"
	"                   PREFIX.pub, PREFIX.dpriv, PREFIX.seed from tpm2_duplicate\n"
	"                   (-u/-r/-s); needs --node-id and --km-id\n"
	"  --node-id ID     this node's CSE-ID (with --import: checked against the blob)\n"
	"  --km-id ID       the key's KmID (relative@MAS-FQDN)\n"
	"  --key-file FILE  32 raw bytes or 64 hex digits; '-' reads standard input\n"
	"  --pcrs SEL       bind the key to the current values of these PCRs\n"
	"  --policy-signer signer.pem\n"
	"                   make Km usable under PCR policies this P-256 key signs\n"
	"                   (m2masctl policy sign; m2msactl policy-install)\n"
	"  --tcti TCTI      default " TPM_DEFAULT_TCTI "\n"
	"  --owner-auth-file FILE\n"
	"                   the owner hierarchy password, if it has one (else the systemd\n"
	"                   credential " TPM_OWNER_AUTH_CREDENTIAL "); never on the command line\n"
	"  --state-dir DIR  default " TPM_DEFAULT_STATE_DIR "\n"
	"  --force          replace a key already provisioned in the state dir\n"
	"  -v, --verbose    show the TPM's raw response codes on failure\n";

/* Which of the option combinations of provision make sense: CLI_EXIT_OK or CLI_EXIT_USAGE. */
static int check_provision_args(const char *import, const char *import_tools,
				const char *key_file, const char *pcrs, const char *signer_path,
				const char *node_id, const char *km_id)
{
	uint32_t mask;

	if ((import || import_tools) && (key_file || pcrs || signer_path || (import && import_tools))) {
		fprintf(stderr, "m2msactl provision: give one of --import, --import-tpm2-tools and "
				"--key-file; --pcrs goes only with --key-file (see --help)\n");
		return CLI_EXIT_USAGE;
	}
	if (!import && (!node_id || !km_id || (!key_file && !import_tools))) {
		fprintf(stderr, "m2msactl provision: give --import FILE, or --node-id, --km-id and "
				"--key-file (see --help)\n");
		return CLI_EXIT_USAGE;
	}
	if (pcrs && signer_path) {
		fprintf(stderr, "m2msactl provision: --pcrs and --policy-signer do not go together "
				"(signed policies name their PCRs)\n");
		return CLI_EXIT_USAGE;
	}
	if (pcrs && tpm_pcrs_parse(pcrs, &mask) < 0) {
		fprintf(stderr, "m2msactl provision: invalid --pcrs '%s' (expected e.g. sha256:0,7; "
				"PCRs 0 to 23)\n", pcrs);
		return CLI_EXIT_USAGE;
	}
	return CLI_EXIT_OK;
}

int ctl_provision(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "node-id", required_argument, NULL, OPT_NODE_ID },
		{ "km-id", required_argument, NULL, OPT_KM_ID },
		{ "key-file", required_argument, NULL, OPT_KEY_FILE },
		{ "import", required_argument, NULL, OPT_IMPORT },
		{ "import-tpm2-tools", required_argument, NULL, OPT_IMPORT_TOOLS },
		{ "policy-signer", required_argument, NULL, OPT_POLICY_SIGNER },
		{ "pcrs", required_argument, NULL, OPT_PCRS },
		{ "tcti", required_argument, NULL, OPT_TCTI },
		{ "owner-auth-file", required_argument, NULL, OPT_OWNER_AUTH },
		{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
		{ "force", no_argument, NULL, 'f' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *node_id = NULL, *km_id = NULL, *key_file = NULL, *pcrs = NULL, *import = NULL;
	const char *import_tools = NULL, *signer_path = NULL;
	TPM2B_PUBLIC signer;
	bool force = false;
	char existing[4096];
	const char *tcti = TPM_DEFAULT_TCTI, *state_dir = TPM_DEFAULT_STATE_DIR;
	const char *owner_auth = NULL;
	_cleanup_(tpm_closep) struct tpm_ctx *t = NULL;
	_cleanup_key32_ struct key32 km = { 0 };
	struct m2msa_err err = { .wire_code = 0 };
	bool verbose = false;
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "hv", opts, NULL)) >= 0) {
		switch (c) {
		case OPT_NODE_ID: node_id = optarg; break;
		case OPT_KM_ID: km_id = optarg; break;
		case OPT_KEY_FILE: key_file = optarg; break;
		case OPT_IMPORT: import = optarg; break;
		case OPT_IMPORT_TOOLS: import_tools = optarg; break;
		case OPT_POLICY_SIGNER: signer_path = optarg; break;
		case OPT_PCRS: pcrs = optarg; break;
		case OPT_TCTI: tcti = optarg; break;
		case OPT_OWNER_AUTH: owner_auth = optarg; break;
		case OPT_STATE_DIR: state_dir = optarg; break;
		case 'f': force = true; break;
		case 'v': verbose = true; break;
		case 'h': fputs(provision_help, stdout); return CLI_EXIT_OK;
		default:
			fputs("(see m2msactl provision --help)\n", stderr);
			return CLI_EXIT_USAGE;
		}
	}
	if (cli_no_more_args(&(const struct cli){ "m2msactl", "provision" }, argc, argv, optind) !=
	    CLI_EXIT_OK)
		return CLI_EXIT_USAGE;
	r = check_provision_args(import, import_tools, key_file, pcrs, signer_path, node_id, km_id);
	if (r != CLI_EXIT_OK)
		return r;
	snprintf(existing, sizeof(existing), "%s/" TPM_KM_PUB_FILE, state_dir);
	if (!force && access(existing, F_OK) == 0) {
		fprintf(stderr, "m2msactl provision: a key is already provisioned in %s; replacing it "
				"destroys it for good (add --force if that is what you want)\n",
			state_dir);
		return CLI_EXIT_FAILURE;
	}

	if (import)
		return ctl_provision_import(import, node_id, km_id, tcti, owner_auth, state_dir,
					    verbose);
	if (import_tools)
		return ctl_provision_import_tools(import_tools, node_id, km_id, tcti, owner_auth,
						  state_dir, verbose);

	if (signer_path && load_signer(signer_path, &signer) < 0)
		return CLI_EXIT_FAILURE;
	r = read_key_file(key_file, km.b, &err);
	if (r < 0) {
		fprintf(stderr, "m2msactl provision: %s\n", err.msg);
		return CLI_EXIT_FAILURE;
	}
	if (ctl_tpm_open("provision", tcti, owner_auth, &t) < 0)
		return CLI_EXIT_FAILURE;
	if (signer_path)
		r = tpm_provision_signed(t, state_dir, node_id, km_id, km.b, sizeof(km.b), &signer);
	else
		r = tpm_provision(t, state_dir, node_id, km_id, km.b, sizeof(km.b), pcrs);
	if (r < 0) {
		ctl_tpm_error("m2msactl provision: ", t, verbose);
		return CLI_EXIT_FAILURE;
	}
	printf("Provisioned Km for node %s (KmID %s) in %s%s%s%s.\n", node_id, km_id, state_dir,
	       pcrs ? ", bound to PCRs " : "", pcrs ? pcrs : "",
	       signer_path ? ", usable under signed PCR policies (m2msactl policy-install)" : "");
	return CLI_EXIT_OK;
}

static const char tpm_check_help[] =
	"Usage: m2msactl tpm-check [--tcti TCTI] [--state-dir DIR] [-v]\n\n"
	"Check that the TPM is reachable, that the storage key is present or can be\n"
	"created, and that the provisioned key loads and derives (PCR policy satisfied).\n"
	"Exits non-zero on any problem.\n\n"
	"  --tcti TCTI      default " TPM_DEFAULT_TCTI "\n"
	"  --owner-auth-file FILE\n"
	"                   the owner hierarchy password, if it has one (else the systemd\n"
	"                   credential " TPM_OWNER_AUTH_CREDENTIAL "); never on the command line\n"
	"  --state-dir DIR  default " TPM_DEFAULT_STATE_DIR "\n"
	"  -v, --verbose    show the TPM's raw response codes on failure\n";

int ctl_tpm_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "tcti", required_argument, NULL, OPT_TCTI },
		{ "owner-auth-file", required_argument, NULL, OPT_OWNER_AUTH },
		{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *tcti = TPM_DEFAULT_TCTI, *state_dir = TPM_DEFAULT_STATE_DIR;
	const char *owner_auth = NULL;
	_cleanup_(tpm_closep) struct tpm_ctx *t = NULL;
	_cleanup_(tpm_key_freep) struct tpm_key *k = NULL;
	_cleanup_key32_ struct key32 out = { 0 };
	struct kdf_prf prf;
	struct m2msa_err err = { .wire_code = 0 };
	bool verbose = false, persistent;
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "hv", opts, NULL)) >= 0) {
		switch (c) {
		case OPT_TCTI: tcti = optarg; break;
		case OPT_OWNER_AUTH: owner_auth = optarg; break;
		case OPT_STATE_DIR: state_dir = optarg; break;
		case 'v': verbose = true; break;
		case 'h': fputs(tpm_check_help, stdout); return CLI_EXIT_OK;
		default:
			fputs("(see m2msactl tpm-check --help)\n", stderr);
			return CLI_EXIT_USAGE;
		}
	}
	if (cli_no_more_args(&(const struct cli){ "m2msactl", "tpm-check" }, argc, argv, optind) !=
	    CLI_EXIT_OK)
		return CLI_EXIT_USAGE;

	r = tpm_open(tcti, &t, err.msg, sizeof(err.msg));
	if (r < 0) {
		fprintf(stderr, "FAIL  TPM: %s\n", err.msg);
		return CLI_EXIT_FAILURE;
	}
	printf("ok    TPM reachable at %s\n", tcti);
	if (owner_auth && tpm_owner_auth_file(t, owner_auth) < 0) {
		fprintf(stderr, "FAIL  owner hierarchy: %s\n", tpm_last_error(t));
		return CLI_EXIT_FAILURE;
	}

	r = tpm_primary(t, &persistent);
	if (r < 0) {
		ctl_tpm_error("FAIL  storage key: ", t, verbose);
		return CLI_EXIT_FAILURE;
	}
	if (persistent)
		printf("ok    storage key: persistent SRK at 0x%08x\n", TPM_SRK_HANDLE);
	else
		printf("ok    storage key: no persistent SRK at 0x%08x; the standard ECC P-256 "
		       "storage primary was created\n", TPM_SRK_HANDLE);

	r = tpm_key_load(t, state_dir, &k);
	if (r < 0) {
		ctl_tpm_error("FAIL  provisioned key: ", t, verbose);
		return CLI_EXIT_FAILURE;
	}
	printf("ok    provisioned key loads: node %s, KmID %s, %s%s\n", tpm_key_node_id(k),
	       tpm_key_km_id(k),
	       tpm_key_has_signed_policy(k) ? "signed PCR policies in " :
	       tpm_key_pcrs(k)		    ? "PCR policy " :
					      "no PCR policy",
	       tpm_key_has_signed_policy(k) ? state_dir : tpm_key_pcrs(k) ? tpm_key_pcrs(k) : "");

	tpm_key_prf(k, &prf);
	r = kdf_derive(&prf, "m2msa tpm-check", NULL, 0, out.b);
	if (r < 0) {
		ctl_tpm_error("FAIL  derivation: ", t, verbose);
		return CLI_EXIT_FAILURE;
	}
	printf("ok    derivation through TPM2_HMAC works%s\n",
	       tpm_key_pcrs(k) || tpm_key_has_signed_policy(k) ? " (PCR policy satisfied)" : "");
	return CLI_EXIT_OK;
}
