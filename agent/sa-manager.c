/* SPDX-License-Identifier: Apache-2.0 */
/* m2msad's association state machine: establish, rekey, back off, expire (sa-manager.h). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/backoff.h"
#include "agent/establish.h"
#include "agent/gba-keeper.h"
#include "agent/node-creds.h"
#include "agent/sa-manager-int.h"
#include "agent/sa-manager.h"
#include "common/crypto.h"
#include "common/log.h"
#include "common/loop.h"
#include "common/secret.h"

static uint64_t clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t mono_ms(void)
{
	return clock_ms(CLOCK_BOOTTIME);
}

uint64_t sa_manager_wall_ms(void)
{
	return clock_ms(CLOCK_REALTIME);
}

static void set_state(struct sa_manager *m, enum sa_manager_state s)
{
	if (m->state != s)
		log_debug("state %s -> %s", sa_manager_state_names[m->state], sa_manager_state_names[s]);
	m->state = s;
	m->changed = true;
}

static void emit(struct sa_manager *m, enum sa_manager_event_type type, const struct sa_assoc *a,
		 bool with_keys, const char *reason)
{
	struct sa_manager_event ev = { .type = type, .reason = reason };

	if (!m->event_fn)
		return;
	if (a) {
		ev.key = (struct sa_manager_key){
			.key_id = a->key_id,
			.kc = with_keys && a->kc ? a->kc->data : NULL,
			.ae_root = with_keys && a->ae_root ? a->ae_root->data : NULL,
			.expiry = a->expiry,
			.suite = a->suite,
		};
	}
	m->event_fn(&ev, m->event_userdata);
}

void sa_manager_set_event_handler(struct sa_manager *m, sa_manager_event_fn fn, void *userdata)
{
	m->event_fn = fn;
	m->event_userdata = userdata;
}

static void assoc_free(struct sa_assoc *a)
{
	if (!a)
		return;
	secret_free(a->kc);
	secret_free(a->ae_root);
	secret_wipe(a, sizeof(*a));
	free(a);
}

bool sa_manager_assoc_valid(const struct sa_assoc *a, uint64_t now_wall)
{
	return a && a->expiry * 1000 > now_wall;
}

static void abort_op(struct sa_manager *m)
{
	/* Out of the loop before establish_op_free() closes the fd. */
	loop_remove(m->op_watch);
	m->op_watch = NULL;
	establish_op_free(m->op);
	m->op = NULL;
	m->op_deadline = 0;
}

static void drop_keys(struct sa_manager *m)
{
	assoc_free(m->current);
	assoc_free(m->next);
	m->current = m->next = NULL;
	m->rekey_at = 0;
}

static void on_mono_timer(struct loop_watch *w, bool clock_set, void *userdata);
static void on_wall_timer(struct loop_watch *w, bool clock_set, void *userdata);
static void on_gba(void *userdata);

int sa_manager_new(const struct agent_conf *conf, uint64_t seed, struct loop *loop,
		   struct sa_manager **ret)
{
	_cleanup_(sa_manager_freep) struct sa_manager *m = calloc(1, sizeof(*m));
	int r;

	if (!m)
		return -ENOMEM;
	m->conf = conf;
	m->state = SA_MANAGER_IDLE;
	m->loop = loop;
	r = backoff_init(&m->backoff, conf->backoff_min * 1000, conf->backoff_max * 1000, seed);
	if (r < 0)
		return r;
	r = node_creds_new(conf, &m->creds);
	if (r < 0)
		return r;
	if (agent_conf_offers(conf, WIRE_METHOD_GBA)) {
		r = gba_keeper_new(conf, loop, seed ^ 0x67626171u, on_gba, m, &m->gba);
		if (r < 0)
			return r;
	}
	r = loop_add_timer(loop, CLOCK_BOOTTIME, on_mono_timer, m, &m->t_mono);
	if (r < 0)
		return r;
	r = loop_add_timer(loop, CLOCK_REALTIME, on_wall_timer, m, &m->t_wall);
	if (r < 0)
		return r;
	*ret = m;
	m = NULL;
	return 0;
}

void sa_manager_free(struct sa_manager *m)
{
	if (!m)
		return;
	abort_op(m);
	drop_keys(m);
	loop_remove(m->t_mono);
	loop_remove(m->t_wall);
	gba_keeper_free(m->gba);
	node_creds_free(m->creds);
	free(m);
}

/* Rekey at issue + lifetime * U(0.75, 0.85) of the newest key. */
static void schedule_rekey(struct sa_manager *m, const struct sa_assoc *a)
{
	uint64_t exp_ms = a->expiry * 1000, life, frac;
	uint32_t u = 0;

	if (exp_ms <= a->issued_ms) {
		m->rekey_at = a->issued_ms;
		return;
	}
	life = exp_ms - a->issued_ms;
	(void)crypto_random(&u, sizeof(u));
	frac = 750 + (uint64_t)(u % 101); /* per mille, 750..850 */
	m->rekey_at = a->issued_ms + life * frac / 1000;
}

/* The TPM is suspect after a failure that is neither the MAS's answer nor the network's. */
static bool failure_may_be_tpm(int r, const struct m2msa_err *eerr)
{
	if (eerr && eerr->wire_code != 0)
		return false;
	switch (r) {
	case -ECONNREFUSED:
	case -EHOSTUNREACH:
	case -ENETUNREACH:
	case -ETIMEDOUT:
	case -EPERM:
	case -EPROTONOSUPPORT:
	case -EBADMSG:
		return false;
	default:
		return true;
	}
}

static void begin_attempt(struct sa_manager *m);

static void fail(struct sa_manager *m, int r, const char *reason, bool tpm_suspect)
{
	uint64_t delay, now = mono_ms();
	bool rekey = sa_manager_assoc_valid(m->current, sa_manager_wall_ms()) || m->next;
	const char *what = rekey ? "rekey" : "establishment";

	abort_op(m);
	if (m->gba && tpm_suspect)
		gba_keeper_drop_tpm(m->gba); /* before its TPM context goes */
	if (node_creds_failed(m->creds, tpm_suspect))
		log_info("closing the TPM connection; it is reopened on the next attempt");
	/* Another MAS instance may serve us: try the next one at once, backoff after the last. */
	if (!tpm_suspect && agent_conf_failover_helps(r) &&
	    m->endpoint + 1 < m->conf->n_mas_addresses) {
		m->endpoint++;
		log_warning("%s at the MAS %s failed: %s; trying the next MAS, %s", what,
			    m->conf->mas_addresses[m->endpoint - 1], reason,
			    m->conf->mas_addresses[m->endpoint]);
		m->retry_at = now;
		m->retry_at_wall = sa_manager_wall_ms() / 1000;
		set_state(m, SA_MANAGER_BACKOFF);
		return;
	}
	m->endpoint = 0;
	m->failures++;
	m->last_failure_time = (uint64_t)time(NULL);
	snprintf(m->last_failure, sizeof(m->last_failure), "%s", reason);
	delay = backoff_next(&m->backoff);
	m->retry_at = now + delay;
	m->retry_at_wall = (sa_manager_wall_ms() + delay + 999) / 1000;
	log_warning("%s failed (attempt %u): %s; retrying in %llu.%03llu s (backoff ceiling %llu s)",
		    what, m->failures, reason, (unsigned long long)(delay / 1000),
		    (unsigned long long)(delay % 1000),
		    (unsigned long long)(m->backoff.ceiling_ms / 1000));
	set_state(m, SA_MANAGER_BACKOFF);
	emit(m, SA_MANAGER_EVENT_FAILED, NULL, false, reason);
}

static void on_op_io(struct loop_watch *w, int fd, uint32_t events, void *userdata);

/* Method gba: start a bootstrap when the keeper says one is due (no usable slot, renewal). */
static void gba_tick(struct sa_manager *m, const char *why)
{
	struct m2msa_err err = { .wire_code = 0 };

	if (!m->gba || !gba_keeper_due(m->gba))
		return;
	if (node_creds_open_tpm(m->creds, &err) < 0) {
		log_warning("cannot bootstrap GBA: %s", err.msg);
		return;
	}
	(void)gba_keeper_bootstrap(m->gba, node_creds_tpm(m->creds),
				   m->conf->node_id ? m->conf->node_id : node_creds_node_id(m->creds),
				   why);
}

/* The methods this attempt offers: gba only with a usable bootstrap (else one is started). */
static size_t attempt_methods(struct sa_manager *m, uint8_t methods[static WIRE_METHODS_MAX],
			      struct establish_params *p)
{
	size_t n = 0;

	for (size_t i = 0; i < m->conf->n_methods; i++) {
		if (m->conf->methods[i] == WIRE_METHOD_GBA &&
		    (!m->gba || gba_keeper_km(m->gba, node_creds_tpm(m->creds), &p->btid, &p->gba_km,
				  &p->gba_expiry) < 0)) {
			gba_tick(m, "no usable bootstrap");
			continue;
		}
		methods[n++] = m->conf->methods[i];
	}
	return n;
}

static void begin_attempt(struct sa_manager *m)
{
	struct m2msa_err err = { .wire_code = 0 };
	struct establish_params p;
	uint8_t methods[WIRE_METHODS_MAX];
	bool rekey = sa_manager_assoc_valid(m->current, sa_manager_wall_ms()) || m->next;
	bool tpm_suspect = false;
	int r;

	abort_op(m);
	m->retry_at = 0;
	m->retry_at_wall = 0;
	if (m->endpoint >= m->conf->n_mas_addresses) /* a reload shortened the list */
		m->endpoint = 0;
	r = node_creds_prepare(m->creds, &err, &tpm_suspect);
	if (r < 0) {
		fail(m, r, err.msg, tpm_suspect);
		return;
	}
	p = (struct establish_params){
		.mas_address = m->conf->mas_addresses[m->endpoint],
		.server_name = m->conf->server_name,
		.node_id = node_creds_node_id(m->creds),
		.methods = methods,
		.timeout_ms = (int)(m->conf->timeout * 1000),
	};
	p.n_methods = attempt_methods(m, methods, &p);
	if (p.n_methods == 0) {
		err_set(&err, -EAGAIN, "method gba has no bootstrap yet (%s)",
			 !m->gba ? "not set up"
			 : gba_keeper_running(m->gba) ? "bootstrapping with the BSF"
			 : gba_keeper_last_error(m->gba)[0] ? gba_keeper_last_error(m->gba)
							    : "waiting to retry");
		/* Not the MAS's doing: no failover to the next one, backoff from the first. */
		m->endpoint = m->conf->n_mas_addresses - 1;
		fail(m, -EAGAIN, err.msg, false);
		return;
	}
	r = establish_op_new(node_creds_tls(m->creds), &p, node_creds_km(m->creds), &m->op, &err);
	if (r < 0) {
		fail(m, r, err.msg, failure_may_be_tpm(r, &err));
		return;
	}
	r = loop_add_io(m->loop, establish_op_fd(m->op), establish_op_events(m->op), on_op_io, m,
			&m->op_watch);
	if (r < 0) {
		err_set(&err, r, "cannot watch the connection to the MAS: %s", strerror(-r));
		fail(m, r, err.msg, false);
		return;
	}
	m->op_deadline = mono_ms() + m->conf->timeout * 1000;
	log_info("%s with the MAS at %s", rekey ? "rekeying" : "establishing",
		 m->conf->mas_addresses[m->endpoint]);
	set_state(m, rekey ? SA_MANAGER_REKEYING : SA_MANAGER_ESTABLISHING);
}

static void sync_timers(struct sa_manager *m);

void sa_manager_start(struct sa_manager *m)
{
	if (m->state == SA_MANAGER_IDLE)
		begin_attempt(m);
	sync_timers(m);
}

static void on_success(struct sa_manager *m, struct establish_result *res)
{
	struct sa_assoc *a = calloc(1, sizeof(*a));
	uint64_t now = sa_manager_wall_ms();
	char exp[16], rk[16], red[SECRET_REDACT_MAX];

	abort_op(m);
	m->endpoint = 0; /* the next attempt starts again at the first MAS */
	if (!a) {
		establish_result_clear(res);
		fail(m, -ENOMEM, "out of memory", false);
		return;
	}
	snprintf(a->key_id, sizeof(a->key_id), "%s", res->key_id);
	a->kc = res->kc;
	a->ae_root = res->ae_root;
	res->kc = res->ae_root = NULL;
	a->issued_ms = now;
	a->expiry = res->expiry;
	a->method = res->method;
	snprintf(a->suite, sizeof(a->suite), "%s", res->suite);
	establish_result_clear(res);

	if (!sa_manager_assoc_valid(m->current, now)) {
		/* Nothing usable: the new key is current at once. */
		assoc_free(m->current);
		m->current = m->next;
		m->next = NULL;
		if (!sa_manager_assoc_valid(m->current, now)) {
			assoc_free(m->current);
			m->current = a;
		} else {
			m->next = a;
		}
	} else if (m->next) {
		/* Keep the two newest: the oldest goes. */
		log_info("key %s replaced by its successor %s before expiry", m->current->key_id,
			 m->next->key_id);
		assoc_free(m->current);
		m->current = m->next;
		m->next = a;
	} else {
		m->next = a;
	}
	schedule_rekey(m, a);
	backoff_reset(&m->backoff);
	m->failures = 0;
	m->retry_at = 0;
	m->retry_at_wall = 0;
	sa_manager_fmt_time(a->expiry, exp, sizeof(exp));
	sa_manager_fmt_time(m->rekey_at / 1000, rk, sizeof(rk));
	log_notice("established key %s (%s, %s), expires %s, next rekey %s", a->key_id,
		   wire_method_to_string(a->method), a->suite, exp, rk);
	log_debug("Kc for %s: %s", a->key_id, secret_redact(a->kc->len, red));
	if (m->next == a)
		log_info("key %s stays usable until it expires; %s takes over then",
			 m->current->key_id, a->key_id);
	set_state(m, SA_MANAGER_ESTABLISHED);
	emit(m, SA_MANAGER_EVENT_NEW_KEY, a, true, NULL);
}

static void on_op_io(struct loop_watch *w, int fd, uint32_t events, void *userdata)
{
	struct sa_manager *m = userdata;
	struct establish_result res = { .kc = NULL };
	struct m2msa_err eerr = { .wire_code = 0 };
	int r;

	r = establish_op_step(m->op, &res, &eerr);
	if (r == -EAGAIN) {
		m->op_deadline = mono_ms() + m->conf->timeout * 1000;
		(void)loop_io_set_events(m->op_watch, establish_op_events(m->op));
		sync_timers(m);
		return;
	}
	if (r < 0 && m->gba && establish_gba_refused(&eerr)) {
		/*
		 * The MAS refused the proof made with Ks_NAF: our B-TID is unknown to it
		 * or expired (it answers that like a wrong key), so bootstrap again at
		 * once; one Ub run per failed attempt, paced by the backoff.
		 */
		gba_keeper_invalidate(m->gba);
		fail(m, r, eerr.msg, false);
		gba_tick(m, "the MAS refused the proof made with Ks_NAF");
	} else if (r < 0) {
		fail(m, r, eerr.msg[0] ? eerr.msg : strerror(-r), failure_may_be_tpm(r, &eerr));
	} else {
		on_success(m, &res);
	}
	sync_timers(m);
}

/* The keeper finished a bootstrap, or a renewal or retry is due. */
static void on_gba(void *userdata)
{
	struct sa_manager *m = userdata;
	const struct kdf_prf *prf;
	const char *btid;
	uint64_t expiry;

	gba_tick(m, "renewal due");
	/* A node that waits for its first key goes at once when the bootstrap lands. */
	if (!m->op && m->state == SA_MANAGER_BACKOFF &&
	    !sa_manager_assoc_valid(m->current, sa_manager_wall_ms()) && node_creds_tpm(m->creds) &&
	    gba_keeper_km(m->gba, node_creds_tpm(m->creds), &btid, &prf, &expiry) == 0)
		begin_attempt(m);
	sync_timers(m);
}

/* Drop expired keys; promote the successor. Returns true if the node lost its last key. */
static bool expire_keys(struct sa_manager *m, uint64_t now)
{
	char exp[16];

	if (m->next && !sa_manager_assoc_valid(m->next, now)) {
		sa_manager_fmt_time(m->next->expiry, exp, sizeof(exp));
		log_warning("key %s expired at %s", m->next->key_id, exp);
		emit(m, SA_MANAGER_EVENT_EXPIRED, m->next, false, NULL);
		assoc_free(m->next);
		m->next = NULL;
		m->changed = true;
	}
	if (m->current && !sa_manager_assoc_valid(m->current, now)) {
		sa_manager_fmt_time(m->current->expiry, exp, sizeof(exp));
		emit(m, SA_MANAGER_EVENT_EXPIRED, m->current, false, NULL);
		if (m->next) {
			log_info("key %s expired at %s; its successor %s is in use", m->current->key_id,
				 exp, m->next->key_id);
			assoc_free(m->current);
			m->current = m->next;
			m->next = NULL;
			m->changed = true;
		} else {
			log_warning("key %s expired without a successor at %s", m->current->key_id, exp);
			assoc_free(m->current);
			m->current = NULL;
			m->rekey_at = 0;
			m->changed = true;
			return true;
		}
	}
	return false;
}

static void on_timer(struct sa_manager *m)
{
	uint64_t now = sa_manager_wall_ms(), mono = mono_ms();
	bool lost = expire_keys(m, now);

	if (m->op && m->op_deadline && mono >= m->op_deadline) {
		char msg[128];

		snprintf(msg, sizeof(msg), "no answer from the MAS at %s within %llu s",
			 m->conf->mas_addresses[m->endpoint], (unsigned long long)m->conf->timeout);
		fail(m, -ETIMEDOUT, msg, false);
		return;
	}
	switch (m->state) {
	case SA_MANAGER_ESTABLISHED:
		if (lost || (m->rekey_at && now >= m->rekey_at))
			begin_attempt(m);
		break;
	case SA_MANAGER_REKEYING:
		if (lost)
			set_state(m, SA_MANAGER_ESTABLISHING);
		break;
	case SA_MANAGER_BACKOFF:
		if (m->retry_at && mono >= m->retry_at)
			begin_attempt(m);
		break;
	default:
		break;
	}
}

static uint64_t next_mono_ms(const struct sa_manager *m)
{
	if (m->op)
		return m->op_deadline;
	if (m->state == SA_MANAGER_BACKOFF)
		return m->retry_at;
	return 0;
}

static uint64_t min_nonzero(uint64_t a, uint64_t b)
{
	if (!a)
		return b;
	if (!b)
		return a;
	return a < b ? a : b;
}

static uint64_t next_wall_ms(const struct sa_manager *m)
{
	uint64_t t = 0;

	if (m->current)
		t = min_nonzero(t, m->current->expiry * 1000);
	if (m->next)
		t = min_nonzero(t, m->next->expiry * 1000);
	if (m->state == SA_MANAGER_ESTABLISHED)
		t = min_nonzero(t, m->rekey_at);
	return t;
}

/*
 * Arm the two timers for what is due next: mono deadlines are CLOCK_BOOTTIME ms,
 * wall instants CLOCK_REALTIME ms; a past instant fires at once. Re-arm only what
 * changed: this runs after every event, key service requests too.
 */
static void sync_timers(struct sa_manager *m)
{
	uint64_t mono = next_mono_ms(m), wall = next_wall_ms(m);

	if (mono != m->armed_mono || !m->armed) {
		(void)loop_timer_set(m->t_mono, mono, 0, LOOP_TIMER_ABSOLUTE);
		m->armed_mono = mono;
	}
	if (wall != m->armed_wall || !m->armed) {
		(void)loop_timer_set(m->t_wall, wall, 0,
				     LOOP_TIMER_ABSOLUTE | LOOP_TIMER_CANCEL_ON_SET);
		m->armed_wall = wall;
	}
	m->armed = true;
	m->synced_mono = mono_ms();
	m->synced_offset = (int64_t)sa_manager_wall_ms() - (int64_t)m->synced_mono;
}

/*
 * Whether the wall clock was set since the last sync_timers(). A jump past the armed
 * instant can reach us as a plain expiry of the CLOCK_REALTIME timerfd, before the kernel
 * marks it cancelled (the two happen on different CPUs), so the offset between the wall
 * clock and CLOCK_BOOTTIME is compared as well: a change of more than 2 s plus 0.1 % of the
 * time since (room for NTP slewing) is a set clock.
 */
static bool wall_clock_was_set(const struct sa_manager *m, bool cancelled)
{
	uint64_t mono = mono_ms();
	int64_t off = (int64_t)sa_manager_wall_ms() - (int64_t)mono;
	int64_t moved = off > m->synced_offset ? off - m->synced_offset : m->synced_offset - off;

	return cancelled || moved > 2000 + (int64_t)((mono - m->synced_mono) / 1000);
}

static void on_mono_timer(struct loop_watch *w, bool clock_set, void *userdata)
{
	struct sa_manager *m = userdata;

	m->armed = false;
	on_timer(m);
	sync_timers(m);
}

static void on_wall_timer(struct loop_watch *w, bool clock_set, void *userdata)
{
	struct sa_manager *m = userdata;

	m->armed = false;
	if (wall_clock_was_set(m, clock_set))
		log_info("the wall clock was set; re-checking key expiry");
	on_timer(m);
	sync_timers(m);
}

void sa_manager_kick(struct sa_manager *m, const char *why)
{
	if (m->state == SA_MANAGER_BACKOFF) {
		log_notice("%s: retrying now instead of waiting out the backoff", why);
		begin_attempt(m);
	} else if (m->op) {
		log_notice("%s: restarting the exchange in flight", why);
		begin_attempt(m);
	} else {
		log_debug("%s: nothing to do in state %s", why, sa_manager_state_names[m->state]);
	}
	sync_timers(m);
}

static bool str_differs(const char *a, const char *b)
{
	if (!a || !b)
		return a != b;
	return strcmp(a, b) != 0;
}

void sa_manager_reconfigure(struct sa_manager *m, const struct agent_conf *c)
{
	const struct agent_conf *o = m->conf;
	bool identity = str_differs(o->node_id, c->node_id) || str_differs(o->state_dir, c->state_dir) ||
			str_differs(o->tcti, c->tcti) || o->n_methods != c->n_methods ||
			memcmp(o->methods, c->methods, o->n_methods) != 0 ||
			str_differs(o->mas_address, c->mas_address) ||
			str_differs(o->mas_ca, c->mas_ca) || str_differs(o->server_name, c->server_name);

	m->conf = c;
	(void)backoff_set_bounds(&m->backoff, c->backoff_min * 1000, c->backoff_max * 1000);
	if (m->gba)
		gba_keeper_set_conf(m->gba, c);
	if (!identity) {
		log_info("configuration reloaded; node, TPM and MAS settings unchanged, associations kept");
		node_creds_set_conf(m->creds, c, false);
		sync_timers(m);
		return;
	}
	log_notice("configuration reloaded; node, TPM or MAS settings changed: dropping the "
		   "associations and establishing again");
	abort_op(m);
	if (m->current)
		emit(m, SA_MANAGER_EVENT_DROPPED, m->current, false, NULL);
	if (m->next)
		emit(m, SA_MANAGER_EVENT_DROPPED, m->next, false, NULL);
	drop_keys(m);
	gba_keeper_free(m->gba); /* the TPM context may change: start over from the slot */
	m->gba = NULL;
	if (agent_conf_offers(c, WIRE_METHOD_GBA) &&
	    gba_keeper_new(c, m->loop, (uint64_t)sa_manager_wall_ms(), on_gba, m, &m->gba) < 0)
		log_error("cannot set up method gba (out of memory?): it is not offered");
	node_creds_set_conf(m->creds, c, true);
	backoff_reset(&m->backoff);
	m->failures = 0;
	m->changed = true;
	if (m->state != SA_MANAGER_IDLE)
		begin_attempt(m);
	sync_timers(m);
}

bool sa_manager_want_key(struct sa_manager *m)
{
	uint64_t now = sa_manager_wall_ms();

	if (m->op)
		return true;
	if (sa_manager_assoc_valid(m->current, now) || sa_manager_assoc_valid(m->next, now))
		return false;
	log_info("a local client asked for a key and the node holds none: establishing now");
	begin_attempt(m);
	sync_timers(m);
	return m->op != NULL;
}

void sa_manager_rekey(struct sa_manager *m, const char *why)
{
	if (m->op) {
		log_info("%s: an exchange is already in flight", why);
		return;
	}
	log_notice("%s: rekeying now", why);
	begin_attempt(m);
	sync_timers(m);
}

int sa_manager_peer_op_new(struct sa_manager *m, const struct wire_msg *req,
			   struct establish_op **ret, int *ret_timeout_ms, struct m2msa_err *err)
{
	struct establish_params p;
	uint8_t methods[WIRE_METHODS_MAX];
	bool tpm_suspect = false;
	int r;

	r = node_creds_prepare(m->creds, err, &tpm_suspect);
	if (r < 0) {
		(void)node_creds_failed(m->creds, tpm_suspect);
		return r;
	}
	*ret_timeout_ms = (int)(m->conf->timeout * 1000);
	p = (struct establish_params){
		.mas_address = m->conf->mas_address,
		.server_name = m->conf->server_name,
		.node_id = node_creds_node_id(m->creds),
		.methods = methods,
		.timeout_ms = *ret_timeout_ms,
		.peer_request = req,
	};
	/* As for an establishment: gba only with a usable bootstrap (B-TID and Ks_NAF). */
	p.n_methods = attempt_methods(m, methods, &p);
	if (p.n_methods == 0)
		return err_set(err, -EAGAIN, "method gba has no bootstrap yet (%s)",
			       !m->gba ? "not set up"
			       : gba_keeper_running(m->gba) ? "bootstrapping with the BSF"
							    : "waiting to retry");
	return establish_op_new(node_creds_tls(m->creds), &p, node_creds_km(m->creds), ret, err);
}

/* At most one verifying rekey per this many ms for refused end-to-end proofs. */
#define PEER_VERIFY_SPACING_MS (60 * 1000)

void sa_manager_peer_op_failed(struct sa_manager *m, const struct m2msa_err *err)
{
	uint64_t now = mono_ms();

	/*
	 * Only a refused gba proof says something about Ks_NAF (an "expired" here
	 * is the pairwise key's). It does not throw the bootstrap away itself: it
	 * asks for a rekey, whose own refusal bootstraps again under the
	 * establishment backoff; so local requests can never drive Ub runs.
	 */
	if (!m->gba || err->method != WIRE_METHOD_GBA ||
	    (err->wire_code != WIRE_ERR_AUTH_FAILED && err->wire_code != WIRE_ERR_RATE_LIMITED))
		return;
	if (m->state != SA_MANAGER_ESTABLISHED || m->op ||
	    (m->peer_verify_at && now - m->peer_verify_at < PEER_VERIFY_SPACING_MS))
		return;
	m->peer_verify_at = now;
	sa_manager_rekey(m, "the MAS refused an end-to-end proof made with Ks_NAF");
}
