/* SPDX-License-Identifier: Apache-2.0 */
/* AKA tokens AUTN/AUTS over Milenage, and the USIM's side of one AKA run (TS 33.102 §6.3). */
#include <errno.h>
#include <string.h>

#include "common/aka.h"
#include "common/secret.h"

static const uint8_t amf_resync[MILENAGE_AMF_LEN] = { 0x00, 0x00 };

uint64_t aka_sqn_get(const uint8_t sqn[static MILENAGE_SQN_LEN])
{
	uint64_t v = 0;

	for (int i = 0; i < MILENAGE_SQN_LEN; i++)
		v = (v << 8) | sqn[i];
	return v;
}

void aka_sqn_put(uint64_t v, uint8_t sqn[static MILENAGE_SQN_LEN])
{
	for (int i = MILENAGE_SQN_LEN - 1; i >= 0; i--) {
		sqn[i] = (uint8_t)v;
		v >>= 8;
	}
}

bool aka_sqn_fresh(uint64_t sqn, uint64_t highest, uint64_t window)
{
	return sqn <= AKA_SQN_MAX && sqn > highest && sqn - highest <= window;
}

static void xor_n(uint8_t *out, const uint8_t *a, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = a[i] ^ b[i];
}

int aka_autn_make(const struct milenage *m, const uint8_t sqn[static MILENAGE_SQN_LEN],
		  const uint8_t amf[static MILENAGE_AMF_LEN], uint8_t ret_autn[static AKA_AUTN_LEN])
{
	uint8_t ak[MILENAGE_AK_LEN], mac[MILENAGE_MAC_LEN];
	int r;

	r = milenage_f2_f5(m, NULL, ak);
	if (r == 0)
		r = milenage_f1(m, sqn, amf, mac, NULL);
	if (r == 0) {
		xor_n(ret_autn, sqn, ak, MILENAGE_SQN_LEN);
		memcpy(ret_autn + 6, amf, MILENAGE_AMF_LEN);
		memcpy(ret_autn + 8, mac, MILENAGE_MAC_LEN);
	}
	secret_wipe(ak, sizeof(ak));
	return r;
}

int aka_autn_open(const struct milenage *m, const uint8_t autn[static AKA_AUTN_LEN],
		  uint8_t ret_sqn[static MILENAGE_SQN_LEN], uint8_t ret_amf[static MILENAGE_AMF_LEN])
{
	uint8_t ak[MILENAGE_AK_LEN], sqn[MILENAGE_SQN_LEN], xmac[MILENAGE_MAC_LEN];
	int r;

	r = milenage_f2_f5(m, NULL, ak);
	if (r < 0)
		goto out;
	xor_n(sqn, autn, ak, MILENAGE_SQN_LEN);
	r = milenage_f1(m, sqn, autn + 6, xmac, NULL);
	if (r < 0)
		goto out;
	if (!secret_equal(xmac, autn + 8, MILENAGE_MAC_LEN)) {
		r = -EBADMSG;
		goto out;
	}
	memcpy(ret_sqn, sqn, MILENAGE_SQN_LEN);
	memcpy(ret_amf, autn + 6, MILENAGE_AMF_LEN);
out:
	secret_wipe(ak, sizeof(ak));
	secret_wipe(sqn, sizeof(sqn));
	return r;
}

int aka_auts_make(const struct milenage *m, const uint8_t sqn_ms[static MILENAGE_SQN_LEN],
		  uint8_t ret_auts[static AKA_AUTS_LEN])
{
	uint8_t ak[MILENAGE_AK_LEN], mac[MILENAGE_MAC_LEN];
	int r;

	r = milenage_f5_star(m, ak);
	if (r == 0)
		r = milenage_f1(m, sqn_ms, amf_resync, NULL, mac);
	if (r == 0) {
		xor_n(ret_auts, sqn_ms, ak, MILENAGE_SQN_LEN);
		memcpy(ret_auts + 6, mac, MILENAGE_MAC_LEN);
	}
	secret_wipe(ak, sizeof(ak));
	return r;
}

int aka_auts_open(const struct milenage *m, const uint8_t auts[static AKA_AUTS_LEN],
		  uint8_t ret_sqn_ms[static MILENAGE_SQN_LEN])
{
	uint8_t ak[MILENAGE_AK_LEN], sqn[MILENAGE_SQN_LEN], xmac[MILENAGE_MAC_LEN];
	int r;

	r = milenage_f5_star(m, ak);
	if (r < 0)
		goto out;
	xor_n(sqn, auts, ak, MILENAGE_SQN_LEN);
	r = milenage_f1(m, sqn, amf_resync, NULL, xmac);
	if (r < 0)
		goto out;
	if (!secret_equal(xmac, auts + 6, MILENAGE_MAC_LEN)) {
		r = -EBADMSG;
		goto out;
	}
	memcpy(ret_sqn_ms, sqn, MILENAGE_SQN_LEN);
out:
	secret_wipe(ak, sizeof(ak));
	secret_wipe(sqn, sizeof(sqn));
	return r;
}

void aka_usim_out_wipe(struct aka_usim_out *o)
{
	if (o)
		secret_wipe(o, sizeof(*o));
}

static int usim_answer(const struct milenage *m, struct aka_usim_out *o)
{
	int r;

	r = milenage_f2_f5(m, o->res, NULL);
	if (r == 0)
		r = milenage_f3(m, o->ck);
	if (r == 0)
		r = milenage_f4(m, o->ik);
	return r;
}

int aka_usim_run(const struct milenage_cipher *cipher, const uint8_t opc[static MILENAGE_OP_LEN],
		 const uint8_t rand[static MILENAGE_RAND_LEN],
		 const uint8_t autn[static AKA_AUTN_LEN], uint64_t sqn_highest, uint64_t window,
		 struct aka_usim_out *ret)
{
	_cleanup_milenage_ struct milenage m = { 0 };
	_cleanup_aka_usim_out_ struct aka_usim_out o = { 0 };
	uint8_t sqn[MILENAGE_SQN_LEN], amf[MILENAGE_AMF_LEN], sqn_ms[MILENAGE_SQN_LEN];
	int r;

	if (!ret || sqn_highest > AKA_SQN_MAX)
		return -EINVAL;
	r = milenage_begin(&m, cipher, opc, rand);
	if (r < 0)
		return r;
	r = aka_autn_open(&m, autn, sqn, amf);
	if (r == -EBADMSG) {
		o.result = AKA_RESULT_MAC_FAILURE;
	} else if (r < 0) {
		return r;
	} else if (!aka_sqn_fresh(aka_sqn_get(sqn), sqn_highest, window)) {
		o.result = AKA_RESULT_SYNC_FAILURE;
		aka_sqn_put(sqn_highest, sqn_ms);
		r = aka_auts_make(&m, sqn_ms, o.auts);
	} else {
		o.result = AKA_RESULT_OK;
		o.sqn = aka_sqn_get(sqn);
		r = usim_answer(&m, &o);
	}
	if (r < 0 && r != -EBADMSG)
		return r;
	*ret = o;
	return 0;
}

const char *aka_result_to_string(enum aka_result r)
{
	switch (r) {
	case AKA_RESULT_OK:
		return "ok";
	case AKA_RESULT_SYNC_FAILURE:
		return "sync failure";
	case AKA_RESULT_MAC_FAILURE:
		return "MAC failure";
	default:
		return "unknown";
	}
}
