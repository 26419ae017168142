/* SPDX-License-Identifier: Apache-2.0 */
/* m2masctl node add --wrap-to / node rewrap: Km wrapped to a node's TPM, written as km.dup. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tss2/tss2_mu.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/secret.h"
#include "common/util.h"
#include "mas/ctl-wrap.h"
#include "mas/ctl.h"
#include "tpm/dup.h"
#include "tpm/policy.h"

static int read_small_file(const char *path, uint8_t *buf, size_t size, size_t *ret_len)
{
	return fileio_read(path, buf, size, ret_len);
}

int mas_wrap_srk_load(const char *path, TPM2B_PUBLIC *ret)
{
	uint8_t buf[sizeof(TPM2B_PUBLIC) + 1];
	char err[TPM_DUP_ERR_MAX];
	size_t len = 0;
	int r;

	r = read_small_file(path, buf, sizeof(buf), &len);
	if (r == -EFBIG) {
		fprintf(stderr, "m2masctl: %s is not an SRK public part: too large (use the srk.pub "
				"m2msactl tpm-identity writes)\n", path);
		return -EINVAL;
	}
	if (r < 0) {
		fprintf(stderr, "m2masctl: cannot read %s: %s\n", path, strerror(-r));
		return r;
	}
	r = tpm_srk_pub_parse(buf, len, ret, err, sizeof(err));
	if (r < 0)
		fprintf(stderr, "m2masctl: %s: %s\n", path, err);
	return r;
}

int mas_wrap_signer_load(const char *path, TPM2B_PUBLIC *ret)
{
	_cleanup_free_ uint8_t *buf = malloc(16384);
	char err[TPM_POLICY_ERR_MAX];
	size_t len = 0;
	int r;

	if (!buf)
		return -ENOMEM;
	r = read_small_file(path, buf, 16384, &len);
	if (r < 0) {
		fprintf(stderr, "m2masctl: cannot read %s: %s\n", path, strerror(-r));
		return r;
	}
	r = tpm_policy_signer_from_pem((const char *)buf, len, ret, err, sizeof(err));
	secret_wipe(buf, len); /* it may have been the private key */
	if (r < 0)
		fprintf(stderr, "m2masctl: %s: %s\n", path, err);
	return r;
}

/* Write path whole (temporary file, fsync, rename), mode 0644: a wrapped key is not secret. */
static int write_whole(const char *path, const void *data, size_t len)
{
	int r = fileio_write_atomic(path, data, len, 0644);

	if (r < 0)
		fprintf(stderr, "m2masctl: cannot write %s: %s\n", path, strerror(-r));
	return r;
}

/* PREFIX.pub / .dpriv / .seed, each a marshalled TPM2B as tpm2-tools writes them. */
static int write_tools_files(const struct tpm_dup_blob *b, const char *prefix)
{
	uint8_t buf[sizeof(TPM2B_PUBLIC) + sizeof(TPM2B_PRIVATE)];
	_cleanup_free_ char *pub = NULL, *dpriv = NULL, *seed = NULL;
	size_t off = 0;
	int r;

	if (asprintf(&pub, "%s.pub", prefix) < 0 || asprintf(&dpriv, "%s.dpriv", prefix) < 0 ||
	    asprintf(&seed, "%s.seed", prefix) < 0)
		return -ENOMEM;
	if (Tss2_MU_TPM2B_PUBLIC_Marshal(&b->pub, buf, sizeof(buf), &off) != TSS2_RC_SUCCESS)
		return -EIO;
	r = write_whole(pub, buf, off);
	if (r < 0)
		return r;
	off = 0;
	if (Tss2_MU_TPM2B_PRIVATE_Marshal(&b->dup, buf, sizeof(buf), &off) != TSS2_RC_SUCCESS)
		return -EIO;
	r = write_whole(dpriv, buf, off);
	if (r < 0)
		return r;
	off = 0;
	if (Tss2_MU_TPM2B_ENCRYPTED_SECRET_Marshal(&b->seed, buf, sizeof(buf), &off) !=
	    TSS2_RC_SUCCESS)
		return -EIO;
	return write_whole(seed, buf, off);
}

int mas_wrap_write(const TPM2B_PUBLIC *srk, const uint8_t km[static 32], const char *node_id,
		   const char *km_id, const TPM2B_PUBLIC *signer, const char *out,
		   const char *tools_prefix)
{
	TPM2B_DIGEST policy = { .size = 0 };
	_cleanup_free_ uint8_t *file = NULL;
	_cleanup_free_ struct tpm_dup_blob *b = NULL;
	char err[TPM_DUP_ERR_MAX];
	size_t len = 0;
	int r;

	b = calloc(1, sizeof(*b));
	file = malloc(TPM_DUP_FILE_MAX);
	if (!b || !file)
		return -ENOMEM;
	if (strlen(node_id) > TPM_DUP_ID_MAX || strlen(km_id) > TPM_DUP_ID_MAX) {
		fprintf(stderr, "m2masctl: the node ID or KmID is longer than %d characters and "
				"cannot go into a km.dup\n", TPM_DUP_ID_MAX);
		return -EINVAL;
	}
	strcpy(b->node_id, node_id);
	strcpy(b->km_id, km_id);
	if (signer) {
		TPM2B_NAME name;

		if (tpm_public_name(signer, &name) < 0 ||
		    tpm_policy_authorize_digest(&name, policy.buffer) < 0)
			return -EIO;
		policy.size = 32;
		b->has_signer = true;
		b->signer = *signer;
	}
	r = tpm_dup_wrap(srk, km, signer ? &policy : NULL, b, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "m2masctl: %s\n", err);
		return r;
	}
	r = tpm_dup_blob_encode(b, file, TPM_DUP_FILE_MAX, &len);
	if (r == -EINVAL) {
		fprintf(stderr, "m2masctl: the node ID '%s' or KmID '%s' has characters a km.dup "
				"cannot carry (A-Z a-z 0-9 . _ - @ / : ~)\n", node_id, km_id);
		return r;
	}
	if (r < 0) {
		fprintf(stderr, "m2masctl: cannot encode the km.dup: %s\n", strerror(-r));
		return r;
	}
	r = write_whole(out, file, len);
	if (r == 0 && tools_prefix) {
		r = write_tools_files(b, tools_prefix);
		if (r < 0)
			mas_wrap_remove(out, tools_prefix);
	}
	return r;
}

int mas_wrap_km(const char *srk_path, const char *signer_path, const uint8_t km[static 32],
		const char *node_id, const char *km_id, const char *out, const char *tools_prefix)
{
	TPM2B_PUBLIC srk, signer;
	int r;

	r = mas_wrap_srk_load(srk_path, &srk);
	if (r == 0 && signer_path)
		r = mas_wrap_signer_load(signer_path, &signer);
	if (r == 0)
		r = mas_wrap_write(&srk, km, node_id, km_id, signer_path ? &signer : NULL, out,
				   tools_prefix);
	return r;
}

void mas_wrap_remove(const char *out, const char *tools_prefix)
{
	static const char *const ext[] = { ".pub", ".dpriv", ".seed" };

	if (out)
		(void)unlink(out);
	for (size_t i = 0; tools_prefix && i < ARRAY_SIZE(ext); i++) {
		_cleanup_free_ char *p = NULL;

		if (asprintf(&p, "%s%s", tools_prefix, ext[i]) >= 0)
			(void)unlink(p);
	}
}

int mas_wrap_node(struct store *s, const char *node_id, const char *srk_path,
		  const char *signer_path, const char *out, const char *tools_prefix)
{
	TPM2B_PUBLIC signer;
	_cleanup_secret_ struct secret *km = NULL;
	struct store_node n;
	TPM2B_PUBLIC srk;
	int r;

	r = mas_wrap_srk_load(srk_path, &srk);
	if (r == 0 && signer_path)
		r = mas_wrap_signer_load(signer_path, &signer);
	if (r < 0)
		return r;
	r = store_node_get(s, node_id, &n);
	if (r == -ENOENT) {
		fprintf(stderr, "m2masctl: node '%s' not found (see m2masctl node list)\n", node_id);
		return r;
	}
	if (r == 0 && n.state == STORE_NODE_REVOKED) {
		fprintf(stderr, "m2masctl: node '%s' is revoked; its Km is not wrapped again (add "
				"the node anew with a new Km)\n", node_id);
		return -EPERM;
	}
	if (r == 0)
		r = store_node_get_km(s, node_id, &km);
	if (r == -ENOKEY) {
		fprintf(stderr, "m2masctl: node '%s' was registered without Km (method gba only: its "
				"Km is Ks_NAF from the BSF); there is nothing to wrap\n", node_id);
		return r;
	}
	if (r < 0) {
		fprintf(stderr, "m2masctl: cannot read node '%s': %s\n", node_id, strerror(-r));
		return r;
	}
	return mas_wrap_write(&srk, km->data, n.node_id, n.km_id, signer_path ? &signer : NULL, out,
			      tools_prefix);
}

int ctl_node_rewrap(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "wrap-to", required_argument, NULL, 'W' },
		{ "out", required_argument, NULL, 'o' },
		{ "tpm2-tools-out", required_argument, NULL, 'T' },
		{ "policy-signer", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *wrap_to = NULL, *out = NULL, *tools_out = NULL, *signer = NULL;
	struct store *s = NULL;
	int o, r;

	while ((o = ctl_next_opt(c, argc, argv, opts)) != -1) {
		if (o == 'W')
			wrap_to = optarg;
		else if (o == 'o')
			out = optarg;
		else if (o == 'T')
			tools_out = optarg;
		else if (o == 'P')
			signer = optarg;
		else if (o == 'h')
			return ctl_usage(stdout), CLI_EXIT_OK;
		else
			return CLI_EXIT_USAGE;
	}
	if (optind == argc)
		return cli_usage_error(&c->cli, "NODE-ID is missing");
	if (optind + 1 != argc)
		return cli_no_more_args(&c->cli, argc, argv, optind + 1);
	if (!wrap_to || !out)
		return cli_usage_error(&c->cli, "--wrap-to SRK.pub and --out FILE are required");
	if (ctl_check_id(c, "node ID", argv[optind]) != 0)
		return CLI_EXIT_USAGE;
	r = ctl_open(c, &s);
	if (r != CLI_EXIT_OK)
		return r;
	r = mas_wrap_node(s, argv[optind], wrap_to, signer, out, tools_out);
	store_close(s);
	if (r < 0)
		return CLI_EXIT_FAILURE;
	fprintf(stderr, "m2masctl: Km of node '%s' wrapped to %s in %s\n", argv[optind], wrap_to,
		out);
	return CLI_EXIT_OK;
}
