/* SPDX-License-Identifier: Apache-2.0 */
/* Non-allocating CBOR item writer and strict streaming reader (cbor-util.h). */
#include <cbor.h>
#include <errno.h>
#include <string.h>

#include "common/cbor-util.h"

/* ---- writer ---- */

/* Record the result of one cbor_encode_* call (0 means it did not fit). */
static void w_advance(struct cbor_util_writer *w, size_t n)
{
	if (n == 0)
		w->error = -EMSGSIZE;
	else
		w->off += n;
}

void cbor_util_put_uint(struct cbor_util_writer *w, uint64_t v)
{
	if (!w->error)
		w_advance(w, cbor_encode_uint(v, w->p + w->off, w->len - w->off));
}

void cbor_util_put_map(struct cbor_util_writer *w, size_t n_pairs)
{
	if (!w->error)
		w_advance(w, cbor_encode_map_start(n_pairs, w->p + w->off, w->len - w->off));
}

void cbor_util_put_array(struct cbor_util_writer *w, size_t n)
{
	if (!w->error)
		w_advance(w, cbor_encode_array_start(n, w->p + w->off, w->len - w->off));
}

void cbor_util_put_bytes(struct cbor_util_writer *w, bool text, const void *data, size_t n)
{
	if (w->error)
		return;
	if (text)
		w_advance(w, cbor_encode_string_start(n, w->p + w->off, w->len - w->off));
	else
		w_advance(w, cbor_encode_bytestring_start(n, w->p + w->off, w->len - w->off));
	if (w->error)
		return;
	if (n > w->len - w->off) {
		w->error = -EMSGSIZE;
		return;
	}
	if (n)
		memcpy(w->p + w->off, data, n);
	w->off += n;
}

void cbor_util_put_key_uint(struct cbor_util_writer *w, uint64_t key, uint64_t v)
{
	cbor_util_put_uint(w, key);
	cbor_util_put_uint(w, v);
}

void cbor_util_put_key_bytes(struct cbor_util_writer *w, uint64_t key, bool text, const void *data,
			     size_t n)
{
	cbor_util_put_uint(w, key);
	cbor_util_put_bytes(w, text, data, n);
}

/* ---- reader ---- */

static void on_uint8(void *ctx, uint8_t v)
{
	*(struct cbor_util_item *)ctx = (struct cbor_util_item){ .kind = CBOR_UTIL_UINT, .value = v };
}

static void on_uint16(void *ctx, uint16_t v)
{
	*(struct cbor_util_item *)ctx = (struct cbor_util_item){ .kind = CBOR_UTIL_UINT, .value = v };
}

static void on_uint32(void *ctx, uint32_t v)
{
	*(struct cbor_util_item *)ctx = (struct cbor_util_item){ .kind = CBOR_UTIL_UINT, .value = v };
}

static void on_uint64(void *ctx, uint64_t v)
{
	*(struct cbor_util_item *)ctx = (struct cbor_util_item){ .kind = CBOR_UTIL_UINT, .value = v };
}

static void on_bytes(void *ctx, cbor_data data, size_t len)
{
	*(struct cbor_util_item *)ctx =
		(struct cbor_util_item){ .kind = CBOR_UTIL_BYTES, .data = data, .len = len };
}

static void on_text(void *ctx, cbor_data data, size_t len)
{
	*(struct cbor_util_item *)ctx =
		(struct cbor_util_item){ .kind = CBOR_UTIL_TEXT, .data = data, .len = len };
}

static void on_array(void *ctx, size_t n)
{
	*(struct cbor_util_item *)ctx = (struct cbor_util_item){ .kind = CBOR_UTIL_ARRAY, .value = n };
}

static void on_map(void *ctx, size_t n)
{
	*(struct cbor_util_item *)ctx = (struct cbor_util_item){ .kind = CBOR_UTIL_MAP, .value = n };
}

/* Negative integers, indefinite-length items, tags, floats and simple values. */
static void on_other_u8(void *ctx, uint8_t v)
{
	((struct cbor_util_item *)ctx)->kind = CBOR_UTIL_OTHER;
}

static void on_other_u16(void *ctx, uint16_t v)
{
	((struct cbor_util_item *)ctx)->kind = CBOR_UTIL_OTHER;
}

static void on_other_u32(void *ctx, uint32_t v)
{
	((struct cbor_util_item *)ctx)->kind = CBOR_UTIL_OTHER;
}

static void on_other_u64(void *ctx, uint64_t v)
{
	((struct cbor_util_item *)ctx)->kind = CBOR_UTIL_OTHER;
}

static void on_other(void *ctx)
{
	((struct cbor_util_item *)ctx)->kind = CBOR_UTIL_OTHER;
}

static void on_other_float(void *ctx, float v)
{
	((struct cbor_util_item *)ctx)->kind = CBOR_UTIL_OTHER;
}

static void on_other_double(void *ctx, double v)
{
	((struct cbor_util_item *)ctx)->kind = CBOR_UTIL_OTHER;
}

static void on_other_bool(void *ctx, bool v)
{
	((struct cbor_util_item *)ctx)->kind = CBOR_UTIL_OTHER;
}

/* Every member is set: libcbor calls them without a NULL check. */
static const struct cbor_callbacks item_callbacks = {
	.uint8 = on_uint8,
	.uint16 = on_uint16,
	.uint32 = on_uint32,
	.uint64 = on_uint64,
	.negint64 = on_other_u64,
	.negint32 = on_other_u32,
	.negint16 = on_other_u16,
	.negint8 = on_other_u8,
	.byte_string_start = on_other,
	.byte_string = on_bytes,
	.string = on_text,
	.string_start = on_other,
	.indef_array_start = on_other,
	.array_start = on_array,
	.indef_map_start = on_other,
	.map_start = on_map,
	.tag = on_other_u64,
	.float2 = on_other_float,
	.float4 = on_other_float,
	.float8 = on_other_double,
	.undefined = on_other,
	.null = on_other,
	.boolean = on_other_bool,
	.indef_break = on_other,
};

/* Length of the shortest head for argument v (RFC 8949 §4.2.1, preferred serialization). */
static size_t head_len(uint64_t v)
{
	if (v < 24)
		return 1;
	if (v <= UINT8_MAX)
		return 2;
	if (v <= UINT16_MAX)
		return 3;
	if (v <= UINT32_MAX)
		return 5;
	return 9;
}

int cbor_util_next(struct cbor_util_reader *rd, struct cbor_util_item *ret)
{
	struct cbor_decoder_result res;
	struct cbor_util_item it = { .kind = CBOR_UTIL_NONE };
	size_t arg_len;

	if (rd->off >= rd->len)
		return -EBADMSG;
	res = cbor_stream_decode(rd->p + rd->off, rd->len - rd->off, &item_callbacks, &it);
	if (res.status != CBOR_DECODER_FINISHED || res.read == 0 || res.read > rd->len - rd->off)
		return -EBADMSG;
	switch (it.kind) {
	case CBOR_UTIL_UINT:
	case CBOR_UTIL_ARRAY:
	case CBOR_UTIL_MAP:
		arg_len = head_len(it.value);
		break;
	case CBOR_UTIL_BYTES:
	case CBOR_UTIL_TEXT:
		if (it.len > res.read)
			return -EBADMSG;
		arg_len = head_len(it.len) + it.len;
		break;
	default:
		return -EBADMSG;
	}
	if (arg_len != res.read)
		return -EBADMSG;
	rd->off += res.read;
	*ret = it;
	return 0;
}

void cbor_util_copy_text(const struct cbor_util_item *it, char *out)
{
	if (it->len)
		memcpy(out, it->data, it->len);
	out[it->len] = '\0';
}

/* ---- message maps ---- */

int cbor_util_read_map(struct cbor_util_reader *rd, const struct cbor_util_map_rules *rules,
		       struct cbor_util_map *ret)
{
	struct cbor_util_item map, key, val;
	int r;

	ret->present = 0;
	ret->unknown_key = false;
	r = cbor_util_next(rd, &map);
	if (r < 0)
		return r;
	if (map.kind != CBOR_UTIL_MAP || map.value > rules->max_pairs)
		return -EBADMSG;
	for (uint64_t i = 0; i < map.value; i++) {
		r = cbor_util_next(rd, &key);
		if (r < 0)
			return r;
		if (key.kind != CBOR_UTIL_UINT)
			return -EBADMSG;
		r = cbor_util_next(rd, &val);
		if (r < 0)
			return r;
		if (val.kind == CBOR_UTIL_MAP)
			return -EBADMSG;
		if (key.value >= rules->n_keys) {
			/* Unknown key: refused by the caller, unless the version is not its own. */
			if (val.kind == CBOR_UTIL_ARRAY)
				return -EBADMSG;
			ret->unknown_key = true;
			continue;
		}
		if (ret->present & (1u << key.value))
			return -EBADMSG; /* duplicate */
		if (val.kind != rules->kinds[key.value])
			return -EBADMSG;
		ret->present |= 1u << key.value;
		ret->v[key.value] = val;
		if (val.kind != CBOR_UTIL_ARRAY)
			continue;
		if (val.value == 0 || val.value > rules->array_max || val.value > CBOR_UTIL_ARRAY_MAX)
			return -EBADMSG;
		for (size_t j = 0; j < val.value; j++) {
			struct cbor_util_item e;

			r = cbor_util_next(rd, &e);
			if (r < 0)
				return r;
			if (e.kind != CBOR_UTIL_UINT)
				return -EBADMSG;
			ret->array[j] = e.value;
		}
	}
	if (rd->off != rd->len)
		return -EBADMSG; /* trailing bytes */
	return 0;
}
