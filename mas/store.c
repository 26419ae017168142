/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The MAS node store, the part every backend shares (mas/store.h): argument
 * checks, schema creation and migration order, the master-key check, and the
 * sealing of keys at rest. A backend (mas/store-backend.h) sees only sealed blobs.
 *
 * Keys at rest are crypto_seal()ed (AES-256-GCM, random IV) under the master
 * key with the record's identity as additional data:
 *   nodes.km_sealed        aad = "node:" || node_id
 *   assocs.kc_sealed       aad = "assoc:" || KcID (16 bytes)
 *   assocs.ae_root_sealed  aad = "assoc-ae:" || KcID
 *   peer_keys.key_sealed   aad = "peer:" || id (16 bytes)
 * so a blob copied to another row or column fails to open (-EBADMSG).
 * meta "key_check" holds 32 zero bytes sealed with aad "m2msa-store-key-check":
 * opening with a master key that is not the store's fails with -EKEYREJECTED
 * instead of silently mixing keys in one store.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/crypto.h"
#include "common/secret.h"
#include "common/util.h"
#include "common/wire.h"
#include "mas/store-backend.h"
#include "mas/store.h"

#define AAD_MAX (16 + WIRE_ID_MAX)

static const char key_check_aad[] = "m2msa-store-key-check";

static const char *const node_state_names[_STORE_NODE_STATE_MAX] = {
	[STORE_NODE_ACTIVE] = "active",
	[STORE_NODE_REVOKED] = "revoked",
};

static const char *const backend_names[_STORE_BACKEND_MAX] = {
	[STORE_BACKEND_SQLITE] = "sqlite",
	[STORE_BACKEND_POSTGRESQL] = "postgresql",
};

const char *store_node_state_to_string(enum store_node_state st)
{
	if ((unsigned)st >= _STORE_NODE_STATE_MAX)
		return "unknown";
	return node_state_names[st];
}

int store_node_state_from_string(const char *text, enum store_node_state *ret)
{
	for (size_t i = 0; text && i < _STORE_NODE_STATE_MAX; i++)
		if (strcmp(text, node_state_names[i]) == 0) {
			*ret = (enum store_node_state)i;
			return 0;
		}
	return -EIO;
}

const char *store_backend_to_string(enum store_backend b)
{
	return (unsigned)b < _STORE_BACKEND_MAX ? backend_names[b] : "unknown";
}

int store_backend_from_string(const char *name, enum store_backend *ret)
{
	for (size_t i = 0; name && i < _STORE_BACKEND_MAX; i++)
		if (strcmp(name, backend_names[i]) == 0) {
			*ret = (enum store_backend)i;
			return 0;
		}
	return -EINVAL;
}

enum store_backend store_backend_for_location(const char *location)
{
	if (location && (strncmp(location, "postgresql://", 13) == 0 ||
			 strncmp(location, "postgres://", 11) == 0))
		return STORE_BACKEND_POSTGRESQL;
	return STORE_BACKEND_SQLITE;
}

void store_set_notify(struct store *s, store_notify_fn fn, void *userdata)
{
	s->notify = fn;
	s->notify_userdata = userdata;
}

void store_set_observer(struct store *s, store_observe_fn fn, void *userdata)
{
	s->observe = fn;
	s->observe_userdata = userdata;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * Report one operation that started at t0 and returned r; returns r. Not found
 * and a pairwise key refused for a revoked node are answers, not failures.
 */
static int observed(struct store *s, uint64_t t0, int r)
{
	if (s->observe)
		s->observe(now_ns() - t0, r < 0 && r != -ENOENT && r != -EKEYREVOKED,
			   s->observe_userdata);
	return r;
}

void store_notify(struct store *s, enum store_event ev, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!s->notify)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	s->notify(ev, msg, s->notify_userdata);
}

/* ---- validation and text forms ---- */

static bool methods_valid(const uint8_t *methods, size_t n)
{
	if (n == 0 || n > WIRE_METHODS_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (methods[i] < WIRE_METHOD_PSK || methods[i] >= _WIRE_METHOD_MAX)
			return false;
		for (size_t j = 0; j < i; j++)
			if (methods[j] == methods[i])
				return false;
	}
	return true;
}

/* "psk,pki" from a validated list. */
static void methods_to_text(const uint8_t *methods, size_t n, char *buf, size_t buf_len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && off < buf_len; i++)
		off += (size_t)snprintf(buf + off, buf_len - off, "%s%s", i ? "," : "",
					wire_method_to_string(methods[i]));
}

int store_methods_from_text(const char *text, uint8_t methods[static WIRE_METHODS_MAX],
			    size_t *ret_n)
{
	char buf[STORE_METHODS_TEXT_MAX], *save = NULL;
	size_t n = 0;

	if (!text || strlen(text) >= sizeof(buf))
		return -EIO;
	strcpy(buf, text);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (n == WIRE_METHODS_MAX || wire_method_from_string(t, &methods[n]) < 0)
			return -EIO;
		n++;
	}
	if (!methods_valid(methods, n))
		return -EIO;
	*ret_n = n;
	return 0;
}

/* A KmID: 1..WIRE_KEY_ID_MAX printable ASCII characters without blanks. */
static bool km_id_valid(const char *s)
{
	size_t n = strnlen(s, WIRE_KEY_ID_MAX + 1);

	if (n == 0 || n > WIRE_KEY_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] > '~')
			return false;
	return true;
}

static bool target_valid(const char *s)
{
	return s && (s[0] == '\0' || wire_id_valid(s));
}

bool store_impi_valid(const char *impi)
{
	size_t n = impi ? strnlen(impi, STORE_IMPI_MAX + 1) : STORE_IMPI_MAX + 1;

	if (n > STORE_IMPI_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-@+!~%",
			    impi[i]))
			return false;
	return true;
}

/* ---- sealing ---- */

static size_t aad_node(const char *node_id, uint8_t aad[static AAD_MAX])
{
	size_t n = strnlen(node_id, WIRE_ID_MAX);

	memcpy(aad, "node:", 5);
	memcpy(aad + 5, node_id, n);
	return 5 + n;
}

static size_t aad_peer(const uint8_t id[static STORE_PEER_ID_LEN], uint8_t aad[static AAD_MAX])
{
	memcpy(aad, "peer:", 5);
	memcpy(aad + 5, id, STORE_PEER_ID_LEN);
	return 5 + STORE_PEER_ID_LEN;
}

static size_t aad_assoc(const char *prefix, const uint8_t kcid[static STORE_KCID_LEN],
			uint8_t aad[static AAD_MAX])
{
	size_t n = strlen(prefix);

	memcpy(aad, prefix, n);
	memcpy(aad + n, kcid, STORE_KCID_LEN);
	return n + STORE_KCID_LEN;
}

/* Open a sealed 32-byte key into a new secret. */
static int open_sealed(struct store *s, const uint8_t sealed[static STORE_SEALED_LEN],
		       const uint8_t *aad, size_t aad_len, struct secret **ret)
{
	struct secret *k = NULL;
	int r;

	r = secret_new(STORE_KEY_LEN, &k);
	if (r < 0)
		return r;
	r = crypto_open(s->master_key->data, aad, aad_len, sealed, STORE_SEALED_LEN, k->data);
	if (r < 0) {
		secret_free(k);
		return r;
	}
	*ret = k;
	return 0;
}

/* ---- opening ---- */

static const struct store_ops *backend_ops(enum store_backend b)
{
	switch (b) {
	case STORE_BACKEND_SQLITE:
		return &store_sqlite_ops;
	case STORE_BACKEND_POSTGRESQL:
		return &store_pg_ops;
	default:
		return NULL;
	}
}

static int check_master_key(struct store *s)
{
	_cleanup_secret_ struct secret *k = NULL;
	static const uint8_t zero[STORE_KEY_LEN];
	uint8_t sealed[STORE_SEALED_LEN];
	int r;

	r = s->ops->meta_get(s, "key_check", sealed, sizeof(sealed));
	if (r < 0)
		return r == -ENOENT ? -EIO : r;
	r = open_sealed(s, sealed, (const uint8_t *)key_check_aad, sizeof(key_check_aad) - 1, &k);
	if (r == -EBADMSG)
		return -EKEYREJECTED;
	if (r < 0)
		return r;
	return secret_equal(k->data, zero, STORE_KEY_LEN) ? 0 : -EKEYREJECTED;
}

/* Create or migrate as flags allow, until the store is at STORE_SCHEMA_VERSION. */
static int bring_schema_up(struct store *s, unsigned flags)
{
	static const uint8_t zero[STORE_KEY_LEN];
	uint8_t sealed[STORE_SEALED_LEN];
	int version, r;

	/* A second round covers another process creating or migrating at the same time. */
	for (int round = 0; round < 3; round++) {
		r = s->ops->schema_version(s, &version);
		if (r < 0)
			return r;
		if (version == STORE_SCHEMA_VERSION)
			return 0;
		if (version > STORE_SCHEMA_VERSION)
			return -EPROTO;
		if (version == 0 && !(flags & STORE_OPEN_CREATE))
			return -ENODATA;
		if (version > 0 && !(flags & STORE_OPEN_MIGRATE))
			return -ESTALE;
		r = crypto_seal(s->master_key->data, (const uint8_t *)key_check_aad,
				sizeof(key_check_aad) - 1, zero, sizeof(zero), sealed);
		if (r < 0)
			return r;
		r = s->ops->migrate(s, version, STORE_SCHEMA_VERSION, sealed, sizeof(sealed));
		if (r < 0)
			return r;
	}
	return -EBUSY;
}

int store_open_config(const struct store_config *c,
		      const uint8_t master_key[static STORE_MASTER_KEY_LEN], unsigned flags,
		      struct store **ret)
{
	const struct store_ops *ops;
	struct store *s = NULL;
	int r;

	if (!c || !c->location || !*c->location || !ret)
		return -EINVAL;
	ops = backend_ops(c->backend);
	if (!ops)
		return -EPROTONOSUPPORT;
	r = ops->open(c, &s);
	if (r < 0)
		return r;
	s->ops = ops;
	r = secret_dup(master_key, STORE_MASTER_KEY_LEN, &s->master_key);
	if (r >= 0)
		r = bring_schema_up(s, flags);
	if (r >= 0)
		r = check_master_key(s);
	if (r >= 0 && ops->settle)
		r = ops->settle(s);
	if (r < 0) {
		s->open_failed = true;
		store_close(s);
		return r;
	}
	*ret = s;
	return 0;
}

int store_probe(const struct store_config *c, int *ret_version)
{
	const struct store_ops *ops;
	struct store *s = NULL;
	int version = 0, r;

	if (!c || !c->location || !*c->location || !ret_version)
		return -EINVAL;
	ops = backend_ops(c->backend);
	if (!ops)
		return -EPROTONOSUPPORT;
	r = ops->open(c, &s);
	if (r < 0)
		return r;
	s->ops = ops;
	r = ops->schema_version(s, &version);
	/* An SQLite file this probe created stays only if it was there before. */
	s->open_failed = true;
	ops->close(s);
	if (r < 0)
		return r;
	*ret_version = version;
	return 0;
}

int store_open(const char *location, const uint8_t master_key[static STORE_MASTER_KEY_LEN],
	       struct store **ret)
{
	struct store_config c = {
		.backend = store_backend_for_location(location),
		.location = location,
	};

	return store_open_config(&c, master_key, STORE_OPEN_CREATE, ret);
}

void store_close(struct store *s)
{
	struct secret *mk;

	if (!s)
		return;
	mk = s->master_key;
	s->ops->close(s);
	secret_free(mk);
}

const char *store_location(const struct store *s)
{
	const char *p = s ? s->ops->location(s) : NULL;

	return p && *p ? p : "(the store)";
}

const char *store_backend_name(const struct store *s)
{
	return s->ops->name;
}

int store_schema_version(struct store *s, int *ret)
{
	return s->ops->schema_version(s, ret);
}

/* ---- nodes ---- */

int store_node_add(struct store *s, const struct store_node *n, const uint8_t *km)
{
	uint8_t aad[AAD_MAX], sealed[STORE_SEALED_LEN];
	char methods[STORE_METHODS_TEXT_MAX];
	size_t aad_len;
	uint64_t created;
	int r;

	if (!wire_id_valid(n->node_id) || !km_id_valid(n->km_id) || !target_valid(n->target_id) ||
	    !methods_valid(n->methods, n->n_methods) || (unsigned)n->state >= _STORE_NODE_STATE_MAX ||
	    n->lifetime > INT64_MAX || n->created > INT64_MAX || !store_impi_valid(n->impi))
		return -EINVAL;
	created = n->created ? n->created : (uint64_t)time(NULL);
	methods_to_text(n->methods, n->n_methods, methods, sizeof(methods));
	if (!km) {
		/* No Km: Km is Ks_NAF (gba); psk would have nothing to prove with. */
		if (memchr(n->methods, WIRE_METHOD_PSK, n->n_methods))
			return -EINVAL;
		return s->ops->node_insert(s, n, methods, created, sealed, 0);
	}
	aad_len = aad_node(n->node_id, aad);
	r = crypto_seal(s->master_key->data, aad, aad_len, km, STORE_KEY_LEN, sealed);
	if (r < 0)
		return r;
	return s->ops->node_insert(s, n, methods, created, sealed, sizeof(sealed));
}

int store_node_get(struct store *s, const char *node_id, struct store_node *ret)
{
	uint64_t t0 = now_ns();

	if (!wire_id_valid(node_id))
		return -ENOENT;
	return observed(s, t0, s->ops->node_get(s, node_id, ret));
}

int store_node_get_km(struct store *s, const char *node_id, struct secret **ret)
{
	uint8_t aad[AAD_MAX], sealed[STORE_SEALED_LEN];
	size_t aad_len;
	int r;

	if (!wire_id_valid(node_id))
		return -ENOENT;
	{
		uint64_t t0 = now_ns();

		r = observed(s, t0, s->ops->node_get_km(s, node_id, sealed));
	}
	if (r < 0)
		return r;
	aad_len = aad_node(node_id, aad);
	return open_sealed(s, sealed, aad, aad_len, ret);
}

int store_node_set_target(struct store *s, const char *node_id, const char *target_id)
{
	if (!target_valid(target_id))
		return -EINVAL;
	if (!wire_id_valid(node_id))
		return -ENOENT;
	return s->ops->node_set(s, STORE_NODE_FIELD_TARGET, node_id, target_id, 0);
}

int store_node_set_methods(struct store *s, const char *node_id, const uint8_t *methods,
			   size_t n_methods)
{
	char text[STORE_METHODS_TEXT_MAX];

	if (!methods_valid(methods, n_methods))
		return -EINVAL;
	if (!wire_id_valid(node_id))
		return -ENOENT;
	if (memchr(methods, WIRE_METHOD_PSK, n_methods)) {
		uint8_t sealed[STORE_SEALED_LEN];
		int r = s->ops->node_get_km(s, node_id, sealed);

		if (r < 0) /* -ENOKEY: a gba-only node has no Km to prove psk with */
			return r;
	}
	methods_to_text(methods, n_methods, text, sizeof(text));
	return s->ops->node_set(s, STORE_NODE_FIELD_METHODS, node_id, text, 0);
}

int store_node_set_lifetime(struct store *s, const char *node_id, uint64_t lifetime)
{
	if (lifetime > INT64_MAX)
		return -EINVAL;
	if (!wire_id_valid(node_id))
		return -ENOENT;
	return s->ops->node_set(s, STORE_NODE_FIELD_LIFETIME, node_id, NULL, lifetime);
}

int store_node_set_impi(struct store *s, const char *node_id, const char *impi)
{
	if (!store_impi_valid(impi))
		return -EINVAL;
	if (!wire_id_valid(node_id))
		return -ENOENT;
	return s->ops->node_set(s, STORE_NODE_FIELD_IMPI, node_id, impi, 0);
}

/*
 * "/<CSE-ID>/": how a pairwise key's target starts when its CSE part names node_id
 * (wire_target_names_node: "/mn-cse-2" and "mn-cse-2" both give "/mn-cse-2/").
 */
static void node_target_prefix(const char *node_id, char ret[static STORE_TARGET_PREFIX_MAX])
{
	snprintf(ret, STORE_TARGET_PREFIX_MAX, "%s%s/", node_id[0] == '/' ? "" : "/", node_id);
}

int store_node_revoke(struct store *s, const char *node_id)
{
	char prefix[STORE_TARGET_PREFIX_MAX];

	if (!wire_id_valid(node_id))
		return -ENOENT;
	node_target_prefix(node_id, prefix);
	return s->ops->node_revoke(s, node_id, prefix);
}

int store_node_delete(struct store *s, const char *node_id)
{
	char prefix[STORE_TARGET_PREFIX_MAX];

	if (!wire_id_valid(node_id))
		return -ENOENT;
	node_target_prefix(node_id, prefix);
	return s->ops->node_delete(s, node_id, prefix);
}

int store_node_foreach(struct store *s, int (*cb)(const struct store_node *n, void *userdata),
		       void *userdata)
{
	return s->ops->node_foreach(s, cb, userdata);
}

/* ---- associations ---- */

int store_assoc_add(struct store *s, const struct store_assoc *a, const uint8_t kc[static 32],
		    const uint8_t ae_root[static 32])
{
	uint8_t aad[AAD_MAX], kc_sealed[STORE_SEALED_LEN], ae_sealed[STORE_SEALED_LEN];
	size_t aad_len;
	int r;

	if (!wire_id_valid(a->node_id) || !target_valid(a->target_id) || a->created > INT64_MAX ||
	    a->expiry > INT64_MAX)
		return -EINVAL;
	aad_len = aad_assoc("assoc:", a->kcid, aad);
	r = crypto_seal(s->master_key->data, aad, aad_len, kc, STORE_KEY_LEN, kc_sealed);
	if (r < 0)
		return r;
	aad_len = aad_assoc("assoc-ae:", a->kcid, aad);
	r = crypto_seal(s->master_key->data, aad, aad_len, ae_root, STORE_KEY_LEN, ae_sealed);
	if (r < 0)
		return r;
	{
		uint64_t t0 = now_ns();

		return observed(s, t0, s->ops->assoc_insert(s, a, kc_sealed, ae_sealed));
	}
}

int store_assoc_get(struct store *s, const uint8_t kcid[static STORE_KCID_LEN],
		    struct store_assoc *ret)
{
	uint64_t t0 = now_ns();

	return observed(s, t0, s->ops->assoc_get(s, kcid, ret));
}

int store_assoc_get_keys(struct store *s, const uint8_t kcid[static STORE_KCID_LEN],
			 struct secret **ret_kc, struct secret **ret_ae_root)
{
	_cleanup_secret_ struct secret *kc = NULL;
	_cleanup_secret_ struct secret *ae = NULL;
	uint8_t aad[AAD_MAX], kc_sealed[STORE_SEALED_LEN], ae_sealed[STORE_SEALED_LEN];
	size_t aad_len;
	int r;

	{
		uint64_t t0 = now_ns();

		r = observed(s, t0, s->ops->assoc_get_keys(s, kcid, kc_sealed, ae_sealed));
	}
	if (r < 0)
		return r;
	if (ret_kc) {
		aad_len = aad_assoc("assoc:", kcid, aad);
		r = open_sealed(s, kc_sealed, aad, aad_len, &kc);
		if (r < 0)
			return r;
	}
	if (ret_ae_root) {
		aad_len = aad_assoc("assoc-ae:", kcid, aad);
		r = open_sealed(s, ae_sealed, aad, aad_len, &ae);
		if (r < 0)
			return r;
	}
	if (ret_kc) {
		*ret_kc = kc;
		kc = NULL;
	}
	if (ret_ae_root) {
		*ret_ae_root = ae;
		ae = NULL;
	}
	return 0;
}

int store_assoc_revoke(struct store *s, const uint8_t kcid[static STORE_KCID_LEN])
{
	return s->ops->assoc_revoke(s, kcid);
}

int store_assoc_foreach(struct store *s, const char *node_id,
			int (*cb)(const struct store_assoc *a, void *userdata), void *userdata)
{
	return s->ops->assoc_foreach(s, node_id, cb, userdata);
}

int store_assoc_purge_expired(struct store *s, uint64_t now)
{
	uint64_t t0 = now_ns();

	if (now > INT64_MAX)
		now = INT64_MAX;
	return observed(s, t0, s->ops->assoc_purge(s, now));
}

/* ---- pairwise end-to-end keys (docs/protocol.md §14) ---- */

int store_peer_key_add(struct store *s, const struct store_peer_key *k,
		       const uint8_t key[static 32])
{
	char cse[WIRE_ID_MAX + 1], ae[WIRE_ID_MAX + 1];
	uint8_t aad[AAD_MAX], sealed[STORE_SEALED_LEN];
	size_t aad_len;
	int r;

	if (!wire_id_valid(k->node_id) || !wire_id_valid(k->ae_id) || strchr(k->ae_id, '/') ||
	    wire_target_split(k->target, cse, ae) < 0 || k->created > INT64_MAX ||
	    k->expiry > INT64_MAX)
		return -EINVAL;
	aad_len = aad_peer(k->id, aad);
	r = crypto_seal(s->master_key->data, aad, aad_len, key, STORE_KEY_LEN, sealed);
	if (r < 0)
		return r;
	{
		uint64_t t0 = now_ns();

		return observed(s, t0, s->ops->peer_insert(s, k, cse, sealed));
	}
}

/* 1 for a revoked node's state text, 0 for an active one, -ENOENT for none (NULL), else -EIO. */
static int state_revoked(const char *state)
{
	enum store_node_state st;

	if (!state)
		return -ENOENT;
	if (store_node_state_from_string(state, &st) < 0)
		return -EIO;
	return st == STORE_NODE_REVOKED;
}

int store_peer_nodes_check(const char *node_state, const char *target_state)
{
	int a = state_revoked(node_state), b = state_revoked(target_state);

	if (a == -EIO || b == -EIO)
		return -EIO;
	if (a == 1 || b == 1)
		return -EKEYREVOKED;
	return a < 0 || b < 0 ? -ENOENT : 0;
}

int store_peer_key_get(struct store *s, const uint8_t id[static STORE_PEER_ID_LEN],
		       struct store_peer_key *ret, struct secret **ret_key)
{
	uint8_t aad[AAD_MAX], sealed[STORE_SEALED_LEN];
	struct store_peer_key k;
	size_t aad_len;
	int r;

	{
		uint64_t t0 = now_ns();

		r = observed(s, t0, s->ops->peer_get(s, id, &k, sealed));
	}
	if (r < 0)
		return r;
	if (ret_key) {
		aad_len = aad_peer(id, aad);
		r = open_sealed(s, sealed, aad, aad_len, ret_key);
		if (r < 0)
			return r;
	}
	*ret = k;
	return 0;
}

int store_peer_key_revoke(struct store *s, const uint8_t id[static STORE_PEER_ID_LEN])
{
	return s->ops->peer_revoke(s, id);
}

int store_peer_key_purge_expired(struct store *s, uint64_t now)
{
	uint64_t t0 = now_ns();

	if (now > INT64_MAX)
		now = INT64_MAX;
	return observed(s, t0, s->ops->peer_purge(s, now));
}
