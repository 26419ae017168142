/* SPDX-License-Identifier: Apache-2.0 */
/* BootstrappingInfo XML: formatter and small strict parser (see bootstrap-info.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "gba/bootstrap-info.h"
#include "gba/datetime.h"

#define GBA_NS "uri:3gpp-gba"

int gba_bootstrap_info_format(const struct gba_bootstrap_info *info, char *out, size_t out_size)
{
	char when[GBA_TIME_TEXT_LEN + 1];
	int n, r;

	if (!gba_btid_valid(info->btid))
		return -EINVAL;
	r = gba_time_format(info->lifetime, when);
	if (r < 0)
		return r;
	/* A valid B-TID holds no '<', '&' or '"': nothing to escape. */
	n = snprintf(out, out_size,
		     "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		     "<BootstrappingInfo xmlns=\"" GBA_NS "\">\n"
		     "  <btid>%s</btid>\n"
		     "  <lifetime>%s</lifetime>\n"
		     "</BootstrappingInfo>\n",
		     info->btid, when);
	if (n < 0 || (size_t)n >= out_size)
		return -ENOBUFS;
	return 0;
}

struct cursor {
	const char *s;
	size_t len, i;
};

static void skip_ws(struct cursor *c)
{
	while (c->i < c->len && strchr(" \t\r\n", c->s[c->i]) && c->s[c->i])
		c->i++;
}

static bool take(struct cursor *c, const char *lit)
{
	size_t n = strlen(lit);

	if (c->len - c->i < n || memcmp(c->s + c->i, lit, n) != 0)
		return false;
	c->i += n;
	return true;
}

/* Name="value" or name='value' (no entities: the values we accept have none). */
static int attribute(struct cursor *c, char *name, size_t name_size, char *value, size_t value_size)
{
	size_t n = 0;
	char q;

	while (c->i < c->len && ((c->s[c->i] >= 'a' && c->s[c->i] <= 'z') || c->s[c->i] == ':') &&
	       n < name_size - 1)
		name[n++] = c->s[c->i++];
	name[n] = '\0';
	if (n == 0)
		return -EINVAL;
	skip_ws(c);
	if (!take(c, "="))
		return -EINVAL;
	skip_ws(c);
	if (c->i >= c->len || (c->s[c->i] != '"' && c->s[c->i] != '\''))
		return -EINVAL;
	q = c->s[c->i++];
	for (n = 0; c->i < c->len && c->s[c->i] != q; n++) {
		char ch = c->s[c->i++];

		if (n >= value_size - 1 || ch == '<' || ch == '&' || (unsigned char)ch < 0x20)
			return -EINVAL;
		value[n] = ch;
	}
	if (c->i >= c->len)
		return -EINVAL;
	c->i++;
	value[n] = '\0';
	return 0;
}

/* Optional <?xml version="1.0" [encoding="UTF-8"] [standalone="yes|no"]?> */
static int declaration(struct cursor *c)
{
	bool version = false, encoding = false, standalone = false;

	if (!take(c, "<?xml"))
		return 0;
	for (;;) {
		char name[16], value[16];
		size_t before = c->i;
		int r;

		skip_ws(c);
		if (take(c, "?>"))
			return version ? 0 : -EINVAL;
		if (c->i == before)
			return -EINVAL; /* attributes need whitespace before them */
		r = attribute(c, name, sizeof(name), value, sizeof(value));
		if (r < 0)
			return r;
		if (strcmp(name, "version") == 0 && !version && !encoding && !standalone &&
		    strcmp(value, "1.0") == 0)
			version = true;
		else if (strcmp(name, "encoding") == 0 && version && !encoding && !standalone &&
			 strcasecmp(value, "UTF-8") == 0)
			encoding = true;
		else if (strcmp(name, "standalone") == 0 && version && !standalone &&
			 (strcmp(value, "yes") == 0 || strcmp(value, "no") == 0))
			standalone = true;
		else
			return -EINVAL;
	}
}

/* Character data up to the next '<', with the five predefined entities decoded. */
static int text(struct cursor *c, char *out, size_t out_size)
{
	static const struct {
		const char *ref;
		char ch;
	} entities[] = { { "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' }, { "&quot;", '"' },
			 { "&apos;", '\'' } };
	size_t n = 0;

	while (c->i < c->len && c->s[c->i] != '<') {
		char ch = c->s[c->i];

		if (ch == '&') {
			size_t k;

			for (k = 0; k < sizeof(entities) / sizeof(entities[0]); k++)
				if (take(c, entities[k].ref))
					break;
			if (k == sizeof(entities) / sizeof(entities[0]))
				return -EINVAL;
			ch = entities[k].ch;
		} else {
			if ((unsigned char)ch < 0x20 || ch == 0x7f)
				return -EINVAL;
			c->i++;
		}
		if (n >= out_size - 1)
			return -EINVAL;
		out[n++] = ch;
	}
	out[n] = '\0';
	return 0;
}

/* <name>text</name> with whitespace before it. */
static int element(struct cursor *c, const char *name, char *out, size_t out_size)
{
	char open[32], close[32];
	int r;

	snprintf(open, sizeof(open), "<%s>", name);
	snprintf(close, sizeof(close), "</%s>", name);
	skip_ws(c);
	if (!take(c, open))
		return -EINVAL;
	r = text(c, out, out_size);
	if (r < 0)
		return r;
	return take(c, close) ? 0 : -EINVAL;
}

/* <BootstrappingInfo> or <BootstrappingInfo xmlns="uri:3gpp-gba"> */
static int root_open(struct cursor *c)
{
	char name[16], value[64];
	int r;

	skip_ws(c);
	if (!take(c, "<BootstrappingInfo"))
		return -EINVAL;
	if (take(c, ">"))
		return 0;
	if (c->i >= c->len || !strchr(" \t\r\n", c->s[c->i]) || !c->s[c->i])
		return -EINVAL;
	skip_ws(c);
	r = attribute(c, name, sizeof(name), value, sizeof(value));
	if (r < 0)
		return r;
	if (strcmp(name, "xmlns") != 0 || strcmp(value, GBA_NS) != 0)
		return -EINVAL;
	skip_ws(c);
	return take(c, ">") ? 0 : -EINVAL;
}

int gba_bootstrap_info_parse(const char *doc, size_t len, struct gba_bootstrap_info *ret)
{
	struct cursor c = { doc, len, 0 };
	struct gba_bootstrap_info info = { 0 };
	char when[64];
	int r;

	if (len > GBA_BSF_XML_MAX)
		return -E2BIG;
	if (memchr(doc, '\0', len))
		return -EINVAL;
	r = declaration(&c);
	if (r == 0)
		r = root_open(&c);
	if (r == 0)
		r = element(&c, "btid", info.btid, sizeof(info.btid));
	if (r == 0)
		r = element(&c, "lifetime", when, sizeof(when));
	if (r < 0)
		return r;
	skip_ws(&c);
	if (!take(&c, "</BootstrappingInfo>"))
		return -EINVAL;
	skip_ws(&c);
	if (c.i != c.len)
		return -EINVAL;
	if (!gba_btid_valid(info.btid) || gba_time_parse(when, &info.lifetime) < 0)
		return -EINVAL;
	*ret = info;
	return 0;
}
