/* SPDX-License-Identifier: Apache-2.0 */
/* The security association key schedule and key-ID formats, shared by node and MAS. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/hex.h"
#include "common/sa.h"
#include "common/secret.h"
#include "common/tls.h"

int sa_binding_from_tls(struct WOLFSSL *ssl, struct sa_binding *ret)
{
	struct sa_binding b;
	int r;

	r = tls_exporter(ssl, SA_LABEL_CB, b.cb, sizeof(b.cb));
	if (r == 0)
		r = tls_exporter(ssl, SA_LABEL_X, b.x, sizeof(b.x));
	if (r == 0)
		*ret = b;
	sa_binding_wipe(&b);
	return r;
}

void sa_binding_wipe(struct sa_binding *b)
{
	secret_wipe(b, sizeof(*b));
}

int sa_proof(const struct kdf_prf *km, enum sa_proof_role role, const struct sa_binding *b,
	     const uint8_t nn[static WIRE_NONCE_LEN], const uint8_t nm[static WIRE_NONCE_LEN],
	     const char *node_id, uint8_t out[static KDF_OUT_LEN])
{
	uint8_t ctx[SA_CB_LEN + 2 * WIRE_NONCE_LEN + WIRE_ID_MAX];
	size_t id_len = strlen(node_id), n = 0;
	int r;

	if (role >= _SA_PROOF_ROLE_MAX || id_len == 0 || id_len > WIRE_ID_MAX)
		return -EINVAL;
	/* cb || Nn || Nm || node-ID */
	memcpy(ctx + n, b->cb, SA_CB_LEN);
	n += SA_CB_LEN;
	memcpy(ctx + n, nn, WIRE_NONCE_LEN);
	n += WIRE_NONCE_LEN;
	memcpy(ctx + n, nm, WIRE_NONCE_LEN);
	n += WIRE_NONCE_LEN;
	memcpy(ctx + n, node_id, id_len);
	n += id_len;
	r = kdf_derive(km, role == SA_PROOF_NODE ? "m2msa node proof" : "m2msa mas proof", ctx, n,
		       out);
	secret_wipe(ctx, sizeof(ctx));
	return r;
}

static int key_from_x(const struct kdf_prf *km, const char *label, const struct sa_binding *b,
		      const uint8_t *nn, const uint8_t *nm, uint8_t *out)
{
	uint8_t ctx[SA_X_LEN + 2 * WIRE_NONCE_LEN];
	int r;

	/* KcID || E || Nn || Nm, and KcID || E is X itself. */
	memcpy(ctx, b->x, SA_X_LEN);
	memcpy(ctx + SA_X_LEN, nn, WIRE_NONCE_LEN);
	memcpy(ctx + SA_X_LEN + WIRE_NONCE_LEN, nm, WIRE_NONCE_LEN);
	r = kdf_derive(km, label, ctx, sizeof(ctx), out);
	secret_wipe(ctx, sizeof(ctx));
	return r;
}

int sa_kc(const struct kdf_prf *km, const struct sa_binding *b,
	  const uint8_t nn[static WIRE_NONCE_LEN], const uint8_t nm[static WIRE_NONCE_LEN],
	  uint8_t out[static KDF_OUT_LEN])
{
	return key_from_x(km, "m2msa Kc", b, nn, nm, out);
}

int sa_ae_root(const struct kdf_prf *km, const struct sa_binding *b,
	       const uint8_t nn[static WIRE_NONCE_LEN], const uint8_t nm[static WIRE_NONCE_LEN],
	       uint8_t out[static KDF_OUT_LEN])
{
	return key_from_x(km, "m2msa AE root", b, nn, nm, out);
}

int sa_ae_key(const uint8_t ae_root[static KDF_OUT_LEN], const char *ae_id,
	      uint8_t out[static KDF_OUT_LEN])
{
	struct kdf_sw_key k = { ae_root, KDF_OUT_LEN };
	struct kdf_prf prf;

	if (!wire_id_valid(ae_id))
		return -EINVAL;
	kdf_prf_software(&k, &prf);
	return kdf_derive(&prf, "m2msa AE key", (const uint8_t *)ae_id, strlen(ae_id), out);
}

void sa_kcid(const struct sa_binding *b, uint8_t out[static SA_KCID_LEN])
{
	memcpy(out, b->x, SA_KCID_LEN);
}

static int fqdn_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 253)
		return 0;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '-'))
			return 0;
	return 1;
}

int sa_key_id_format(const uint8_t kcid[static SA_KCID_LEN], const char *ae_id, const char *fqdn,
		     char *buf, size_t buf_len)
{
	char hex[2 * SA_KCID_LEN + 1];
	int n;

	if (!fqdn_valid(fqdn) || (ae_id && ae_id[0] && (!wire_id_valid(ae_id) || strchr(ae_id, '@'))))
		return -EINVAL;
	hex_encode(kcid, SA_KCID_LEN, hex);
	if (ae_id && ae_id[0])
		n = snprintf(buf, buf_len, "%s-%s@%s", hex, ae_id, fqdn);
	else
		n = snprintf(buf, buf_len, "%s@%s", hex, fqdn);
	if (n < 0 || (size_t)n >= buf_len || n > WIRE_KEY_ID_MAX)
		return -ENAMETOOLONG;
	return 0;
}

int sa_key_id_parse(const char *key_id, uint8_t ret_kcid[static SA_KCID_LEN],
		    char ret_ae_id[static WIRE_ID_MAX + 1], char ret_fqdn[static WIRE_KEY_ID_MAX + 1])
{
	uint8_t kcid[SA_KCID_LEN];
	const char *at, *p;
	size_t len = strnlen(key_id, WIRE_KEY_ID_MAX + 1), ae_len = 0;

	if (len > WIRE_KEY_ID_MAX || len < 2 * SA_KCID_LEN + 2)
		return -EINVAL;
	/* Key IDs use lowercase hex only. */
	if (strspn(key_id, "0123456789abcdef") < 2 * SA_KCID_LEN ||
	    hex_decode(key_id, SA_KCID_LEN, kcid) < 0)
		return -EINVAL;
	p = key_id + 2 * SA_KCID_LEN;
	at = strrchr(p, '@');
	if (!at || !fqdn_valid(at + 1))
		return -EINVAL;
	if (*p == '-') {
		ae_len = (size_t)(at - p - 1);
		if (ae_len == 0 || ae_len > WIRE_ID_MAX)
			return -EINVAL;
	} else if (p != at) {
		return -EINVAL;
	}
	if (ae_len) {
		char ae[WIRE_ID_MAX + 1];

		memcpy(ae, p + 1, ae_len);
		ae[ae_len] = '\0';
		if (!wire_id_valid(ae) || strchr(ae, '@'))
			return -EINVAL;
		memcpy(ret_ae_id, ae, ae_len + 1);
	} else {
		ret_ae_id[0] = '\0';
	}
	memcpy(ret_kcid, kcid, SA_KCID_LEN);
	snprintf(ret_fqdn, WIRE_KEY_ID_MAX + 1, "%s", at + 1);
	return 0;
}

void sa_pki_kc(const struct sa_binding *b, uint8_t out[static KDF_OUT_LEN])
{
	memcpy(out, b->x + SA_KCID_LEN, KDF_OUT_LEN);
}

int sa_pki_ae_root(struct WOLFSSL *ssl, uint8_t out[static KDF_OUT_LEN])
{
	return tls_exporter(ssl, SA_LABEL_PKI_AE_ROOT, out, KDF_OUT_LEN);
}
