/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libm2msa: end-to-end keys between AEs on different nodes (docs/libm2msa.md,
 * docs/protocol.md §14): get a pairwise key towards a target AE, resolve a key
 * ID received with a message.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "libm2msa/libm2msa-int.h"
#include "common/wire.h"

/* A specific AE-ID: an identifier without '/' and '@'. */
static bool ae_ok(const char *ae_id)
{
	return ae_id && wire_id_valid(ae_id) && !strchr(ae_id, '/') && !strchr(ae_id, '@');
}

/* Check a PEER_KEY answer and turn it into a key object. */
static int take(struct local_msg *rep, struct m2msa_key **ret)
{
	struct m2msa_key *k;

	if (rep->type != LOCAL_MSG_PEER_KEY || rep->key_len != M2MSA_KEY_LEN) {
		local_msg_wipe(rep);
		return -EBADMSG;
	}
	k = libm2msa_key_new(rep);
	local_msg_wipe(rep);
	if (!k)
		return -ENOMEM;
	*ret = k;
	return 0;
}

int m2msa_get_peer_key(struct m2msa *h, const char *ae_id, const char *target,
		       struct m2msa_key **ret)
{
	struct local_msg req = { .type = LOCAL_MSG_GET_PEER_KEY }, rep;
	char cse[WIRE_ID_MAX + 1], ae[WIRE_ID_MAX + 1];
	int r;

	if (!h || !ret || !ae_ok(ae_id) || !target || strlen(target) > WIRE_TARGET_MAX ||
	    wire_target_split(target, cse, ae) < 0)
		return -EINVAL;
	snprintf(req.ae_id, sizeof(req.ae_id), "%s", ae_id);
	snprintf(req.target, sizeof(req.target), "%s", target);
	r = libm2msa_request(h, &req, &rep);
	if (r < 0)
		return r;
	if (strcmp(rep.ae_id, ae_id) != 0 || strcmp(rep.target, target) != 0) {
		local_msg_wipe(&rep);
		return -EBADMSG;
	}
	return take(&rep, ret);
}

int m2msa_resolve_key(struct m2msa *h, const char *ae_id, const char *key_id,
		      struct m2msa_key **ret)
{
	struct local_msg req = { .type = LOCAL_MSG_RESOLVE_KEY }, rep;
	int r;

	if (!h || !ret || !ae_ok(ae_id) || !key_id || !*key_id ||
	    strlen(key_id) > WIRE_KEY_ID_MAX)
		return -EINVAL;
	snprintf(req.ae_id, sizeof(req.ae_id), "%s", ae_id);
	snprintf(req.key_id, sizeof(req.key_id), "%s", key_id);
	r = libm2msa_request(h, &req, &rep);
	if (r < 0)
		return r;
	if (strcmp(rep.key_id, key_id) != 0) {
		local_msg_wipe(&rep);
		return -EBADMSG;
	}
	return take(&rep, ret);
}
