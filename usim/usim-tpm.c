/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The tpm USIM backend: Milenage with E_K in the TPM (tpm/usimkey.h), OPc and
 * the SQN state in the state folder (usim-state.h), the USIM's checks from
 * common/aka. The accepted SQN is on disk before RES/CK/IK are returned.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/secret.h"
#include "tpm/usimkey.h"
#include "usim/usim-internal.h"
#include "usim/usim-state.h"

struct usim_tpm {
	struct tpm_ctx *t;
	bool own_t;
	struct tpm_usim_key *key;
	struct milenage_cipher cipher;
	char *dir;
	uint8_t opc[MILENAGE_OP_LEN];
};

static int tpm_authenticate(struct usim *u, const uint8_t rand[static MILENAGE_RAND_LEN],
			    const uint8_t autn[static AKA_AUTN_LEN], struct usim_result *ret)
{
	struct usim_tpm *b = u->backend;
	_cleanup_aka_usim_out_ struct aka_usim_out o = { 0 };
	_cleanup_close_ int lock = -1;
	uint64_t highest;
	int r;

	lock = usim_state_lock(b->dir, u->err, sizeof(u->err));
	if (lock < 0)
		return lock;
	r = usim_state_sqn_read(b->dir, &highest, u->err, sizeof(u->err));
	if (r < 0)
		return r;
	r = aka_usim_run(&b->cipher, b->opc, rand, autn, highest, AKA_SQN_WINDOW_DEFAULT, &o);
	if (r < 0)
		return usim_fail(u, r, "the USIM computation in the TPM failed: %s",
				 tpm_last_error(b->t));
	if (o.result == AKA_RESULT_OK) {
		/* The SQN is spent before anything leaves: a crash cannot make it reusable. */
		r = usim_state_sqn_write(b->dir, o.sqn, u->err, sizeof(u->err));
		if (r < 0)
			return r;
		memcpy(ret->res, o.res, MILENAGE_RES_LEN);
		ret->res_len = MILENAGE_RES_LEN;
		memcpy(ret->ck, o.ck, MILENAGE_CK_LEN);
		memcpy(ret->ik, o.ik, MILENAGE_IK_LEN);
	} else if (o.result == AKA_RESULT_SYNC_FAILURE) {
		memcpy(ret->auts, o.auts, AKA_AUTS_LEN);
	}
	ret->result = o.result;
	return 0;
}

static void tpm_free(struct usim *u)
{
	struct usim_tpm *b = u->backend;

	if (!b)
		return;
	tpm_usim_key_free(b->key);
	if (b->own_t)
		tpm_close(b->t);
	free(b->dir);
	secret_wipe(b, sizeof(*b));
	free(b);
	u->backend = NULL;
}

static const struct usim_ops tpm_ops = {
	.name = "tpm",
	.authenticate = tpm_authenticate,
	.free = tpm_free,
};

static int tpm_new(struct tpm_ctx *t, bool own_t, const char *state_dir, struct usim **ret,
		   char *err, size_t err_len)
{
	_cleanup_free_ char *impi = NULL;
	struct usim_tpm *b;
	struct usim *u = NULL;
	uint64_t sqn;
	int r;

	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->t = t;
	b->own_t = own_t;
	b->dir = strdup(state_dir);
	r = b->dir ? 0 : -ENOMEM;
	if (r == 0)
		r = usim_state_read(state_dir, &impi, b->opc, err, err_len);
	if (r == 0)
		r = usim_state_sqn_read(state_dir, &sqn, err, err_len);
	if (r == 0) {
		r = tpm_usim_key_load(t, state_dir, &b->key);
		if (r < 0)
			usim_err_out(err, err_len, r, tpm_last_error(t));
	}
	if (r == 0)
		r = usim_alloc(&tpm_ops, impi, &u);
	if (r < 0) {
		struct usim tmp = { .backend = b };

		b->own_t = false; /* the caller's t, or closed by usim_tpm_open */
		tpm_free(&tmp);
		return r;
	}
	tpm_usim_key_cipher(b->key, &b->cipher);
	u->backend = b;
	*ret = u;
	return 0;
}

int usim_tpm_new(struct tpm_ctx *t, const char *state_dir, struct usim **ret, char *err,
		 size_t err_len)
{
	if (!t || !state_dir || !ret)
		return -EINVAL;
	return tpm_new(t, false, state_dir, ret, err, err_len);
}

int usim_tpm_open(const char *tcti, const char *state_dir, struct usim **ret, char *err,
		  size_t err_len)
{
	struct tpm_ctx *t = NULL;
	int r;

	if (!state_dir || !ret)
		return -EINVAL;
	r = tpm_open(tcti, &t, err, err_len);
	if (r < 0)
		return r;
	r = tpm_new(t, true, state_dir, ret, err, err_len);
	if (r < 0)
		tpm_close(t);
	return r;
}
