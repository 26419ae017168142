/* SPDX-License-Identifier: Apache-2.0 */
/*
 * m2msactl tpm-identity: export what the provider needs to wrap Km to this node
 * (the storage key's public part and Name, the EK certificate if the TPM holds
 * one); and provision --import: TPM2_Import a km.dup the provider sent.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tss2/tss2_mu.h>
#include <unistd.h>

#include "m2msactl/ctl.h"
#include "common/cli.h"
#include "common/fileio.h"
#include "common/json.h"
#include "tpm/import.h"
#include "tpm/owner-auth.h"

enum {
	OPT_OUT_DIR = 0x100,
	OPT_TCTI,
	OPT_JSON,
	OPT_OWNER_AUTH,
};

int ctl_tpm_open(const char *cmd, const char *tcti, const char *owner_auth,
		 struct tpm_ctx **ret)
{
	struct tpm_ctx *t = NULL;
	char err[512];
	int r;

	r = tpm_open(tcti, &t, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "m2msactl %s: %s\n", cmd, err);
		return r;
	}
	if (owner_auth) {
		r = tpm_owner_auth_file(t, owner_auth);
		if (r < 0) {
			fprintf(stderr, "m2msactl %s: %s\n", cmd, tpm_last_error(t));
			tpm_close(t);
			return r;
		}
	}
	*ret = t;
	return 0;
}

/* Write path (mode 0644: nothing here is secret) through a temporary file and rename. */
static int write_public_file(const char *path, const void *data, size_t len)
{
	return fileio_write_atomic(path, data, len, 0644);
}


struct identity {
	char *srk_path, *name_path, *ek_path;
	char name_hex[2 * sizeof(TPMU_NAME) + 1];
	bool persistent;
	uint32_t ek_index;
};

static void print_identity(const struct identity *id, bool json)
{
	if (json) {
		printf("{\"srk_pub\":");
		json_write_string(stdout, id->srk_path);
		printf(",\"srk_name\":\"%s\",\"srk_persistent\":%s,\"srk_handle\":", id->name_hex,
		       id->persistent ? "true" : "false");
		if (id->persistent)
			printf("\"0x%08x\"", TPM_SRK_HANDLE);
		else
			printf("null");
		printf(",\"ek_cert\":");
		if (id->ek_path) {
			json_write_string(stdout, id->ek_path);
			printf(",\"ek_cert_nv_index\":\"0x%08x\"}\n", id->ek_index);
		} else {
			printf("null,\"ek_cert_nv_index\":null}\n");
		}
		return;
	}
	printf("storage key: ECC P-256, %s\n",
	       id->persistent ? "persistent at 0x81000001"
			      : "the standard storage primary (not persistent; the TPM re-creates "
				"the same key from its owner seed)");
	printf("name:        %s\n", id->name_hex);
	printf("wrote        %s\n", id->srk_path);
	printf("wrote        %s\n", id->name_path);
	if (id->ek_path)
		printf("wrote        %s (EK certificate from NV index 0x%08x)\n", id->ek_path,
		       id->ek_index);
	else
		printf("EK certificate: none in this TPM\n");
	printf("Send srk.pub%s to the provider; it answers with km.dup (m2masctl node add ... "
	       "--wrap-to srk.pub --out km.dup), which m2msactl provision --import reads.\n",
	       id->ek_path ? " and ek-cert.der" : "");
}

/* Export srk.pub, srk.name and (when present) ek-cert.der into out_dir. */
static int export_identity(struct tpm_ctx *t, const char *out_dir, struct identity *id)
{
	uint8_t buf[sizeof(TPM2B_PUBLIC)];
	_cleanup_free_ uint8_t *ek = NULL;
	TPM2B_PUBLIC pub;
	TPM2B_NAME name;
	size_t off = 0, ek_len = 0;
	int r;

	r = tpm_srk_identity(t, &pub, &name, &id->persistent);
	if (r < 0)
		return fprintf(stderr, "m2msactl tpm-identity: %s\n", tpm_last_error(t)), r;
	if (Tss2_MU_TPM2B_PUBLIC_Marshal(&pub, buf, sizeof(buf), &off) != TSS2_RC_SUCCESS)
		return -EIO;
	for (size_t i = 0; i < name.size; i++)
		sprintf(id->name_hex + 2 * i, "%02x", name.name[i]);
	if (asprintf(&id->srk_path, "%s/srk.pub", out_dir) < 0 ||
	    asprintf(&id->name_path, "%s/srk.name", out_dir) < 0)
		return -ENOMEM;
	r = write_public_file(id->srk_path, buf, off);
	if (r == 0) {
		char line[sizeof(id->name_hex) + 1];

		snprintf(line, sizeof(line), "%s\n", id->name_hex);
		r = write_public_file(id->name_path, line, strlen(line));
	}
	if (r < 0)
		return fprintf(stderr, "m2msactl tpm-identity: cannot write into %s: %s\n", out_dir,
			       strerror(-r)),
		       r;
	r = tpm_ek_cert_read(t, &ek, &ek_len, &id->ek_index);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return fprintf(stderr, "m2msactl tpm-identity: %s\n", tpm_last_error(t)), r;
	if (asprintf(&id->ek_path, "%s/ek-cert.der", out_dir) < 0)
		return -ENOMEM;
	r = write_public_file(id->ek_path, ek, ek_len);
	if (r < 0)
		fprintf(stderr, "m2msactl tpm-identity: cannot write %s: %s\n", id->ek_path,
			strerror(-r));
	return r;
}

static const char tpm_identity_help[] =
	"Usage: m2msactl tpm-identity [--out-dir DIR] [--json] [--tcti TCTI] [-v]\n\n"
	"Write what the provider needs to wrap Km to this node's TPM, into DIR:\n"
	"  srk.pub      the storage key's public part (marshalled TPM2B_PUBLIC; the\n"
	"               persistent SRK at 0x81000001 if present, else the standard ECC\n"
	"               P-256 storage primary)\n"
	"  srk.name     its TPM Name in hex\n"
	"  ek-cert.der  the EK certificate, when the TPM holds one (TCG NV indices)\n"
	"Nothing here is secret.\n\n"
	"  --out-dir DIR  default: the current directory\n"
	"  --json         print one JSON object instead of text\n"
	"  --owner-auth-file FILE  the owner hierarchy password, if it has one (or the\n"
	"                 systemd credential " TPM_OWNER_AUTH_CREDENTIAL ")\n"
	"  --tcti TCTI    default " TPM_DEFAULT_TCTI "\n"
	"  -v, --verbose  show the TPM's raw response codes on failure\n";

int ctl_tpm_identity(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "out-dir", required_argument, NULL, OPT_OUT_DIR },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "tcti", required_argument, NULL, OPT_TCTI },
		{ "owner-auth-file", required_argument, NULL, OPT_OWNER_AUTH },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *out_dir = ".", *tcti = TPM_DEFAULT_TCTI, *owner_auth = NULL;
	_cleanup_(tpm_closep) struct tpm_ctx *t = NULL;
	struct identity id = { 0 };
	bool json = false, verbose = false;
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "hv", opts, NULL)) >= 0) {
		switch (c) {
		case OPT_OUT_DIR: out_dir = optarg; break;
		case OPT_JSON: json = true; break;
		case OPT_TCTI: tcti = optarg; break;
		case OPT_OWNER_AUTH: owner_auth = optarg; break;
		case 'v': verbose = true; break;
		case 'h': fputs(tpm_identity_help, stdout); return CLI_EXIT_OK;
		default:
			fputs("(see m2msactl tpm-identity --help)\n", stderr);
			return CLI_EXIT_USAGE;
		}
	}
	if (cli_no_more_args(&(const struct cli){ "m2msactl", "tpm-identity" }, argc, argv,
			     optind) != CLI_EXIT_OK)
		return CLI_EXIT_USAGE;
	if (ctl_tpm_open("tpm-identity", tcti, owner_auth, &t) < 0)
		return CLI_EXIT_FAILURE;
	r = export_identity(t, out_dir, &id);
	if (r < 0 && verbose && *tpm_last_error_detail(t))
		fprintf(stderr, "m2msactl tpm-identity: debug: %s\n", tpm_last_error_detail(t));
	if (r == 0)
		print_identity(&id, json);
	free(id.srk_path);
	free(id.name_path);
	free(id.ek_path);
	return r < 0 ? CLI_EXIT_FAILURE : CLI_EXIT_OK;
}

static int read_all(const char *path, uint8_t *buf, size_t size, size_t *ret_len)
{
	int r = fileio_read(path, buf, size, ret_len);

	if (r == -EFBIG)
		fprintf(stderr, "m2msactl provision: %s is too large for what it should be\n", path);
	else if (r < 0)
		fprintf(stderr, "m2msactl provision: cannot read %s: %s\n", path, strerror(-r));
	return r;
}

/* PREFIX.pub / PREFIX.dpriv / PREFIX.seed as tpm2_duplicate writes them (-u, -r, -s). */
static int read_tools_files(const char *prefix, struct tpm_dup_blob *b)
{
	static const char *const ext[] = { ".pub", ".dpriv", ".seed" };
	uint8_t buf[sizeof(TPM2B_PUBLIC) + 1];

	for (size_t i = 0; i < ARRAY_SIZE(ext); i++) {
		_cleanup_free_ char *path = NULL;
		size_t len = 0, off = 0;
		TSS2_RC rc;

		if (asprintf(&path, "%s%s", prefix, ext[i]) < 0)
			return -ENOMEM;
		if (read_all(path, buf, sizeof(buf), &len) < 0)
			return -EINVAL;
		if (i == 0)
			rc = Tss2_MU_TPM2B_PUBLIC_Unmarshal(buf, len, &off, &b->pub);
		else if (i == 1)
			rc = Tss2_MU_TPM2B_PRIVATE_Unmarshal(buf, len, &off, &b->dup);
		else
			rc = Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal(buf, len, &off, &b->seed);
		if (rc != TSS2_RC_SUCCESS || off != len) {
			fprintf(stderr, "m2msactl provision: %s is not a marshalled %s (truncated or "
					"damaged?)\n", path,
				i == 0 ? "TPM2B_PUBLIC" : i == 1 ? "TPM2B_PRIVATE" : "TPM2B_ENCRYPTED_SECRET");
			return -EINVAL;
		}
	}
	return 0;
}

static int import_blob(const char *what, const struct tpm_dup_blob *b, const char *tcti,
		       const char *owner_auth, const char *state_dir, bool verbose)
{
	_cleanup_(tpm_closep) struct tpm_ctx *t = NULL;

	if (ctl_tpm_open("provision", tcti, owner_auth, &t) < 0)
		return CLI_EXIT_FAILURE;
	if (tpm_import_dup(t, state_dir, b) < 0) {
		fprintf(stderr, "m2msactl provision: %s: %s\n", what, tpm_last_error(t));
		if (verbose && *tpm_last_error_detail(t))
			fprintf(stderr, "m2msactl provision: debug: %s\n", tpm_last_error_detail(t));
		return CLI_EXIT_FAILURE;
	}
	printf("Imported the wrapped Km for node %s (KmID %s) into %s.\n", b->node_id, b->km_id,
	       state_dir);
	return CLI_EXIT_OK;
}

int ctl_provision_import_tools(const char *prefix, const char *node_id, const char *km_id,
			       const char *tcti, const char *owner_auth, const char *state_dir,
			       bool verbose)
{
	_cleanup_free_ struct tpm_dup_blob *b = calloc(1, sizeof(*b));

	if (!b)
		return CLI_EXIT_FAILURE;
	if (strlen(node_id) > TPM_DUP_ID_MAX || strlen(km_id) > TPM_DUP_ID_MAX) {
		fprintf(stderr, "m2msactl provision: the node ID or KmID is too long\n");
		return CLI_EXIT_USAGE;
	}
	strcpy(b->node_id, node_id);
	strcpy(b->km_id, km_id);
	if (read_tools_files(prefix, b) < 0)
		return CLI_EXIT_FAILURE;
	return import_blob(prefix, b, tcti, owner_auth, state_dir, verbose);
}

int ctl_provision_import(const char *path, const char *node_id, const char *km_id,
			 const char *tcti, const char *owner_auth, const char *state_dir,
			 bool verbose)
{
	_cleanup_free_ uint8_t *buf = malloc(TPM_DUP_FILE_MAX + 1);
	_cleanup_free_ struct tpm_dup_blob *b = calloc(1, sizeof(*b));
	char err[512];
	size_t len = 0;

	if (!buf || !b)
		return CLI_EXIT_FAILURE;
	if (read_all(path, buf, TPM_DUP_FILE_MAX + 1, &len) < 0)
		return CLI_EXIT_FAILURE;
	if (tpm_dup_blob_decode(buf, len, b, err, sizeof(err)) < 0) {
		fprintf(stderr, "m2msactl provision: %s: %s\n", path, err);
		return CLI_EXIT_FAILURE;
	}
	if ((node_id && strcmp(node_id, b->node_id) != 0) ||
	    (km_id && strcmp(km_id, b->km_id) != 0)) {
		fprintf(stderr, "m2msactl provision: %s is for node %s (KmID %s), not for %s%s%s "
				"(wrong file?)\n", path, b->node_id, b->km_id,
			node_id ? node_id : b->node_id, km_id ? " KmID " : "", km_id ? km_id : "");
		return CLI_EXIT_FAILURE;
	}
	return import_blob(path, b, tcti, owner_auth, state_dir, verbose);
}
