/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the association manager tells others (sa-manager.h): the key to serve,
 * the status file's fields, the one-line description for logs and m2msactl,
 * the node ID. Reads only; the state machine is sa-manager.c.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "agent/node-creds.h"
#include "agent/sa-manager-int.h"
#include "agent/sa-manager.h"

const char *const sa_manager_state_names[_SA_MANAGER_STATE_MAX] = {
	[SA_MANAGER_IDLE] = "idle",
	[SA_MANAGER_ESTABLISHING] = "establishing",
	[SA_MANAGER_ESTABLISHED] = "established",
	[SA_MANAGER_REKEYING] = "rekeying",
	[SA_MANAGER_BACKOFF] = "backoff",
};

void sa_manager_fmt_time(uint64_t epoch, char *buf, size_t len)
{
	time_t t = (time_t)epoch;
	struct tm tm;

	if (!localtime_r(&t, &tm) || strftime(buf, len, "%H:%M:%S", &tm) == 0)
		snprintf(buf, len, "%llu", (unsigned long long)epoch);
}

int sa_manager_get_key(const struct sa_manager *m, struct sa_manager_key *ret)
{
	uint64_t now = sa_manager_wall_ms();
	const struct sa_assoc *a = sa_manager_assoc_valid(m->next, now) ? m->next : m->current;

	if (!sa_manager_assoc_valid(a, now) || !a->kc || !a->ae_root)
		return -ENOKEY;
	*ret = (struct sa_manager_key){
		.key_id = a->key_id,
		.kc = a->kc->data,
		.ae_root = a->ae_root->data,
		.expiry = a->expiry,
		.suite = a->suite,
	};
	return 0;
}


bool sa_manager_take_changed(struct sa_manager *m)
{
	bool c = m->changed;

	m->changed = false;
	return c;
}


void sa_manager_status(const struct sa_manager *m, struct agent_status *ret)
{
	struct agent_status st;

	memset(&st, 0, sizeof(st));
	snprintf(st.state, sizeof(st.state), "%s", sa_manager_state_names[m->state]);
	snprintf(st.node_id, sizeof(st.node_id), "%s", node_creds_node_id(m->creds));
	snprintf(st.mas, sizeof(st.mas), "%s", m->conf->mas_address);
	if (m->current) {
		snprintf(st.key_id, sizeof(st.key_id), "%s", m->current->key_id);
		st.expiry = m->current->expiry;
	}
	if (m->next) {
		snprintf(st.next_key_id, sizeof(st.next_key_id), "%s", m->next->key_id);
		st.next_expiry = m->next->expiry;
	}
	if (m->state == SA_MANAGER_ESTABLISHED && m->rekey_at)
		st.next_rekey = m->rekey_at / 1000; /* rounded down: always before expiry */
	if (m->state == SA_MANAGER_BACKOFF)
		st.retry_at = m->retry_at_wall;
	st.failures = m->failures;
	st.last_failure_time = m->last_failure_time;
	snprintf(st.last_failure_reason, sizeof(st.last_failure_reason), "%s", m->last_failure);
	st.updated = (uint64_t)time(NULL);
	*ret = st;
}


void sa_manager_describe(const struct sa_manager *m, char *buf, size_t len)
{
	const struct sa_assoc *a = m->next ? m->next : m->current;
	char t1[16], t2[16];

	switch (m->state) {
	case SA_MANAGER_ESTABLISHED:
		sa_manager_fmt_time(a ? a->expiry : 0, t1, sizeof(t1));
		sa_manager_fmt_time(m->rekey_at / 1000, t2, sizeof(t2));
		snprintf(buf, len, "established, key %s expires %s, next rekey %s",
			 a ? a->key_id : "?", t1, t2);
		break;
	case SA_MANAGER_REKEYING:
		sa_manager_fmt_time(a ? a->expiry : 0, t1, sizeof(t1));
		snprintf(buf, len, "rekeying with %s, key %s expires %s", m->conf->mas_address,
			 a ? a->key_id : "?", t1);
		break;
	case SA_MANAGER_BACKOFF:
		sa_manager_fmt_time(m->retry_at_wall, t1, sizeof(t1));
		if (a) {
			sa_manager_fmt_time(a->expiry, t2, sizeof(t2));
			snprintf(buf, len, "rekey failed %u times (%s), retry at %s; key %s expires %s",
				 m->failures, m->last_failure, t1, a->key_id, t2);
		} else {
			snprintf(buf, len, "no key: establishment failed %u times (%s), retry at %s",
				 m->failures, m->last_failure, t1);
		}
		break;
	case SA_MANAGER_ESTABLISHING:
		snprintf(buf, len, "establishing with %s", m->conf->mas_address);
		break;
	default:
		snprintf(buf, len, "idle");
		break;
	}
}


const char *sa_manager_node_id(const struct sa_manager *m)
{
	return node_creds_node_id(m->creds);
}
