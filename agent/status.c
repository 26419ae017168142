/* SPDX-License-Identifier: Apache-2.0 */
/* The agent's status file: JSON out (atomically) and back in, for m2msactl status. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/status.h"
#include "common/fileio.h"
#include "common/json.h"
#include "common/util.h"

/* The object, one line, onto f. */
static void status_print(FILE *f, const struct agent_status *st)
{
	fprintf(f, "{\"state\":");
	json_write_string(f, st->state);
	fprintf(f, ",\"node_id\":");
	json_write_string(f, st->node_id);
	fprintf(f, ",\"mas\":");
	json_write_string(f, st->mas);
	fprintf(f, ",\"key_id\":");
	json_write_string(f, st->key_id);
	fprintf(f, ",\"expiry\":%" PRIu64 ",\"next_key_id\":", st->expiry);
	json_write_string(f, st->next_key_id);
	fprintf(f, ",\"next_expiry\":%" PRIu64 ",\"next_rekey\":%" PRIu64
		   ",\"retry_at\":%" PRIu64 ",\"failures\":%" PRIu32 ",\"last_failure\":",
		st->next_expiry, st->next_rekey, st->retry_at, st->failures);
	if (st->last_failure_time) {
		fprintf(f, "{\"time\":%" PRIu64 ",\"reason\":", st->last_failure_time);
		json_write_string(f, st->last_failure_reason);
		fprintf(f, "}");
	} else {
		fprintf(f, "null");
	}
	fprintf(f, ",\"pid\":%" PRId64 ",\"updated\":%" PRIu64, st->pid, st->updated);
	for (size_t i = 0; i < st->n_esp && i < AGENT_STATUS_ESP_MAX; i++) {
		const struct agent_status_esp *e = &st->esp[i];

		fprintf(f, i == 0 ? ",\"esp\":[{\"peer\":" : ",{\"peer\":");
		json_write_string(f, e->peer);
		fprintf(f, ",\"state\":");
		json_write_string(f, e->state);
		fprintf(f, ",\"spi_in\":%" PRIu32 ",\"spi_out\":%" PRIu32 ",\"expiry\":%" PRIu64
			   ",\"error\":", e->spi_in, e->spi_out, e->expiry);
		json_write_string(f, e->error);
		fprintf(f, i + 1 == st->n_esp ? "}]" : "}");
	}
	fprintf(f, "}\n");
}

int agent_status_format(const struct agent_status *st, char *buf, size_t buf_len)
{
	_cleanup_free_ char *out = NULL;
	size_t len = 0;
	FILE *f;

	if (buf_len == 0)
		return -ENOBUFS;
	f = open_memstream(&out, &len);
	if (!f)
		return -errno;
	status_print(f, st);
	if (fclose(f) != 0)
		return -ENOMEM;
	if (len >= buf_len)
		return -ENOBUFS;
	memcpy(buf, out, len + 1);
	return 0;
}

/* A small JSON reader for the object above: strings, integers, null, one nested object. */
struct in {
	const char *p;
};

static void skip_ws(struct in *in)
{
	while (*in->p == ' ' || *in->p == '\t' || *in->p == '\n' || *in->p == '\r')
		in->p++;
}

static bool accept(struct in *in, char c)
{
	skip_ws(in);
	if (*in->p != c)
		return false;
	in->p++;
	return true;
}

/* Read a string into buf (truncated to buf_len - 1; buf may be NULL to skip). */
static int read_string(struct in *in, char *buf, size_t buf_len)
{
	size_t n = 0;

	if (!accept(in, '"'))
		return -EBADMSG;
	for (;;) {
		char c = *in->p++;

		if (c == '\0' || (unsigned char)c < 0x20)
			return -EBADMSG;
		if (c == '"')
			break;
		if (c == '\\') {
			char e = *in->p++;

			switch (e) {
			case '"': case '\\': case '/': c = e; break;
			case 'n': c = '\n'; break;
			case 't': c = '\t'; break;
			case 'r': c = '\r'; break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'u': {
				unsigned v = 0;

				for (int i = 0; i < 4; i++) {
					if (!isxdigit((unsigned char)in->p[i]))
						return -EBADMSG;
					v = v * 16 + (unsigned)(isdigit((unsigned char)in->p[i])
						? in->p[i] - '0' : (tolower((unsigned char)in->p[i]) - 'a' + 10));
				}
				in->p += 4;
				c = v < 0x80 ? (char)v : '?';
				break;
			}
			default:
				return -EBADMSG;
			}
		}
		if (buf && n + 1 < buf_len)
			buf[n++] = c;
	}
	if (buf && buf_len)
		buf[n] = '\0';
	return 0;
}

static int read_int(struct in *in, int64_t *ret)
{
	char *end;
	long long v;

	skip_ws(in);
	if (!(*in->p == '-' || isdigit((unsigned char)*in->p)))
		return -EBADMSG;
	errno = 0;
	v = strtoll(in->p, &end, 10);
	if (errno || end == in->p)
		return -EBADMSG;
	in->p = end;
	*ret = v;
	return 0;
}

static int skip_value(struct in *in, int depth);

static int skip_object(struct in *in, int depth)
{
	if (depth > 4 || !accept(in, '{'))
		return -EBADMSG;
	if (accept(in, '}'))
		return 0;
	do {
		if (read_string(in, NULL, 0) < 0 || !accept(in, ':') || skip_value(in, depth + 1) < 0)
			return -EBADMSG;
	} while (accept(in, ','));
	return accept(in, '}') ? 0 : -EBADMSG;
}

static int skip_value(struct in *in, int depth)
{
	int64_t v;

	skip_ws(in);
	if (*in->p == '"')
		return read_string(in, NULL, 0);
	if (*in->p == '{')
		return skip_object(in, depth);
	if (*in->p == '[') {
		in->p++;
		if (depth > 4)
			return -EBADMSG;
		if (accept(in, ']'))
			return 0;
		do {
			if (skip_value(in, depth + 1) < 0)
				return -EBADMSG;
		} while (accept(in, ','));
		return accept(in, ']') ? 0 : -EBADMSG;
	}
	if (strncmp(in->p, "null", 4) == 0 || strncmp(in->p, "true", 4) == 0) {
		in->p += 4;
		return 0;
	}
	if (strncmp(in->p, "false", 5) == 0) {
		in->p += 5;
		return 0;
	}
	return read_int(in, &v);
}

static int read_u64(struct in *in, uint64_t *ret)
{
	int64_t v;

	if (read_int(in, &v) < 0 || v < 0)
		return -EBADMSG;
	*ret = (uint64_t)v;
	return 0;
}

static int read_failure(struct in *in, struct agent_status *st)
{
	skip_ws(in);
	if (strncmp(in->p, "null", 4) == 0) {
		in->p += 4;
		return 0;
	}
	if (!accept(in, '{'))
		return -EBADMSG;
	if (accept(in, '}'))
		return 0;
	do {
		char key[32];
		int r;

		if (read_string(in, key, sizeof(key)) < 0 || !accept(in, ':'))
			return -EBADMSG;
		if (strcmp(key, "time") == 0)
			r = read_u64(in, &st->last_failure_time);
		else if (strcmp(key, "reason") == 0)
			r = read_string(in, st->last_failure_reason, sizeof(st->last_failure_reason));
		else
			r = skip_value(in, 2);
		if (r < 0)
			return r;
	} while (accept(in, ','));
	return accept(in, '}') ? 0 : -EBADMSG;
}

static int read_esp_entry(struct in *in, struct agent_status_esp *e)
{
	if (!accept(in, '{'))
		return -EBADMSG;
	if (accept(in, '}'))
		return 0;
	do {
		char key[32];
		uint64_t v = 0;
		int r;

		if (read_string(in, key, sizeof(key)) < 0 || !accept(in, ':'))
			return -EBADMSG;
		if (strcmp(key, "peer") == 0)
			r = read_string(in, e->peer, sizeof(e->peer));
		else if (strcmp(key, "state") == 0)
			r = read_string(in, e->state, sizeof(e->state));
		else if (strcmp(key, "error") == 0)
			r = read_string(in, e->error, sizeof(e->error));
		else if (strcmp(key, "expiry") == 0)
			r = read_u64(in, &e->expiry);
		else if (strcmp(key, "spi_in") == 0 || strcmp(key, "spi_out") == 0) {
			r = read_u64(in, &v);
			if (r == 0 && v > UINT32_MAX)
				r = -EBADMSG;
			*(key[4] == 'i' ? &e->spi_in : &e->spi_out) = (uint32_t)v;
		} else
			r = skip_value(in, 3);
		if (r < 0)
			return r;
	} while (accept(in, ','));
	return accept(in, '}') ? 0 : -EBADMSG;
}

/* "esp": an array of peer objects; entries beyond AGENT_STATUS_ESP_MAX are skipped. */
static int read_esp(struct in *in, struct agent_status *st)
{
	if (!accept(in, '['))
		return -EBADMSG;
	if (accept(in, ']'))
		return 0;
	do {
		struct agent_status_esp skip;
		struct agent_status_esp *e = st->n_esp < AGENT_STATUS_ESP_MAX ? &st->esp[st->n_esp]
										 : &skip;

		memset(e, 0, sizeof(*e));
		if (read_esp_entry(in, e) < 0)
			return -EBADMSG;
		if (e != &skip)
			st->n_esp++;
	} while (accept(in, ','));
	return accept(in, ']') ? 0 : -EBADMSG;
}

int agent_status_parse(const char *json, struct agent_status *ret)
{
	struct agent_status st;
	struct in in = { json };

	memset(&st, 0, sizeof(st));
	if (!accept(&in, '{'))
		return -EBADMSG;
	if (!accept(&in, '}')) {
		do {
			char key[32];
			int64_t v;
			uint64_t failures = 0;
			int r;

			if (read_string(&in, key, sizeof(key)) < 0 || !accept(&in, ':'))
				return -EBADMSG;
			if (strcmp(key, "state") == 0)
				r = read_string(&in, st.state, sizeof(st.state));
			else if (strcmp(key, "node_id") == 0)
				r = read_string(&in, st.node_id, sizeof(st.node_id));
			else if (strcmp(key, "mas") == 0)
				r = read_string(&in, st.mas, sizeof(st.mas));
			else if (strcmp(key, "key_id") == 0)
				r = read_string(&in, st.key_id, sizeof(st.key_id));
			else if (strcmp(key, "next_key_id") == 0)
				r = read_string(&in, st.next_key_id, sizeof(st.next_key_id));
			else if (strcmp(key, "expiry") == 0)
				r = read_u64(&in, &st.expiry);
			else if (strcmp(key, "next_expiry") == 0)
				r = read_u64(&in, &st.next_expiry);
			else if (strcmp(key, "next_rekey") == 0)
				r = read_u64(&in, &st.next_rekey);
			else if (strcmp(key, "retry_at") == 0)
				r = read_u64(&in, &st.retry_at);
			else if (strcmp(key, "updated") == 0)
				r = read_u64(&in, &st.updated);
			else if (strcmp(key, "failures") == 0) {
				r = read_u64(&in, &failures);
				st.failures = failures > UINT32_MAX ? UINT32_MAX : (uint32_t)failures;
			} else if (strcmp(key, "pid") == 0) {
				r = read_int(&in, &v);
				st.pid = v;
			} else if (strcmp(key, "last_failure") == 0)
				r = read_failure(&in, &st);
			else if (strcmp(key, "esp") == 0)
				r = read_esp(&in, &st);
			else
				r = skip_value(&in, 1);
			if (r < 0)
				return r;
		} while (accept(&in, ','));
		if (!accept(&in, '}'))
			return -EBADMSG;
	}
	skip_ws(&in);
	if (*in.p != '\0' || st.state[0] == '\0')
		return -EBADMSG;
	*ret = st;
	return 0;
}

int agent_status_write(const char *path, const struct agent_status *st)
{
	char buf[4096];
	int r;

	r = agent_status_format(st, buf, sizeof(buf));
	if (r < 0)
		return r;
	return fileio_write_atomic(path, buf, strlen(buf), 0644);
}

int agent_status_read(const char *path, struct agent_status *ret)
{
	char buf[4096];
	size_t len;
	int r;

	r = fileio_read(path, (uint8_t *)buf, sizeof(buf) - 1, &len);
	if (r < 0)
		return r == -EFBIG ? -EBADMSG : r;
	buf[len] = '\0';
	return agent_status_parse(buf, ret);
}
