/* SPDX-License-Identifier: Apache-2.0 */
/*
 * m2msactl pki-keygen and pki-install: an ECDSA P-256 key inside the TPM, a
 * PKCS#10 request (RFC 2986) signed by that key for the provider's CA, and the
 * certificate the CA issued stored next to the key for the pki method.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include "agent/agent-conf.h"
#include "agent/node-creds.h"
#include "m2msactl/ctl.h"
#include "common/fileio.h"
#include "tpm/keystore.h"
#include "tpm/signkey.h"

#define CSR_DER_MAX 2048
#define CERT_FILE_MAX (64 * 1024)

/* AlgorithmIdentifier ecdsa-with-SHA256 (1.2.840.10045.4.3.2), no parameters (RFC 5758 3.2). */
static const uint8_t alg_ecdsa_sha256[] = { 0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48,
					    0xce, 0x3d, 0x04, 0x03, 0x02 };

static void keygen_usage(FILE *f)
{
	fprintf(f,
		"Usage: m2msactl pki-keygen [--config FILE] [--subject DN] [--out FILE] [--new-key]\n"
		"\n"
		"Create the node's ECDSA P-256 key inside the TPM (unless there is one already) and\n"
		"write a PKCS#10 certificate request signed by it, for the provider's CA. The\n"
		"private key never leaves the TPM. The MAS reads the node's CSE-ID from the\n"
		"certificate's subject CN, so the CN must be the node ID.\n"
		"\n"
		"  --config FILE  node configuration (default %s)\n"
		"  --subject DN   e.g. \"CN=/mn-cse-1,O=Example,C=DE\" (CN, O, OU, L, ST, C);\n"
		"                 default CN=<node ID>\n"
		"  --out FILE     write the PEM request to FILE (default: standard output)\n"
		"  --new-key      replace an existing signing key (its certificate stops working)\n",
		AGENT_CONF_DEFAULT);
}

static void install_usage(FILE *f)
{
	fprintf(f,
		"Usage: m2msactl pki-install --cert FILE [--chain FILE] [--config FILE]\n"
		"\n"
		"Store the certificate the provider's CA issued for the TPM key (and any\n"
		"intermediate CA certificates) in the state directory as %s and %s.\n"
		"The certificate must carry the public key of the TPM's signing key.\n",
		TPM_NODE_CERT_FILE, TPM_NODE_CHAIN_FILE);
}

/* Set one "KEY=value" attribute of the subject. */
static int set_attr(CertName *n, const char *attr, size_t len, struct m2msa_err *err)
{
	static const struct {
		const char *key;
		size_t off;
	} keys[] = {
		{ "CN", offsetof(CertName, commonName) }, { "O", offsetof(CertName, org) },
		{ "OU", offsetof(CertName, unit) },	  { "L", offsetof(CertName, locality) },
		{ "ST", offsetof(CertName, state) },	  { "C", offsetof(CertName, country) },
	};
	const char *eq = memchr(attr, '=', len);
	size_t klen, vlen;

	if (!eq)
		return err_set(err, -EINVAL, "'%.*s' is not KEY=value", (int)len, attr);
	klen = (size_t)(eq - attr);
	vlen = len - klen - 1;
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		char *dst = (char *)n + keys[i].off;

		if (strlen(keys[i].key) != klen || strncasecmp(keys[i].key, attr, klen) != 0)
			continue;
		if (vlen == 0 || vlen >= CTC_NAME_SIZE)
			return err_set(err, -EINVAL, "%s must be 1 to %d characters", keys[i].key,
				       CTC_NAME_SIZE - 1);
		memcpy(dst, eq + 1, vlen);
		dst[vlen] = '\0';
		return 0;
	}
	return err_set(err, -EINVAL, "unknown attribute '%.*s' (known: CN, O, OU, L, ST, C)",
		       (int)klen, attr);
}

static int parse_subject(const char *s, CertName *n, struct m2msa_err *err)
{
	while (*s) {
		size_t len = strcspn(s, ",");
		int r = set_attr(n, s, len, err);

		if (r < 0)
			return r;
		s += len;
		if (*s == ',')
			s++;
	}
	if (!n->commonName[0])
		return err_set(err, -EINVAL, "the subject needs a CN (the node's CSE-ID)");
	return 0;
}

/* Append a DER length for n (< 65536). */
static size_t der_len(size_t n, uint8_t *out)
{
	if (n < 0x80) {
		out[0] = (uint8_t)n;
		return 1;
	}
	if (n < 0x100) {
		out[0] = 0x81;
		out[1] = (uint8_t)n;
		return 2;
	}
	out[0] = 0x82;
	out[1] = (uint8_t)(n >> 8);
	out[2] = (uint8_t)n;
	return 3;
}

/*
 * CertificationRequest ::= SEQUENCE { certificationRequestInfo, signatureAlgorithm,
 * signature BIT STRING } (RFC 2986 4.2), the signature made by the TPM key.
 */
static int build_csr(struct tpm_signkey *k, const CertName *subject, uint8_t *out, size_t out_len,
		     size_t *ret_len, struct m2msa_err *err)
{
	uint8_t x[TPM_P256_LEN], y[TPM_P256_LEN], tbs[CSR_DER_MAX], digest[WC_SHA256_DIGEST_SIZE];
	uint8_t sig[TPM_ECDSA_DER_MAX], hdr[4], bits_hdr[4];
	size_t sig_len, content, hl, bl, n = 0;
	ecc_key pub;
	Cert req;
	int tbs_len, r;

	tpm_signkey_public(k, x, y);
	if (wc_ecc_init(&pub) != 0)
		return -ENOMEM;
	if (wc_ecc_import_unsigned(&pub, x, y, NULL, ECC_SECP256R1) != 0) {
		wc_ecc_free(&pub);
		return err_set(err, -EBADMSG, "the TPM key's public point is not on P-256");
	}
	wc_InitCert(&req);
	req.version = 0;
	req.sigType = CTC_SHA256wECDSA;
	req.subject = *subject;
	tbs_len = wc_MakeCertReq_ex(&req, tbs, sizeof(tbs), ECC_TYPE, &pub);
	wc_ecc_free(&pub);
	if (tbs_len <= 0)
		return err_set(err, -EINVAL, "cannot encode the certificate request (wolfCrypt %d)",
			       tbs_len);
	if (wc_Sha256Hash(tbs, (word32)tbs_len, digest) != 0)
		return -EIO;
	r = tpm_signkey_sign_der(k, digest, sizeof(digest), sig, sizeof(sig), &sig_len);
	if (r < 0)
		return r;
	bits_hdr[0] = 0x03;
	bl = 1 + der_len(sig_len + 1, bits_hdr + 1);
	content = (size_t)tbs_len + sizeof(alg_ecdsa_sha256) + bl + 1 + sig_len;
	hdr[0] = 0x30;
	hl = 1 + der_len(content, hdr + 1);
	if (hl + content > out_len)
		return -ENOBUFS;
	memcpy(out + n, hdr, hl);
	n += hl;
	memcpy(out + n, tbs, (size_t)tbs_len);
	n += (size_t)tbs_len;
	memcpy(out + n, alg_ecdsa_sha256, sizeof(alg_ecdsa_sha256));
	n += sizeof(alg_ecdsa_sha256);
	memcpy(out + n, bits_hdr, bl);
	n += bl;
	out[n++] = 0x00; /* no unused bits */
	memcpy(out + n, sig, sig_len);
	n += sig_len;
	*ret_len = n;
	return 0;
}

/* The PEM request to out (NULL: standard output). An exit status. */
static int put_request(const char *out, const uint8_t *pem, size_t len, const char *cn)
{
	int r;

	if (!out) {
		fwrite(pem, 1, len, stdout);
		return CLI_EXIT_OK;
	}
	r = fileio_write_atomic(out, pem, len, 0644);
	if (r < 0) {
		fprintf(stderr, "m2msactl pki-keygen: cannot write %s: %s\n", out, strerror(-r));
		return CLI_EXIT_FAILURE;
	}
	fprintf(stderr, "Wrote the certificate request for CN=%s to %s; have the provider's "
			"CA sign it, then run m2msactl pki-install --cert FILE.\n",
		cn, out);
	return CLI_EXIT_OK;
}

/* The TPM signing key in state_dir, created first if there is none or new_key. */
static int signkey_get(struct tpm_ctx *tpm, const char *state_dir, bool new_key,
		       struct tpm_signkey **ret)
{
	_cleanup_free_ char *pub_path = NULL;
	int r;

	if (asprintf(&pub_path, "%s/%s", state_dir, TPM_SIGNKEY_PUB_FILE) < 0)
		return -ENOMEM;
	if (new_key || access(pub_path, F_OK) < 0) {
		r = tpm_signkey_create(tpm, state_dir);
		if (r < 0) {
			fprintf(stderr, "m2msactl pki-keygen: %s\n", tpm_last_error(tpm));
			return r;
		}
		fprintf(stderr, "Created an ECDSA P-256 signing key in the TPM (%s).\n", pub_path);
	}
	r = tpm_signkey_load(tpm, state_dir, ret);
	if (r < 0)
		fprintf(stderr, "m2msactl pki-keygen: %s\n", tpm_last_error(tpm));
	return r;
}

int ctl_pki_keygen(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "subject", required_argument, NULL, 's' },
		{ "out", required_argument, NULL, 'o' },
		{ "new-key", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *config = AGENT_CONF_DEFAULT, *subject = NULL, *out = NULL;
	_cleanup_(agent_conf_free) struct agent_conf conf = { .n_methods = 0 };
	_cleanup_(node_creds_freep) struct node_creds *creds = NULL;
	struct tpm_ctx *tpm;
	_cleanup_(tpm_signkey_freep) struct tpm_signkey *key = NULL;
	uint8_t der[CSR_DER_MAX], pem[2 * CSR_DER_MAX];
	struct m2msa_err err = { .wire_code = 0 };
	CertName name;
	size_t der_sz = 0;
	bool new_key = false;
	int c, r, pem_len;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		switch (c) {
		case 'c': config = optarg; break;
		case 's': subject = optarg; break;
		case 'o': out = optarg; break;
		case 'n': new_key = true; break;
		case 'h': keygen_usage(stdout); return CLI_EXIT_OK;
		default: keygen_usage(stderr); return CLI_EXIT_USAGE;
		}
	}
	if (cli_no_more_args(&(const struct cli){ "m2msactl", "pki-keygen" }, argc, argv, optind) !=
	    CLI_EXIT_OK)
		return CLI_EXIT_USAGE;
	/* The defaults wc_InitCert() gives a subject: empty fields, UTF8String encodings. */
	{
		Cert init;

		wc_InitCert(&init);
		name = init.subject;
	}
	if (subject && parse_subject(subject, &name, &err) < 0) {
		fprintf(stderr, "m2msactl pki-keygen: invalid --subject '%s': %s\n", subject, err.msg);
		return CLI_EXIT_USAGE;
	}
	r = agent_conf_load(config, &conf, &err);
	if (r < 0) {
		fprintf(stderr, "m2msactl pki-keygen: %s\n", err.msg);
		return CLI_EXIT_FAILURE;
	}
	/* The TPM, and the node ID for the CN: node_id, else the one recorded with Km. */
	r = node_creds_new(&conf, &creds);
	if (r < 0)
		err_set(&err, r, "%s", strerror(-r));
	else if (subject || conf.node_id)
		r = node_creds_open_tpm(creds, &err);
	else
		r = node_creds_identity(creds, &err);
	if (r < 0) {
		fprintf(stderr, "m2msactl pki-keygen: %s%s\n", err.msg,
			subject ? "" : " (or give --subject CN=<node ID>)");
		return CLI_EXIT_FAILURE;
	}
	tpm = node_creds_tpm(creds);
	if (!subject) {
		if (strlen(node_creds_node_id(creds)) >= CTC_NAME_SIZE) {
			fprintf(stderr, "m2msactl pki-keygen: the node ID is too long for a CN: "
					"give --subject CN=<node ID>\n");
			return CLI_EXIT_FAILURE;
		}
		snprintf(name.commonName, sizeof(name.commonName), "%s", node_creds_node_id(creds));
	}
	r = signkey_get(tpm, conf.state_dir, new_key, &key);
	if (r < 0)
		return CLI_EXIT_FAILURE;
	r = build_csr(key, &name, der, sizeof(der), &der_sz, &err);
	if (r < 0) {
		fprintf(stderr, "m2msactl pki-keygen: cannot make the request: %s\n",
			r == -EINVAL || r == -EBADMSG ? err.msg : tpm_last_error(tpm));
		return CLI_EXIT_FAILURE;
	}
	pem_len = wc_DerToPem(der, (word32)der_sz, pem, sizeof(pem), CERTREQ_TYPE);
	if (pem_len <= 0) {
		fprintf(stderr, "m2msactl pki-keygen: cannot PEM-encode the request\n");
		return CLI_EXIT_FAILURE;
	}
	return put_request(out, pem, (size_t)pem_len, name.commonName);
}

/* 1 when the certificate in pem carries the TPM key's public key. */
static int cert_matches_key(const uint8_t *pem, size_t len, struct tpm_signkey *k)
{
	uint8_t x[TPM_P256_LEN], y[TPM_P256_LEN], want[128], have[256];
	int have_len = sizeof(have), want_len, match = 0;
	WOLFSSL_X509 *cert;
	ecc_key pub;

	cert = wolfSSL_X509_load_certificate_buffer(pem, (int)len, WOLFSSL_FILETYPE_PEM);
	if (!cert)
		return -EBADMSG;
	tpm_signkey_public(k, x, y);
	if (wc_ecc_init(&pub) != 0) {
		wolfSSL_X509_free(cert);
		return -ENOMEM;
	}
	if (wc_ecc_import_unsigned(&pub, x, y, NULL, ECC_SECP256R1) == 0) {
		want_len = wc_EccPublicKeyToDer(&pub, want, sizeof(want), 1);
		if (want_len > 0 &&
		    wolfSSL_X509_get_pubkey_buffer(cert, have, &have_len) == WOLFSSL_SUCCESS)
			match = have_len == want_len && memcmp(have, want, (size_t)want_len) == 0;
	}
	wc_ecc_free(&pub);
	wolfSSL_X509_free(cert);
	return match;
}

int ctl_pki_install(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "cert", required_argument, NULL, 'C' },
		{ "chain", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *config = AGENT_CONF_DEFAULT, *cert = NULL, *chain = NULL;
	_cleanup_(agent_conf_free) struct agent_conf conf = { .n_methods = 0 };
	_cleanup_(tpm_closep) struct tpm_ctx *tpm = NULL;
	_cleanup_(tpm_signkey_freep) struct tpm_signkey *key = NULL;
	_cleanup_free_ uint8_t *cert_pem = NULL, *chain_pem = NULL;
	_cleanup_free_ char *cert_path = NULL, *chain_path = NULL;
	size_t cert_len = 0, chain_len = 0;
	struct m2msa_err err = { .wire_code = 0 };
	int c, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'C': cert = optarg; break;
		case 'a': chain = optarg; break;
		case 'h': install_usage(stdout); return CLI_EXIT_OK;
		default: install_usage(stderr); return CLI_EXIT_USAGE;
		}
	}
	if (cli_no_more_args(&(const struct cli){ "m2msactl", "pki-install" }, argc, argv, optind) !=
	    CLI_EXIT_OK)
		return CLI_EXIT_USAGE;
	if (!cert) {
		fprintf(stderr, "m2msactl pki-install: --cert FILE is required\n");
		return CLI_EXIT_USAGE;
	}
	r = fileio_read_alloc(cert, CERT_FILE_MAX, &cert_pem, &cert_len);
	if (r < 0) {
		fprintf(stderr, "m2msactl pki-install: cannot read %s: %s\n", cert, strerror(-r));
		return CLI_EXIT_FAILURE;
	}
	if (chain) {
		r = fileio_read_alloc(chain, CERT_FILE_MAX, &chain_pem, &chain_len);
		if (r < 0) {
			fprintf(stderr, "m2msactl pki-install: cannot read %s: %s\n", chain,
				strerror(-r));
			return CLI_EXIT_FAILURE;
		}
	}
	r = agent_conf_load(config, &conf, &err);
	if (r < 0) {
		fprintf(stderr, "m2msactl pki-install: %s\n", err.msg);
		return CLI_EXIT_FAILURE;
	}
	r = tpm_open(conf.tcti, &tpm, err.msg, sizeof(err.msg));
	if (r < 0) {
		fprintf(stderr, "m2msactl pki-install: %s\n", err.msg);
		return CLI_EXIT_FAILURE;
	}
	r = tpm_signkey_load(tpm, conf.state_dir, &key);
	if (r < 0) {
		fprintf(stderr, "m2msactl pki-install: %s\n", tpm_last_error(tpm));
		return CLI_EXIT_FAILURE;
	}
	r = cert_matches_key(cert_pem, cert_len, key);
	if (r < 0) {
		fprintf(stderr, "m2msactl pki-install: %s is not a PEM certificate\n", cert);
		return CLI_EXIT_FAILURE;
	}
	if (r == 0) {
		fprintf(stderr,
			"m2msactl pki-install: %s was not issued for this TPM's signing key (make a "
			"request with m2msactl pki-keygen and have the CA sign that)\n",
			cert);
		return CLI_EXIT_FAILURE;
	}
	if (asprintf(&cert_path, "%s/%s", conf.state_dir, TPM_NODE_CERT_FILE) < 0 ||
	    asprintf(&chain_path, "%s/%s", conf.state_dir, TPM_NODE_CHAIN_FILE) < 0)
		return CLI_EXIT_FAILURE;
	r = fileio_write_atomic(cert_path, cert_pem, cert_len, 0644);
	if (r == 0 && chain)
		r = fileio_write_atomic(chain_path, chain_pem, chain_len, 0644);
	else if (r == 0 && unlink(chain_path) < 0 && errno != ENOENT)
		r = -errno;
	if (r < 0) {
		fprintf(stderr, "m2msactl pki-install: cannot write into %s: %s\n", conf.state_dir,
			strerror(-r));
		return CLI_EXIT_FAILURE;
	}
	printf("Installed %s%s in %s.\n", TPM_NODE_CERT_FILE, chain ? " and " TPM_NODE_CHAIN_FILE : "",
	       conf.state_dir);
	return CLI_EXIT_OK;
}
