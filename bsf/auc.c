/* SPDX-License-Identifier: Apache-2.0 */
/* The BSF's AuC: Milenage vectors and SQN resynchronisation (see auc.h). */
#include <errno.h>
#include <string.h>

#include "bsf/auc.h"
#include "common/crypto.h"
#include "common/secret.h"

void bsf_vector_wipe(struct bsf_vector *v)
{
	secret_wipe(v, sizeof(*v));
}

/* Start a Milenage run for rand with the subscriber's K and OPc. */
static int begin(struct bsf_store *s, const char *impi, const uint8_t rand[static 16],
		 struct bsf_subscriber *sub, struct milenage_cipher *cipher, struct milenage *m)
{
	_cleanup_secret_ struct secret *k_opc = NULL;
	int r;

	r = bsf_store_subscriber_get(s, impi, sub, &k_opc);
	if (r < 0)
		return r;
	r = milenage_cipher_software_new(k_opc->data, cipher);
	if (r < 0)
		return r;
	r = milenage_begin(m, cipher, k_opc->data + BSF_K_LEN, rand);
	if (r < 0)
		milenage_cipher_software_free(cipher);
	return r;
}

int bsf_auc_vector(struct bsf_store *s, const char *impi, struct bsf_vector *ret)
{
	_cleanup_milenage_cipher_ struct milenage_cipher cipher = { 0 };
	_cleanup_milenage_ struct milenage m = { 0 };
	struct bsf_subscriber sub;
	struct bsf_vector v;
	uint8_t sqn[MILENAGE_SQN_LEN];
	uint64_t next;
	int r;

	r = crypto_random(v.rand, sizeof(v.rand));
	if (r < 0)
		return r;
	r = begin(s, impi, v.rand, &sub, &cipher, &m);
	if (r < 0)
		return r;
	next = (sub.sqn + 1) & AKA_SQN_MAX;
	aka_sqn_put(next, sqn);
	r = aka_autn_make(&m, sqn, sub.amf, v.autn);
	if (r == 0)
		r = milenage_f2_f5(&m, v.xres, NULL);
	if (r == 0)
		r = milenage_f3(&m, v.ck);
	if (r == 0)
		r = milenage_f4(&m, v.ik);
	if (r == 0)
		r = bsf_store_subscriber_set_sqn(s, impi, next);
	if (r == 0)
		*ret = v;
	bsf_vector_wipe(&v);
	return r;
}

int bsf_auc_resync(struct bsf_store *s, const char *impi, const uint8_t rand[static MILENAGE_RAND_LEN],
		   const uint8_t auts[static AKA_AUTS_LEN])
{
	_cleanup_milenage_cipher_ struct milenage_cipher cipher = { 0 };
	_cleanup_milenage_ struct milenage m = { 0 };
	struct bsf_subscriber sub;
	uint8_t sqn_ms[MILENAGE_SQN_LEN];
	int r;

	r = begin(s, impi, rand, &sub, &cipher, &m);
	if (r < 0)
		return r;
	r = aka_auts_open(&m, auts, sqn_ms);
	if (r < 0)
		return r;
	return bsf_store_subscriber_set_sqn(s, impi, aka_sqn_get(sqn_ms));
}
