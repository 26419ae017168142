/* SPDX-License-Identifier: Apache-2.0 */
/* Milenage (TS 35.206) over a pluggable E_K, and the software E_K on wolfCrypt. */
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/aes.h>

#include <errno.h>
#include <string.h>

#include "common/milenage.h"
#include "common/secret.h"

/* ctx is the secret holding the Aes key schedule. */
static int sw_encrypt(void *ctx, const uint8_t in[static MILENAGE_BLOCK_LEN],
		      uint8_t out[static MILENAGE_BLOCK_LEN])
{
	uint8_t tmp[MILENAGE_BLOCK_LEN];
	int r;

	memcpy(tmp, in, sizeof(tmp));
	r = wc_AesEncryptDirect((Aes *)((struct secret *)ctx)->data, out, tmp);
	secret_wipe(tmp, sizeof(tmp));
	return r == 0 ? 0 : -EIO;
}

int milenage_cipher_software_new(const uint8_t k[static MILENAGE_K_LEN],
				 struct milenage_cipher *ret)
{
	struct secret *s = NULL;
	Aes *aes;
	int r;

	r = secret_new(sizeof(Aes), &s);
	if (r < 0)
		return r;
	aes = (Aes *)s->data;
	if (wc_AesInit(aes, NULL, INVALID_DEVID) != 0) {
		secret_free(s);
		return -EIO;
	}
	if (wc_AesSetKey(aes, k, MILENAGE_K_LEN, NULL, AES_ENCRYPTION) != 0) {
		wc_AesFree(aes);
		secret_free(s);
		return -EIO;
	}
	ret->encrypt = sw_encrypt;
	ret->ctx = s;
	return 0;
}

void milenage_cipher_software_free(struct milenage_cipher *c)
{
	struct secret *s;

	if (!c || !c->ctx)
		return;
	s = c->ctx;
	wc_AesFree((Aes *)s->data);
	secret_free(s);
	c->ctx = NULL;
	c->encrypt = NULL;
}

static int cipher_encrypt(const struct milenage_cipher *c, const uint8_t *in, uint8_t *out)
{
	if (!c->encrypt)
		return -EINVAL;
	return c->encrypt(c->ctx, in, out);
}

static void xor16(uint8_t *out, const uint8_t *a, const uint8_t *b)
{
	for (size_t i = 0; i < MILENAGE_BLOCK_LEN; i++)
		out[i] = a[i] ^ b[i];
}

/* Cyclic left rotation of a 128-bit block by r bits, r a multiple of 8 (TS 35.206 §4.1). */
static void rot16(uint8_t out[static MILENAGE_BLOCK_LEN], const uint8_t in[static MILENAGE_BLOCK_LEN],
		  unsigned r_bits)
{
	unsigned r = r_bits / 8;

	for (unsigned i = 0; i < MILENAGE_BLOCK_LEN; i++)
		out[i] = in[(i + r) % MILENAGE_BLOCK_LEN];
}

int milenage_opc(const struct milenage_cipher *cipher, const uint8_t op[static MILENAGE_OP_LEN],
		 uint8_t ret_opc[static MILENAGE_OP_LEN])
{
	uint8_t e[MILENAGE_BLOCK_LEN];
	int r;

	if (!cipher)
		return -EINVAL;
	r = cipher_encrypt(cipher, op, e);
	if (r == 0)
		xor16(ret_opc, op, e);
	secret_wipe(e, sizeof(e));
	return r;
}

int milenage_begin(struct milenage *m, const struct milenage_cipher *cipher,
		   const uint8_t opc[static MILENAGE_OP_LEN],
		   const uint8_t rand[static MILENAGE_RAND_LEN])
{
	uint8_t in[MILENAGE_BLOCK_LEN];
	int r;

	if (!m || !cipher)
		return -EINVAL;
	m->cipher = cipher;
	memcpy(m->opc, opc, MILENAGE_OP_LEN);
	xor16(in, rand, opc);
	r = cipher_encrypt(cipher, in, m->temp);
	secret_wipe(in, sizeof(in));
	if (r < 0)
		milenage_end(m);
	return r;
}

void milenage_end(struct milenage *m)
{
	if (m)
		secret_wipe(m, sizeof(*m));
}

/*
 * OUTi = E_K(rot(TEMP xor OPc, ri) xor ci) xor OPc for i = 2..5, with
 * c_i = 0^127 || 1 shifted left by (i - 2) bits (…01, …02, …04, …08).
 */
static int out_n(const struct milenage *m, unsigned r_bits, uint8_t c_last,
		 uint8_t out[static MILENAGE_BLOCK_LEN])
{
	uint8_t a[MILENAGE_BLOCK_LEN], b[MILENAGE_BLOCK_LEN];
	int r;

	if (!m || !m->cipher)
		return -EINVAL;
	xor16(a, m->temp, m->opc);
	rot16(b, a, r_bits);
	b[MILENAGE_BLOCK_LEN - 1] ^= c_last;
	r = cipher_encrypt(m->cipher, b, a);
	if (r == 0)
		xor16(out, a, m->opc);
	secret_wipe(a, sizeof(a));
	secret_wipe(b, sizeof(b));
	return r;
}

int milenage_f1(const struct milenage *m, const uint8_t sqn[static MILENAGE_SQN_LEN],
		const uint8_t amf[static MILENAGE_AMF_LEN], uint8_t *ret_mac_a,
		uint8_t *ret_mac_s)
{
	uint8_t in1[MILENAGE_BLOCK_LEN], a[MILENAGE_BLOCK_LEN], b[MILENAGE_BLOCK_LEN];
	int r;

	if (!m || !m->cipher)
		return -EINVAL;
	/* IN1 = SQN || AMF || SQN || AMF; OUT1 = E_K(TEMP xor rot(IN1 xor OPc, r1) xor c1) xor OPc,
	 * r1 = 64, c1 = 0. f1 = OUT1[0..63], f1* = OUT1[64..127]. */
	memcpy(in1, sqn, MILENAGE_SQN_LEN);
	memcpy(in1 + 6, amf, MILENAGE_AMF_LEN);
	memcpy(in1 + 8, sqn, MILENAGE_SQN_LEN);
	memcpy(in1 + 14, amf, MILENAGE_AMF_LEN);
	xor16(a, in1, m->opc);
	rot16(b, a, 64);
	xor16(a, b, m->temp);
	r = cipher_encrypt(m->cipher, a, b);
	if (r == 0) {
		xor16(a, b, m->opc);
		if (ret_mac_a)
			memcpy(ret_mac_a, a, MILENAGE_MAC_LEN);
		if (ret_mac_s)
			memcpy(ret_mac_s, a + 8, MILENAGE_MAC_LEN);
	}
	secret_wipe(a, sizeof(a));
	secret_wipe(b, sizeof(b));
	secret_wipe(in1, sizeof(in1));
	return r;
}

int milenage_f2_f5(const struct milenage *m, uint8_t *ret_res, uint8_t *ret_ak)
{
	uint8_t out[MILENAGE_BLOCK_LEN];
	int r;

	/* r2 = 0, c2 = …01; f5 = OUT2[0..47], f2 = OUT2[64..127]. */
	r = out_n(m, 0, 0x01, out);
	if (r == 0) {
		if (ret_ak)
			memcpy(ret_ak, out, MILENAGE_AK_LEN);
		if (ret_res)
			memcpy(ret_res, out + 8, MILENAGE_RES_LEN);
	}
	secret_wipe(out, sizeof(out));
	return r;
}

int milenage_f3(const struct milenage *m, uint8_t ret_ck[static MILENAGE_CK_LEN])
{
	/* r3 = 32, c3 = …02; f3 = OUT3. */
	return out_n(m, 32, 0x02, ret_ck);
}

int milenage_f4(const struct milenage *m, uint8_t ret_ik[static MILENAGE_IK_LEN])
{
	/* r4 = 64, c4 = …04; f4 = OUT4. */
	return out_n(m, 64, 0x04, ret_ik);
}

int milenage_f5_star(const struct milenage *m, uint8_t ret_ak[static MILENAGE_AK_LEN])
{
	uint8_t out[MILENAGE_BLOCK_LEN];
	int r;

	/* r5 = 96, c5 = …08; f5* = OUT5[0..47]. */
	r = out_n(m, 96, 0x08, out);
	if (r == 0)
		memcpy(ret_ak, out, MILENAGE_AK_LEN);
	secret_wipe(out, sizeof(out));
	return r;
}
