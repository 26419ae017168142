/* SPDX-License-Identifier: Apache-2.0 */
/* One-time challenge table of the BSF (see pending.h). */
#include <errno.h>
#include <string.h>

#include "bsf/pending.h"
#include "common/secret.h"

struct bsf_pending_table {
	struct secret *mem; /* n_slots entries */
	size_t n;
};

static struct bsf_pending *slots(const struct bsf_pending_table *t)
{
	return (struct bsf_pending *)(void *)t->mem->data;
}

int bsf_pending_new(size_t n_slots, struct bsf_pending_table **ret)
{
	struct bsf_pending_table *t;
	int r;

	if (n_slots == 0)
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	r = secret_new(n_slots * sizeof(struct bsf_pending), &t->mem);
	if (r < 0) {
		free(t);
		return r;
	}
	t->n = n_slots;
	*ret = t;
	return 0;
}

void bsf_pending_free(struct bsf_pending_table *t)
{
	if (!t)
		return;
	secret_free(t->mem);
	free(t);
}

static void drop(struct bsf_pending *e)
{
	secret_wipe(e, sizeof(*e));
}

void bsf_pending_add(struct bsf_pending_table *t, const struct bsf_pending *p, uint64_t now_ms)
{
	struct bsf_pending *e = slots(t), *victim = NULL;

	for (size_t i = 0; i < t->n; i++) {
		if (e[i].nonce[0] && e[i].deadline_ms <= now_ms)
			drop(&e[i]);
		if (!e[i].nonce[0]) {
			if (!victim || victim->nonce[0])
				victim = &e[i];
		} else if (!victim || (victim->nonce[0] && e[i].deadline_ms < victim->deadline_ms)) {
			victim = &e[i];
		}
	}
	drop(victim);
	*victim = *p;
}

int bsf_pending_take(struct bsf_pending_table *t, const char *nonce, uint64_t now_ms,
		     struct bsf_pending *ret)
{
	struct bsf_pending *e = slots(t);

	if (!nonce[0] || strlen(nonce) > GBA_NONCE_TEXT_LEN)
		return -ENOENT;
	for (size_t i = 0; i < t->n; i++) {
		if (!e[i].nonce[0] || strcmp(e[i].nonce, nonce) != 0)
			continue;
		if (e[i].deadline_ms <= now_ms) {
			drop(&e[i]);
			return -ETIMEDOUT;
		}
		*ret = e[i];
		drop(&e[i]);
		return 0;
	}
	return -ENOENT;
}
