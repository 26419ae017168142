/* SPDX-License-Identifier: Apache-2.0 */
/* Table-driven INI parsing on libinih, with a drop-in folder and precise error messages. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <strings.h>

#include "common/conf.h"
#include "common/util.h"

struct parse_state {
	const char *path;
	const struct conf_item *table;
	size_t n_items;
	void *obj;
	char *err;
	size_t err_len;
	int error;
	FILE *f;
	int lineno; /* of the line inih handed over last */
};

static int set_reason(char *err, size_t err_len, const char *reason)
{
	snprintf(err, err_len, "%s", reason);
	return -EINVAL;
}

int conf_parse_string(const char *value, void *dst, char *err, size_t err_len)
{
	char **p = dst, *s;

	if (!*value)
		return set_reason(err, err_len, "expected a value, got an empty string");
	s = strdup(value);
	if (!s)
		return -ENOMEM;
	free(*p);
	*p = s;
	return 0;
}

int conf_parse_path(const char *value, void *dst, char *err, size_t err_len)
{
	if (value[0] != '/')
		return set_reason(err, err_len, "expected an absolute path");
	if (strlen(value) >= PATH_MAX)
		return set_reason(err, err_len, "path too long");
	return conf_parse_string(value, dst, err, err_len);
}

int conf_parse_bool(const char *value, void *dst, char *err, size_t err_len)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	bool *b = dst;

	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (strcasecmp(value, yes[i]) == 0) {
			*b = true;
			return 0;
		}
		if (strcasecmp(value, no[i]) == 0) {
			*b = false;
			return 0;
		}
	}
	return set_reason(err, err_len, "expected yes or no");
}

static int parse_u64(const char *value, uint64_t max, uint64_t *ret, const char **ret_end)
{
	char *end;
	unsigned long long v;

	if (value[0] < '0' || value[0] > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(value, &end, 10);
	if (errno || v > max)
		return -ERANGE;
	*ret = v;
	*ret_end = end;
	return 0;
}

int conf_parse_port(const char *value, void *dst, char *err, size_t err_len)
{
	const char *end;
	uint64_t v;

	if (parse_u64(value, 65535, &v, &end) < 0 || *end || v == 0)
		return set_reason(err, err_len, "expected a port number from 1 to 65535");
	*(uint16_t *)dst = (uint16_t)v;
	return 0;
}

int conf_parse_uint32(const char *value, void *dst, char *err, size_t err_len)
{
	const char *end;
	uint64_t v;

	if (parse_u64(value, UINT32_MAX, &v, &end) < 0 || *end)
		return set_reason(err, err_len, "expected a whole number from 0 to 4294967295");
	*(uint32_t *)dst = (uint32_t)v;
	return 0;
}

int conf_parse_duration(const char *value, void *dst, char *err, size_t err_len)
{
	static const struct {
		const char *suffix;
		uint64_t mult;
	} units[] = { { "", 1 }, { "s", 1 }, { "m", 60 }, { "h", 3600 }, { "d", 86400 } };
	const char *end;
	uint64_t v;

	if (parse_u64(value, UINT32_MAX, &v, &end) == 0)
		for (size_t i = 0; i < ARRAY_SIZE(units); i++)
			if (strcmp(end, units[i].suffix) == 0) {
				*(uint64_t *)dst = v * units[i].mult;
				return 0;
			}
	return set_reason(err, err_len, "expected a duration such as 90s, 15m, 2h or 1d");
}

/* inih's reader callback: fgets that counts lines, so errors can name them. */
static char *read_line(char *str, int num, void *stream)
{
	struct parse_state *st = stream;
	char *r = fgets(str, num, st->f);

	if (r)
		st->lineno++;
	return r;
}

static int on_entry(void *user, const char *section, const char *name, const char *value)
{
	struct parse_state *st = user;
	int lineno = st->lineno;
	char reason[CONF_ERR_MAX] = "";
	bool section_known = false;
	int r;

	if (!name) /* a section header alone: checked when its first key arrives */
		return 1;
	for (size_t i = 0; i < st->n_items; i++) {
		const struct conf_item *it = &st->table[i];

		if (strcmp(it->section, section) != 0)
			continue;
		section_known = true;
		if (strcmp(it->key, name) != 0)
			continue;
		r = it->parse(value, (char *)st->obj + it->offset, reason, sizeof(reason));
		if (r < 0) {
			snprintf(st->err, st->err_len, "%s:%d: invalid value for '%s' in [%s]: %s",
				 st->path, lineno, name, section, reason[0] ? reason : strerror(-r));
			st->error = r == -ENOMEM ? -ENOMEM : -EINVAL;
			return 0;
		}
		return 1;
	}
	if (section_known)
		snprintf(st->err, st->err_len, "%s:%d: unknown key '%s' in section [%s]", st->path,
			 lineno, name, section);
	else if (section[0])
		snprintf(st->err, st->err_len, "%s:%d: unknown section [%s] (key '%s')", st->path,
			 lineno, section, name);
	else
		snprintf(st->err, st->err_len, "%s:%d: key '%s' outside any section", st->path,
			 lineno, name);
	st->error = -EINVAL;
	return 0;
}

static bool section_in_table(const struct conf_item *table, size_t n, const char *section)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(table[i].section, section) == 0)
			return true;
	return false;
}

/* inih reports a bare "[section]" only through its section callback, so catch unknown
 * sections that carry no keys here. */
static int on_section(void *user, const char *section, int lineno)
{
	struct parse_state *st = user;

	if (section_in_table(st->table, st->n_items, section))
		return 1;
	snprintf(st->err, st->err_len, "%s:%d: unknown section [%s]", st->path, lineno, section);
	st->error = -EINVAL;
	return 0;
}


int conf_parse_file(const char *path, const struct conf_item *table, size_t n_items, void *obj,
		    char *err, size_t err_len)
{
	struct parse_state st = {
		.path = path, .table = table, .n_items = n_items, .obj = obj,
		.err = err, .err_len = err_len, .error = 0,
	};
	char line[1024];
	int lineno = 0, r;
	FILE *f;

	f = fopen(path, "re");
	if (!f) {
		r = -errno;
		snprintf(err, err_len, "%s: cannot open: %s", path, strerror(-r));
		return r;
	}
	/* Section headers are checked in a first pass, so a section with no keys still fails. */
	while (fgets(line, sizeof(line), f)) {
		char *p = line, *e;

		lineno++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != '[')
			continue;
		e = strchr(p, ']');
		if (!e)
			continue; /* inih reports the syntax error with its line */
		*e = '\0';
		if (on_section(&st, p + 1, lineno) == 0) {
			fclose(f);
			return st.error;
		}
	}
	rewind(f);
	st.f = f;
	r = ini_parse_stream(read_line, &st, on_entry, &st);
	fclose(f);
	if (st.error)
		return st.error;
	if (r > 0) {
		snprintf(err, err_len, "%s:%d: syntax error (expected [section] or key = value)",
			 path, r);
		return -EINVAL;
	}
	if (r < 0) {
		snprintf(err, err_len, "%s: read error", path);
		return -EIO;
	}
	return 0;
}

static int filter_conf(const struct dirent *de)
{
	size_t n = strlen(de->d_name);

	return de->d_name[0] != '.' && n > 5 && strcmp(de->d_name + n - 5, ".conf") == 0;
}

int conf_load(const char *path, const char *dropin_dir, const struct conf_item *table,
	      size_t n_items, void *obj, char *err, size_t err_len)
{
	struct dirent **list = NULL;
	int n, r;

	r = conf_parse_file(path, table, n_items, obj, err, err_len);
	if (r < 0 || !dropin_dir)
		return r;
	n = scandir(dropin_dir, &list, filter_conf, alphasort);
	if (n < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		r = -errno;
		snprintf(err, err_len, "%s: cannot read drop-in folder: %s", dropin_dir,
			 strerror(-r));
		return r;
	}
	for (int i = 0; i < n; i++) {
		char p[PATH_MAX];

		if (r == 0) {
			if ((size_t)snprintf(p, sizeof(p), "%s/%s", dropin_dir, list[i]->d_name) >=
			    sizeof(p)) {
				snprintf(err, err_len, "%s: path too long", dropin_dir);
				r = -ENAMETOOLONG;
			} else {
				r = conf_parse_file(p, table, n_items, obj, err, err_len);
			}
		}
		free(list[i]);
	}
	free(list);
	return r;
}
