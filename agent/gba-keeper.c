/* SPDX-License-Identifier: Apache-2.0 */
/* Keeping the node's GBA bootstrap fresh: Ub off the loop, Ks_NAF into the slot, renewal before Ks ends. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/backoff.h"
#include "agent/gba-boot.h"
#include "agent/gba-keeper.h"
#include "agent/gba-slot.h"
#include "common/crypto.h"
#include "common/log.h"
#include "common/loop.h"
#include "gba/datetime.h"
#include "tpm/keystore.h"
#include "usim/usim.h"

struct gba_keeper {
	const struct agent_conf *conf;
	struct loop *loop;
	gba_keeper_fn fn;
	void *userdata;

	bool have_slot; /* slot read from state_dir/gba */
	struct gba_slot slot;
	int64_t issued; /* when this process saw the slot made (or read it), epoch s */
	uint64_t renew_at; /* epoch ms, drawn once per slot */
	bool renew_due;
	struct tpm_key *key;
	struct kdf_prf prf;

	struct gba_boot *boot;
	struct usim *usim;
	struct tpm_ctx *t;
	char node_id[WIRE_ID_MAX + 1];

	struct backoff backoff;
	uint64_t retry_at; /* epoch ms, 0: none */
	struct loop_watch *timer; /* CLOCK_REALTIME: renewal or retry */
	char last_error[512];
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Renewal at issue + lifetime * U(0.50, 0.60); the slot counts as unusable past 0.90. */
static uint64_t renew_at_ms(const struct gba_keeper *k)
{
	uint64_t life, u = 0;

	if (!k->have_slot || k->slot.expiry <= k->issued)
		return 0;
	life = (uint64_t)(k->slot.expiry - k->issued) * 1000;
	(void)crypto_random(&u, sizeof(u));
	return (uint64_t)k->issued * 1000 + life * (500 + u % 101) / 1000;
}

static bool slot_usable(const struct gba_keeper *k, uint64_t now)
{
	uint64_t life;

	if (!k->have_slot || k->slot.expiry <= k->issued)
		return false;
	life = (uint64_t)(k->slot.expiry - k->issued) * 1000;
	return now < (uint64_t)k->issued * 1000 + life * 9 / 10;
}

/* One timer: the retry after a failure, else the renewal; none while a bootstrap runs. */
static void arm(struct gba_keeper *k)
{
	uint64_t at = k->boot ? 0 : k->retry_at ? k->retry_at : k->renew_at;

	(void)loop_timer_set(k->timer, at, 0, at ? LOOP_TIMER_ABSOLUTE : 0);
}

static void on_timer(struct loop_watch *w, bool clock_set, void *userdata)
{
	struct gba_keeper *k = userdata;

	if (k->retry_at && now_ms() >= k->retry_at)
		k->retry_at = 0;
	else if (k->renew_at && now_ms() >= k->renew_at) {
		k->renew_at = 0; /* fires once; gba_keeper_due() says so until a bootstrap starts */
		k->renew_due = true;
	}
	if (k->fn)
		k->fn(k->userdata); /* the manager looks again and bootstraps when due */
}

static void read_slot(struct gba_keeper *k)
{
	char err[512] = "";
	int r = gba_slot_read(k->conf->state_dir, &k->slot, err, sizeof(err));

	k->have_slot = r == 0 && k->slot.expiry > (int64_t)time(NULL);
	if (r < 0 && r != -ENOENT)
		log_warning("%s", err);
	/* A slot read back from disk: its issue time is unknown; count from now. */
	k->issued = (int64_t)time(NULL);
	k->renew_at = renew_at_ms(k);
}

int gba_keeper_new(const struct agent_conf *conf, struct loop *loop, uint64_t seed,
		   gba_keeper_fn fn, void *userdata, struct gba_keeper **ret)
{
	struct gba_keeper *k = calloc(1, sizeof(*k));
	int r;

	if (!k)
		return -ENOMEM;
	k->conf = conf, k->loop = loop, k->fn = fn, k->userdata = userdata;
	r = backoff_init(&k->backoff, conf->backoff_min * 1000, conf->backoff_max * 1000, seed);
	if (r >= 0)
		r = loop_add_timer(loop, CLOCK_REALTIME, on_timer, k, &k->timer);
	if (r < 0) {
		free(k);
		return r;
	}
	read_slot(k);
	arm(k);
	*ret = k;
	return 0;
}

void gba_keeper_drop_tpm(struct gba_keeper *k)
{
	if (!k)
		return;
	gba_boot_free(k->boot);
	k->boot = NULL;
	usim_free(k->usim);
	k->usim = NULL;
	tpm_key_free(k->key);
	k->key = NULL;
	k->t = NULL;
}

void gba_keeper_free(struct gba_keeper *k)
{
	if (!k)
		return;
	gba_keeper_drop_tpm(k);
	loop_remove(k->timer);
	free(k);
}

void gba_keeper_set_conf(struct gba_keeper *k, const struct agent_conf *conf)
{
	k->conf = conf;
	(void)backoff_set_bounds(&k->backoff, conf->backoff_min * 1000, conf->backoff_max * 1000);
}

int gba_keeper_km(struct gba_keeper *k, struct tpm_ctx *t, const char **ret_btid,
		  const struct kdf_prf **ret_prf, uint64_t *ret_expiry)
{
	int r;

	if (!slot_usable(k, now_ms()))
		return -ENOENT;
	if (!k->key || k->t != t) {
		tpm_key_free(k->key);
		k->key = NULL;
		r = gba_slot_load_key(t, k->conf->state_dir, &k->key);
		if (r < 0) {
			log_warning("cannot load the gba Km (Ks_NAF) from %s/" GBA_SLOT_DIR ": %s; "
				    "bootstrapping again",
				    k->conf->state_dir, tpm_last_error(t));
			k->have_slot = false;
			return -ENOENT;
		}
		k->t = t;
		tpm_key_prf(k->key, &k->prf);
	}
	*ret_btid = k->slot.btid;
	*ret_prf = &k->prf;
	*ret_expiry = (uint64_t)k->slot.expiry;
	return 0;
}

static void boot_failed(struct gba_keeper *k, const char *msg)
{
	uint64_t delay = backoff_next(&k->backoff);

	snprintf(k->last_error, sizeof(k->last_error), "%s", msg);
	k->retry_at = now_ms() + delay;
	log_warning("GBA bootstrap with %s failed: %s; next try in %llu s (other methods are "
		    "still offered)",
		    k->conf->gba_bsf_url, msg, (unsigned long long)((delay + 999) / 1000));
}

static void on_boot_done(int r, struct gba_ub_result *res, const char *err, void *userdata)
{
	struct gba_keeper *k = userdata;
	const char *impi = k->conf->gba_impi ? k->conf->gba_impi : usim_impi(k->usim);
	char msg[512] = "";
	char when[GBA_TIME_TEXT_LEN + 1] = "";

	gba_boot_free(k->boot);
	k->boot = NULL;
	if (r == 0) {
		tpm_key_free(k->key); /* the old Ks_NAF; associations keep their own Kc */
		k->key = NULL;
		r = gba_slot_store(k->t, k->conf->state_dir, k->node_id, res, impi,
				   k->conf->server_name, msg, sizeof(msg));
	} else {
		snprintf(msg, sizeof(msg), "%s", err && *err ? err : strerror(-r));
	}
	usim_free(k->usim);
	k->usim = NULL;
	if (r < 0) {
		boot_failed(k, msg);
	} else {
		read_slot(k);
		backoff_reset(&k->backoff);
		k->retry_at = 0;
		k->last_error[0] = '\0';
		(void)gba_time_format(k->slot.expiry, when);
		log_notice("GBA bootstrap done: B-TID %s, Ks_NAF for %s in the TPM until %s",
			   k->slot.btid, k->slot.naf, when);
	}
	arm(k);
	if (k->fn)
		k->fn(k->userdata);
}

static int open_usim(struct gba_keeper *k, struct tpm_ctx *t, char *err, size_t err_len)
{
	if (strcmp(k->conf->gba_usim, "pcsc") == 0)
		return usim_pcsc_open(k->conf->gba_reader, k->conf->gba_impi, &k->usim, err,
				      err_len);
	return usim_tpm_new(t, k->conf->state_dir, &k->usim, err, err_len);
}

int gba_keeper_bootstrap(struct gba_keeper *k, struct tpm_ctx *t, const char *node_id,
			 const char *why)
{
	struct gba_boot_params p = {
		.bsf_url = k->conf->gba_bsf_url,
		.bsf_ca = k->conf->gba_bsf_ca,
		.timeout_ms = (long)k->conf->gba_timeout * 1000,
		.impi = k->conf->gba_impi,
		.naf_fqdn = k->conf->server_name,
	};
	char err[512] = "";
	int r;

	if (k->boot)
		return 0;
	if (k->retry_at && now_ms() < k->retry_at)
		return -EAGAIN;
	snprintf(k->node_id, sizeof(k->node_id), "%s", node_id);
	k->t = t;
	r = open_usim(k, t, err, sizeof(err));
	if (r >= 0)
		r = gba_boot_start(k->loop, &p, k->usim, on_boot_done, k, &k->boot, err,
				   sizeof(err));
	if (r < 0) {
		usim_free(k->usim);
		k->usim = NULL;
		boot_failed(k, err[0] ? err : strerror(-r));
		arm(k);
		return r;
	}
	k->renew_due = false;
	log_info("GBA bootstrap with %s (%s)", k->conf->gba_bsf_url, why);
	arm(k);
	return 0;
}

bool gba_keeper_running(const struct gba_keeper *k)
{
	return k->boot != NULL;
}

bool gba_keeper_due(const struct gba_keeper *k)
{
	uint64_t now = now_ms();

	if (k->boot || (k->retry_at && now < k->retry_at))
		return false;
	return !slot_usable(k, now) || k->renew_due || (k->renew_at && now >= k->renew_at);
}

void gba_keeper_invalidate(struct gba_keeper *k)
{
	if (k->have_slot)
		log_info("the MAS refused the proof made with the Ks_NAF of B-TID %s (it does not hold it any more): bootstrapping again", k->slot.btid);
	k->have_slot = false;
	k->renew_at = 0;
	k->retry_at = 0;
	tpm_key_free(k->key);
	k->key = NULL;
	arm(k);
}

const char *gba_keeper_last_error(const struct gba_keeper *k)
{
	return k->last_error;
}
