/* SPDX-License-Identifier: Apache-2.0 */
/* The node's TPM, Km, certificate, signing key and TLS client context (node-creds.h). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/node-creds.h"
#include "common/log.h"
#include "common/wire.h"
#include "tpm/keystore.h"
#include "tpm/signkey.h"

struct node_creds {
	const struct agent_conf *conf;
	struct tpm_ctx *tpm;
	struct tpm_key *key;	     /* Km; NULL for a pki-only node without one */
	bool km_checked;	     /* pki-only: Km was looked for once on this TPM context */
	struct kdf_prf prf;
	struct tpm_signkey *signkey; /* method pki: the node certificate's key */
	struct tls_signer signer;    /* borrowed by tls while signkey is loaded */
	WOLFSSL_CTX *tls;
	bool tls_stale; /* rebuild tls before the next attempt (node.crt may be new) */
	char node_id[WIRE_ID_MAX + 1];
};

static void free_tls(struct node_creds *c)
{
	if (c->tls)
		wolfSSL_CTX_free(c->tls);
	c->tls = NULL;
	c->tls_stale = false;
}

static void close_tpm(struct node_creds *c)
{
	/* A pki context signs with the key freed here: it goes with it. */
	if (c->signkey)
		free_tls(c);
	tpm_signkey_free(c->signkey);
	c->signkey = NULL;
	tpm_key_free(c->key);
	c->key = NULL;
	c->km_checked = false;
	tpm_close(c->tpm);
	c->tpm = NULL;
}

static void reset_node_id(struct node_creds *c)
{
	snprintf(c->node_id, sizeof(c->node_id), "%s", c->conf->node_id ? c->conf->node_id : "");
}

int node_creds_new(const struct agent_conf *conf, struct node_creds **ret)
{
	struct node_creds *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->conf = conf;
	reset_node_id(c);
	*ret = c;
	return 0;
}

void node_creds_free(struct node_creds *c)
{
	if (!c)
		return;
	close_tpm(c);
	free_tls(c);
	free(c);
}

void node_creds_set_conf(struct node_creds *c, const struct agent_conf *conf,
			 bool identity_changed)
{
	c->conf = conf;
	if (!identity_changed) {
		/* pki: the next exchange reads node.crt again (pki-install of a renewed one). */
		if (agent_conf_offers(conf, WIRE_METHOD_PKI))
			c->tls_stale = true;
		return;
	}
	close_tpm(c);
	free_tls(c);
	reset_node_id(c);
}

/* A TPM command failed with r: its message into err (plus hint), the raw detail into the log. */
static int tpm_failed(const struct node_creds *c, int r, const char *hint, struct m2msa_err *err)
{
	if (tpm_last_error_detail(c->tpm)[0])
		log_debug("TPM detail: %s", tpm_last_error_detail(c->tpm));
	return err_set(err, r, "%s%s", tpm_last_error(c->tpm), hint);
}

/* Km loaded and checked against node_id. */
static int load_km(struct node_creds *c, bool need_km, struct m2msa_err *err)
{
	const struct agent_conf *conf = c->conf;
	int r;

	c->km_checked = true;
	r = tpm_key_load(c->tpm, conf->state_dir, &c->key);
	if (r < 0 && !need_km) {
		log_debug("no usable Km in %s (%s); method pki needs none", conf->state_dir,
			  tpm_last_error(c->tpm));
		return 0;
	}
	if (r < 0)
		return tpm_failed(c, r,
				  agent_conf_offers(conf, WIRE_METHOD_PSK)
					  ? ""
					  : " (a pki-only node without Km sets node_id in [node])",
				  err);
	if (conf->node_id && strcmp(conf->node_id, tpm_key_node_id(c->key)) != 0) {
		r = err_set(err, -EINVAL,
			    "node_id '%s' is configured but the key in %s was provisioned for '%s' "
			    "(fix node_id, or provision Km for this node)",
			    conf->node_id, conf->state_dir, tpm_key_node_id(c->key));
		tpm_key_free(c->key);
		c->key = NULL;
		c->km_checked = false;
		return r;
	}
	snprintf(c->node_id, sizeof(c->node_id), "%s", tpm_key_node_id(c->key));
	tpm_key_prf(c->key, &c->prf);
	return 0;
}

int node_creds_open_tpm(struct node_creds *c, struct m2msa_err *err)
{
	return c->tpm ? 0 : tpm_open(c->conf->tcti, &c->tpm, err->msg, sizeof(err->msg));
}

int node_creds_identity(struct node_creds *c, struct m2msa_err *err)
{
	bool need_km = agent_conf_offers(c->conf, WIRE_METHOD_PSK) || !c->conf->node_id;
	int r;

	r = node_creds_open_tpm(c, err);
	if (r < 0)
		return r;
	if (!c->key && (need_km || !c->km_checked))
		return load_km(c, need_km, err);
	return 0;
}

/* state_dir's node.crt and chain.crt; 0, or -errno with err naming the fix. */
static int cert_paths(const struct node_creds *c, char cert[static PATH_MAX],
		      char chain[static PATH_MAX], struct m2msa_err *err)
{
	const char *dir = c->conf->state_dir;
	int r;

	if ((size_t)snprintf(cert, PATH_MAX, "%s/%s", dir, TPM_NODE_CERT_FILE) >= PATH_MAX ||
	    (size_t)snprintf(chain, PATH_MAX, "%s/%s", dir, TPM_NODE_CHAIN_FILE) >= PATH_MAX)
		return err_set(err, -ENAMETOOLONG, "state_dir %s is too long", dir);
	if (access(cert, R_OK) < 0) {
		r = -errno;
		return err_set(err, r,
			       "method pki is configured but the node certificate %s is %s (run "
			       "m2msactl pki-keygen, have the CSR signed by the provider's node CA, "
			       "then m2msactl pki-install --cert FILE; m2msad picks it up at its "
			       "next retry)",
			       cert, r == -ENOENT ? "missing" : strerror(-r));
	}
	return 0;
}

/*
 * The TLS client context. With pki offered: cert and chain (chain if present),
 * the CertificateVerify signed by the TPM key, both read afresh whenever the
 * context is rebuilt so that a pki-install takes effect without a restart.
 */
static int build_tls(struct node_creds *c, const char *cert, const char *chain,
		     struct m2msa_err *err, bool *ret_tpm_suspect)
{
	const struct agent_conf *conf = c->conf;
	int r;

	free_tls(c);
	tpm_signkey_free(c->signkey);
	c->signkey = NULL;
	if (!agent_conf_offers(conf, WIRE_METHOD_PKI)) {
		c->tls = tls_client_ctx_new(conf->mas_ca, NULL, NULL, err->msg, sizeof(err->msg));
		return c->tls ? 0 : -EINVAL;
	}
	r = tpm_signkey_load(c->tpm, conf->state_dir, &c->signkey);
	if (r < 0) {
		*ret_tpm_suspect = r != -ENOENT;
		return tpm_failed(c, r, "", err);
	}
	c->signer = (struct tls_signer){ tpm_signkey_tls_sign, c->signkey };
	c->tls = tls_client_ctx_new_signer(conf->mas_ca, cert,
					   access(chain, F_OK) == 0 ? chain : NULL, &c->signer, err->msg,
					   sizeof(err->msg));
	if (!c->tls) {
		tpm_signkey_free(c->signkey);
		c->signkey = NULL;
		return -EINVAL;
	}
	log_debug("presenting the node certificate %s (key in the TPM)", cert);
	return 0;
}

int node_creds_prepare(struct node_creds *c, struct m2msa_err *err, bool *ret_tpm_suspect)
{
	bool rebuild = !c->tls || c->tls_stale;
	char cert[PATH_MAX] = "", chain[PATH_MAX] = "";
	int r;

	*ret_tpm_suspect = false;
	if (rebuild && agent_conf_offers(c->conf, WIRE_METHOD_PKI)) {
		/* Without a certificate there is nothing to do yet: leave the TPM alone. */
		r = cert_paths(c, cert, chain, err);
		if (r < 0)
			return r;
	}
	r = node_creds_identity(c, err);
	if (r < 0) {
		*ret_tpm_suspect = true;
		return r;
	}
	if (!rebuild)
		return 0;
	return build_tls(c, cert, chain, err, ret_tpm_suspect);
}

bool node_creds_failed(struct node_creds *c, bool tpm_suspect)
{
	/* The certificate may be what failed (expired, refused): read it again next time. */
	if (agent_conf_offers(c->conf, WIRE_METHOD_PKI))
		c->tls_stale = true;
	if (!tpm_suspect || !c->tpm)
		return false;
	close_tpm(c);
	return true;
}

WOLFSSL_CTX *node_creds_tls(const struct node_creds *c)
{
	return c->tls;
}

const struct kdf_prf *node_creds_km(const struct node_creds *c)
{
	return c->key ? &c->prf : NULL;
}

const char *node_creds_node_id(const struct node_creds *c)
{
	return c->node_id;
}

struct tpm_ctx *node_creds_tpm(const struct node_creds *c)
{
	return c->tpm;
}
