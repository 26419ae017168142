/* SPDX-License-Identifier: Apache-2.0 */
/* clients.d: the local key service's authorisation policy (clients.h). */
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "agent/clients.h"
#include "common/conf.h"
#include "common/util.h"
#include "common/wire.h"

#define CLIENTS_AE_MAX 64

enum match_kind {
	MATCH_NONE,
	MATCH_UID,
	MATCH_GID,
};

struct rule {
	enum match_kind match;
	unsigned id; /* uid or gid */
	char **ae;
	size_t n_ae;
	char **targets; /* targets=: absolute AE-IDs or a CSE wildcard; none: any target */
	size_t n_targets;
	bool cse;
	bool admin;
};

struct clients {
	struct rule *rules;
	size_t n_rules;
	bool have_admin_gid;
	gid_t admin_gid;
};

static void list_clear(char ***list, size_t *n)
{
	for (size_t i = 0; i < *n; i++)
		free((*list)[i]);
	free(*list);
	*list = NULL;
	*n = 0;
}

static void rule_clear(struct rule *r)
{
	list_clear(&r->ae, &r->n_ae);
	list_clear(&r->targets, &r->n_targets);
}

static int set_match(struct rule *r, enum match_kind k, unsigned id, char *err, size_t err_len)
{
	if (r->match != MATCH_NONE) {
		snprintf(err, err_len, "only one of user=, uid= and group= per file");
		return -EINVAL;
	}
	r->match = k;
	r->id = id;
	return 0;
}

static int parse_user(const char *value, void *dst, char *err, size_t err_len)
{
	struct passwd pw, *res = NULL;
	char buf[4096];

	if (getpwnam_r(value, &pw, buf, sizeof(buf), &res) != 0 || !res) {
		snprintf(err, err_len, "no such user '%s' (create it, or use uid=)", value);
		return -EINVAL;
	}
	return set_match(dst, MATCH_UID, (unsigned)pw.pw_uid, err, err_len);
}

static int parse_uid(const char *value, void *dst, char *err, size_t err_len)
{
	uint32_t v;
	int r = conf_parse_uint32(value, &v, err, err_len);

	if (r < 0)
		return r;
	if (v == UINT32_MAX) {
		snprintf(err, err_len, "uid 4294967295 is not a user");
		return -EINVAL;
	}
	return set_match(dst, MATCH_UID, v, err, err_len);
}

static int parse_group(const char *value, void *dst, char *err, size_t err_len)
{
	struct group gr, *res = NULL;
	char buf[8192];

	if (getgrnam_r(value, &gr, buf, sizeof(buf), &res) != 0 || !res) {
		snprintf(err, err_len, "no such group '%s' (create it first)", value);
		return -EINVAL;
	}
	return set_match(dst, MATCH_GID, (unsigned)gr.gr_gid, err, err_len);
}

/* An AE-ID (an identifier without '@', which ends a key ID). */
static bool ae_valid(const char *tok)
{
	return wire_id_valid(tok) && !strchr(tok, '@');
}

/* A targets= entry: an absolute AE-ID, or "/<CSE-ID>/" and a star for every AE of that CSE. */
static bool target_pattern_valid(const char *tok)
{
	char t[WIRE_TARGET_MAX + 2], cse[WIRE_ID_MAX + 1], ae[WIRE_ID_MAX + 1];
	size_t n = strlen(tok);

	if (n > WIRE_TARGET_MAX)
		return false;
	if (n >= 2 && strcmp(tok + n - 2, "/*") == 0) {
		snprintf(t, sizeof(t), "%.*sx", (int)(n - 1), tok); /* any AE-ID in place of '*' */
		return wire_target_split(t, cse, ae) == 0;
	}
	return wire_target_split(tok, cse, ae) == 0;
}

/* "a, b": a comma-separated list of what valid() accepts, at most CLIENTS_AE_MAX. */
static int parse_list(const char *value, bool (*valid)(const char *), const char *what,
		      char ***list, size_t *n_list, char *err, size_t err_len)
{
	_cleanup_free_ char *copy = strdup(value);
	char *save = NULL;

	if (!copy)
		return -ENOMEM;
	list_clear(list, n_list);
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char **n;

		while (*tok == ' ' || *tok == '\t')
			tok++;
		for (size_t l = strlen(tok); l > 0 && (tok[l - 1] == ' ' || tok[l - 1] == '\t'); l--)
			tok[l - 1] = '\0';
		if (!valid(tok)) {
			snprintf(err, err_len, "'%s' is not %s", tok, what);
			list_clear(list, n_list);
			return -EINVAL;
		}
		if (*n_list >= CLIENTS_AE_MAX) {
			snprintf(err, err_len, "more than %d entries", CLIENTS_AE_MAX);
			list_clear(list, n_list);
			return -EINVAL;
		}
		n = realloc(*list, (*n_list + 1) * sizeof(*n));
		if (!n) {
			list_clear(list, n_list);
			return -ENOMEM;
		}
		*list = n;
		(*list)[*n_list] = strdup(tok);
		if (!(*list)[*n_list]) {
			list_clear(list, n_list);
			return -ENOMEM;
		}
		(*n_list)++;
	}
	if (*n_list == 0) {
		snprintf(err, err_len, "expected a comma-separated list");
		return -EINVAL;
	}
	return 0;
}

/* "C-ae1, C-ae2": the AE-IDs the client may act as. */
static int parse_ae(const char *value, void *dst, char *err, size_t err_len)
{
	struct rule *r = dst;

	return parse_list(value, ae_valid, "an AE-ID (1..128 of A-Z a-z 0-9 . _ - /, no '@')",
			  &r->ae, &r->n_ae, err, err_len);
}

/* "/mn-cse-2/Cae2, /mn-cse-3/" and a star": the targets it may request pairwise keys towards. */
static int parse_targets(const char *value, void *dst, char *err, size_t err_len)
{
	struct rule *r = dst;

	return parse_list(value, target_pattern_valid,
			  "a target (an absolute AE-ID /<CSE-ID>/<AE-ID>, or /<CSE-ID>/* for "
			  "every AE of that CSE)",
			  &r->targets, &r->n_targets, err, err_len);
}

/* One file's [client] section parses straight into its rule (conf.h table destinations). */
static const struct conf_item client_table[] = {
	{ "client", "user", parse_user, 0 }, /* the parsers of the match and ae get the rule */
	{ "client", "uid", parse_uid, 0 },
	{ "client", "group", parse_group, 0 },
	{ "client", "ae", parse_ae, 0 },
	{ "client", "targets", parse_targets, 0 },
	{ "client", "cse", conf_parse_bool, offsetof(struct rule, cse) },
	{ "client", "admin", conf_parse_bool, offsetof(struct rule, admin) },
};

void clients_free(struct clients *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_rules; i++)
		rule_clear(&c->rules[i]);
	free(c->rules);
	free(c);
}

size_t clients_count(const struct clients *c)
{
	return c ? c->n_rules : 0;
}

static int conf_filter(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return d->d_name[0] != '.' && n > 5 && strcmp(d->d_name + n - 5, ".conf") == 0;
}

static int load_file(struct clients *c, const char *path, struct m2msa_err *err)
{
	_cleanup_(rule_clear) struct rule rule = { .match = MATCH_NONE };
	struct rule *n;
	int r;

	r = conf_parse_file(path, client_table, ARRAY_SIZE(client_table), &rule, err->msg,
			    sizeof(err->msg));
	if (r < 0)
		return r;
	if (rule.match == MATCH_NONE)
		return err_set(err, -EINVAL, "%s: [client] needs one of user=, uid= or group=",
			       path);
	if (rule.n_targets && rule.n_ae == 0)
		return err_set(err, -EINVAL,
			       "%s: targets= restricts the AEs of ae=, but the file has no ae=", path);
	if (rule.n_ae == 0 && !rule.cse && !rule.admin)
		return err_set(err, -EINVAL,
			       "%s: the client is granted nothing (set ae=, cse=yes or admin=yes)",
			       path);
	n = realloc(c->rules, (c->n_rules + 1) * sizeof(*n));
	if (!n)
		return err_set(err, -ENOMEM, "out of memory");
	c->rules = n;
	c->rules[c->n_rules++] = rule;
	rule = (struct rule){ .match = MATCH_NONE }; /* handed over: nothing left to free */
	return 0;
}

int clients_load(const char *dir, struct clients **ret, struct m2msa_err *err)
{
	_cleanup_(clients_freep) struct clients *c = calloc(1, sizeof(*c));
	struct dirent **names = NULL;
	struct group gr, *gres = NULL;
	char buf[8192];
	int n, r = 0;

	if (!c)
		return -ENOMEM;
	if (getgrnam_r(CLIENTS_ADMIN_GROUP, &gr, buf, sizeof(buf), &gres) == 0 && gres) {
		c->have_admin_gid = true;
		c->admin_gid = gr.gr_gid;
	}
	n = scandir(dir, &names, conf_filter, alphasort);
	if (n < 0) {
		r = -errno;
		if (r == -ENOENT) {
			*ret = TAKE_PTR(c);
			return 0;
		}
		return err_set(err, r, "cannot read %s: %s", dir, strerror(-r));
	}
	for (int i = 0; i < n; i++) {
		if (r == 0) {
			char path[4096];

			snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
			r = load_file(c, path, err);
		}
		free(names[i]);
	}
	free(names);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(c);
	return 0;
}

int clients_peer_from_fd(int fd, struct clients_peer *ret)
{
	struct clients_peer p = { .pid = 0 };
	struct ucred cred;
	socklen_t len = sizeof(cred);
	gid_t groups[CLIENTS_MAX_GROUPS];
	socklen_t glen = sizeof(groups);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return -errno;
	p.pid = cred.pid;
	p.uid = cred.uid;
	p.gid = cred.gid;
	/* ERANGE: more groups than fit; the primary gid and the first ones still count. */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &glen) == 0)
		p.n_groups = glen / sizeof(gid_t);
	memcpy(p.groups, groups, p.n_groups * sizeof(gid_t));
	*ret = p;
	return 0;
}

static bool in_group(const struct clients_peer *p, gid_t g)
{
	if (p->gid == g)
		return true;
	for (size_t i = 0; i < p->n_groups; i++)
		if (p->groups[i] == g)
			return true;
	return false;
}

static bool rule_matches(const struct rule *r, const struct clients_peer *p)
{
	if (r->match == MATCH_UID)
		return p->uid == (uid_t)r->id;
	if (r->match == MATCH_GID)
		return in_group(p, (gid_t)r->id);
	return false;
}

bool clients_may_act_as(const struct clients *c, const struct clients_peer *p, const char *ae_id)
{
	bool cse = !ae_id || !ae_id[0];

	if (p->uid == 0)
		return true;
	for (size_t i = 0; c && i < c->n_rules; i++) {
		const struct rule *r = &c->rules[i];

		if (!rule_matches(r, p))
			continue;
		if (cse && r->cse)
			return true;
		for (size_t j = 0; !cse && j < r->n_ae; j++)
			if (strcmp(r->ae[j], ae_id) == 0)
				return true;
	}
	return false;
}

static bool target_matches(const char *pattern, const char *target)
{
	size_t n = strlen(pattern);
	char cse[WIRE_ID_MAX + 1], ae[WIRE_ID_MAX + 1];

	if (n >= 2 && strcmp(pattern + n - 2, "/*") == 0)
		return wire_target_split(target, cse, ae) == 0 && strlen(cse) == n - 2 &&
		       memcmp(cse, pattern, n - 2) == 0;
	return strcmp(pattern, target) == 0;
}

bool clients_may_target(const struct clients *c, const struct clients_peer *p, const char *ae_id,
			const char *target)
{
	if (p->uid == 0)
		return true;
	for (size_t i = 0; c && i < c->n_rules; i++) {
		const struct rule *r = &c->rules[i];
		bool acts_as = false;

		if (!rule_matches(r, p))
			continue;
		for (size_t j = 0; j < r->n_ae && !acts_as; j++)
			acts_as = strcmp(r->ae[j], ae_id) == 0;
		if (!acts_as)
			continue;
		if (r->n_targets == 0)
			return true;
		for (size_t j = 0; j < r->n_targets; j++)
			if (target_matches(r->targets[j], target))
				return true;
	}
	return false;
}

bool clients_is_admin(const struct clients *c, const struct clients_peer *p)
{
	if (p->uid == 0)
		return true;
	if (!c)
		return false;
	if (c->have_admin_gid && in_group(p, c->admin_gid))
		return true;
	for (size_t i = 0; i < c->n_rules; i++)
		if (c->rules[i].admin && rule_matches(&c->rules[i], p))
			return true;
	return false;
}

bool clients_known(const struct clients *c, const struct clients_peer *p)
{
	if (clients_is_admin(c, p))
		return true;
	for (size_t i = 0; c && i < c->n_rules; i++)
		if (rule_matches(&c->rules[i], p))
			return true;
	return false;
}
