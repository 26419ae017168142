/* SPDX-License-Identifier: Apache-2.0 */
/* The keystore's state directory: km.pub / km.priv (marshalled TPM2B) and node.conf. */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <tss2/tss2_mu.h>

#include "common/conf.h"
#include "common/fileio.h"
#include "common/secret.h"
#include "tpm/tpm-internal.h"

#define STATE_FILE_MAX 4096

bool tpm_id_valid(const char *s)
{
	size_t n;

	if (!s)
		return false;
	n = strlen(s);
	if (n == 0 || n > 255)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr("._-@/:~", c)))
			return false;
	}
	return true;
}

static int path_join(const char *dir, const char *name, char **ret)
{
	char *p;

	if (asprintf(&p, "%s/%s", dir, name) < 0)
		return -ENOMEM;
	*ret = p;
	return 0;
}

int tpm_file_write_atomic(struct tpm_ctx *t, const char *dir, const char *name, const void *data,
			  size_t len)
{
	_cleanup_free_ char *path = NULL;
	int r;

	r = path_join(dir, name, &path);
	if (r < 0)
		return r;
	r = fileio_write_atomic(path, data, len, 0600);
	if (r < 0)
		return tpm_fail(t, r, 0, "cannot write %s: %s", path, strerror(-r));
	return 0;
}

int tpm_state_write(struct tpm_ctx *t, const char *state_dir, const TPM2B_PUBLIC *pub,
		    const TPM2B_PRIVATE *priv, const char *node_id, const char *km_id,
		    uint32_t pcr_mask, bool signed_policy)
{
	_cleanup_free_ char *conf = NULL;
	char pcrs[96] = "";
	int r;

	if (mkdir(state_dir, 0700) < 0 && errno != EEXIST)
		return tpm_fail(t, -errno, 0, "cannot create the state directory %s: %s", state_dir,
				strerror(errno));

	if (pcr_mask)
		tpm_pcrs_format(pcr_mask, pcrs, sizeof(pcrs));
	if (asprintf(&conf,
		     "# Written by m2msactl provision; the key itself is in km.pub/km.priv.\n"
		     "[node]\nnode_id = %s\nkm_id = %s\n%s%s%s%s",
		     node_id, km_id, pcr_mask ? "pcrs = " : "", pcrs, pcr_mask ? "\n" : "",
		     signed_policy ? "# Km is usable under a signed PCR policy in policies/\n"
				     "policy = signed\n" : "") < 0)
		return -ENOMEM;

	r = tpm_blobs_write(t, state_dir, TPM_KM_PRIV_FILE, TPM_KM_PUB_FILE, priv, pub,
			    "the key's");
	if (r < 0)
		return r;
	return tpm_file_write_atomic(t, state_dir, TPM_NODE_CONF_FILE, conf, strlen(conf));
}

int tpm_blobs_write(struct tpm_ctx *t, const char *dir, const char *priv_name,
		    const char *pub_name, const TPM2B_PRIVATE *priv, const TPM2B_PUBLIC *pub,
		    const char *whose)
{
	uint8_t buf[STATE_FILE_MAX];
	size_t off = 0;
	TSS2_RC rc;
	int r;

	rc = Tss2_MU_TPM2B_PRIVATE_Marshal(priv, buf, sizeof(buf), &off);
	if (rc != TSS2_RC_SUCCESS)
		return tpm_fail(t, -EIO, rc, "cannot encode %s private blob", whose);
	r = tpm_file_write_atomic(t, dir, priv_name, buf, off);
	if (r < 0)
		goto out;
	off = 0;
	rc = Tss2_MU_TPM2B_PUBLIC_Marshal(pub, buf, sizeof(buf), &off);
	if (rc != TSS2_RC_SUCCESS) {
		r = tpm_fail(t, -EIO, rc, "cannot encode %s public blob", whose);
		goto out;
	}
	r = tpm_file_write_atomic(t, dir, pub_name, buf, off);
out:
	secret_wipe(buf, sizeof(buf));
	return r;
}

int tpm_file_read(struct tpm_ctx *t, const char *dir, const char *name, uint8_t *buf, size_t *len,
		  const char *missing, const char *remedy, const char *fix)
{
	_cleanup_free_ char *path = NULL;
	int r;

	r = path_join(dir, name, &path);
	if (r < 0)
		return r;
	r = fileio_read(path, buf, *len, len);
	switch (r) {
	case 0:
		return 0;
	case -ENOENT:
		return tpm_fail(t, r, 0, "%s: %s is missing (%s)", missing, path, remedy);
	case -EFBIG:
		return tpm_fail(t, -EBADMSG, 0, "%s is corrupt: too large (%s)", path, fix);
	default:
		return tpm_fail(t, r, 0, "cannot read %s: %s%s", path, strerror(-r),
				r == -EACCES ? " (run as the m2msa user or root)" : "");
	}
}

/* A km.pub/km.priv blob of the provisioned key. */
static int read_blob(struct tpm_ctx *t, const char *dir, const char *name, uint8_t *buf,
		     size_t *len)
{
	return tpm_file_read(t, dir, name, buf, len, "no provisioned key",
			     "provision one with m2msactl provision, or check the state directory",
			     "re-provision the key");
}

struct node_conf {
	char *node_id;
	char *km_id;
	char *pcrs;
	char *policy;
};

static const struct conf_item node_conf_table[] = {
	{ "node", "node_id", conf_parse_string, offsetof(struct node_conf, node_id) },
	{ "node", "km_id", conf_parse_string, offsetof(struct node_conf, km_id) },
	{ "node", "pcrs", conf_parse_string, offsetof(struct node_conf, pcrs) },
	{ "node", "policy", conf_parse_string, offsetof(struct node_conf, policy) },
};

/* km.pub: a marshalled HMAC-SHA256 KEYEDHASH public area. */
static int read_km_pub(struct tpm_ctx *t, const char *state_dir, TPM2B_PUBLIC *ret)
{
	uint8_t buf[STATE_FILE_MAX];
	size_t len = sizeof(buf), off = 0;
	TPM2B_PUBLIC pub = { 0 };
	TSS2_RC rc;
	int r;

	r = read_blob(t, state_dir, TPM_KM_PUB_FILE, buf, &len);
	if (r < 0)
		return r;
	rc = Tss2_MU_TPM2B_PUBLIC_Unmarshal(buf, len, &off, &pub);
	if (rc != TSS2_RC_SUCCESS || off != len)
		return tpm_fail(t, -EBADMSG, rc,
				"%s/%s is corrupt: not a marshalled TPM2B_PUBLIC (re-provision the key)",
				state_dir, TPM_KM_PUB_FILE);
	if (pub.publicArea.type != TPM2_ALG_KEYEDHASH ||
	    pub.publicArea.parameters.keyedHashDetail.scheme.scheme != TPM2_ALG_HMAC ||
	    pub.publicArea.parameters.keyedHashDetail.scheme.details.hmac.hashAlg !=
		    TPM2_ALG_SHA256)
		return tpm_fail(t, -EBADMSG, 0,
				"%s/%s is not an HMAC-SHA256 key (re-provision the key)", state_dir,
				TPM_KM_PUB_FILE);
	*ret = pub;
	return 0;
}

/* km.priv: a marshalled TPM2B_PRIVATE (the file buffer is wiped). */
static int read_km_priv(struct tpm_ctx *t, const char *state_dir, TPM2B_PRIVATE *ret)
{
	uint8_t buf[STATE_FILE_MAX];
	size_t len = sizeof(buf), off = 0;
	TSS2_RC rc;
	int r;

	r = read_blob(t, state_dir, TPM_KM_PRIV_FILE, buf, &len);
	if (r < 0)
		return r;
	rc = Tss2_MU_TPM2B_PRIVATE_Unmarshal(buf, len, &off, ret);
	secret_wipe(buf, sizeof(buf));
	if (rc != TSS2_RC_SUCCESS || off != len)
		return tpm_fail(t, -EBADMSG, rc,
				"%s/%s is corrupt: not a marshalled TPM2B_PRIVATE (re-provision the key)",
				state_dir, TPM_KM_PRIV_FILE);
	return 0;
}

static void node_conf_done(struct node_conf *nc)
{
	free(nc->node_id);
	free(nc->km_id);
	free(nc->pcrs);
	free(nc->policy);
}

/* node.conf, parsed and checked on its own (ids, pcrs, policy). */
static int read_node_conf(struct tpm_ctx *t, const char *conf_path, struct node_conf *nc,
			  uint32_t *ret_mask)
{
	char err[CONF_ERR_MAX];
	uint32_t mask = 0;
	int r;

	r = conf_parse_file(conf_path, node_conf_table, ARRAY_SIZE(node_conf_table), nc, err,
			    sizeof(err));
	if (r == -ENOENT)
		return tpm_fail(t, -ENOENT, 0,
				"no provisioned key: %s is missing (provision one with m2msactl provision)",
				conf_path);
	if (r < 0)
		return tpm_fail(t, r == -EACCES ? r : -EBADMSG, 0, "%s (re-provision the key)", err);
	if (!tpm_id_valid(nc->node_id) || !tpm_id_valid(nc->km_id))
		return tpm_fail(t, -EBADMSG, 0,
				"%s is corrupt: node_id and km_id must be set (re-provision the key)",
				conf_path);
	if (nc->pcrs && tpm_pcrs_parse(nc->pcrs, &mask) < 0)
		return tpm_fail(t, -EBADMSG, 0,
				"%s is corrupt: bad pcrs '%s' (expected e.g. sha256:0,7)", conf_path,
				nc->pcrs);
	if (nc->policy && strcmp(nc->policy, "signed") != 0)
		return tpm_fail(t, -EBADMSG, 0, "%s is corrupt: policy must be 'signed' (re-provision "
						"the key)", conf_path);
	*ret_mask = mask;
	return 0;
}

/* Does km.pub's authPolicy fit what node.conf says (no policy, PCRs, or signed)? */
static int check_policy_matches(struct tpm_ctx *t, const char *state_dir, const char *conf_path,
				const TPM2B_PUBLIC *pub, uint32_t mask, bool signed_policy)
{
	bool has_policy = pub->publicArea.authPolicy.size != 0;
	bool user_auth = pub->publicArea.objectAttributes & TPMA_OBJECT_USERWITHAUTH;

	if (signed_policy) {
		if (mask || !has_policy || user_auth)
			return tpm_fail(t, -EBADMSG, 0,
					"%s does not match %s/%s: the key has no signed-policy "
					"authPolicy (re-provision the key)", conf_path, state_dir,
					TPM_KM_PUB_FILE);
		return 0;
	}
	/* A key without PCRs may carry a policy it does not need (USERWITHAUTH set, e.g.
	 * the PolicyCommandCode(Duplicate) of a key tpm2_duplicate moved here). */
	if ((mask && !has_policy) || (!mask && has_policy && !user_auth))
		return tpm_fail(t, -EBADMSG, 0,
				"%s does not match %s/%s: the PCR policy differs (re-provision the key)",
				conf_path, state_dir, TPM_KM_PUB_FILE);
	return 0;
}

int tpm_state_read(struct tpm_ctx *t, const char *state_dir, TPM2B_PUBLIC *ret_pub,
		   TPM2B_PRIVATE *ret_priv, char **ret_node_id, char **ret_km_id,
		   uint32_t *ret_pcr_mask, bool *ret_signed_policy)
{
	TPM2B_PUBLIC pub = { 0 };
	TPM2B_PRIVATE priv = { 0 };
	struct node_conf nc = { 0 };
	_cleanup_free_ char *conf_path = NULL;
	uint32_t mask = 0;
	int r;

	r = read_km_pub(t, state_dir, &pub);
	if (r < 0)
		return r;
	r = read_km_priv(t, state_dir, &priv);
	if (r < 0)
		return r;
	r = path_join(state_dir, TPM_NODE_CONF_FILE, &conf_path);
	if (r >= 0)
		r = read_node_conf(t, conf_path, &nc, &mask);
	if (r >= 0)
		r = check_policy_matches(t, state_dir, conf_path, &pub, mask, nc.policy != NULL);
	if (r >= 0) {
		*ret_pub = pub;
		*ret_priv = priv;
		*ret_node_id = nc.node_id;
		*ret_km_id = nc.km_id;
		*ret_pcr_mask = mask;
		*ret_signed_policy = nc.policy != NULL;
		nc.node_id = nc.km_id = NULL;
		r = 0;
	}
	node_conf_done(&nc);
	secret_wipe(&priv, sizeof(priv));
	return r;
}
