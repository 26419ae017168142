/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Low-level CBOR helpers shared by the strict codecs (common/wire.c for the
 * node <-> MAS protocol, common/local-wire.c for the agent's local socket).
 * Encoding writes heads with libcbor's cbor_encode_* straight into the caller's
 * buffer; decoding walks a body one data item at a time with cbor_stream_decode.
 * Neither direction allocates, so no copy of a key ever sits in a libcbor heap
 * item. The reader refuses everything the protocols never use: negative
 * integers, tags, floats, simple values, indefinite lengths, and heads that are
 * not in their shortest form (RFC 8949 §4.2.1).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- writer ---- */

struct cbor_util_writer {
	uint8_t *p;
	size_t len;
	size_t off;
	int error; /* first error: -EMSGSIZE when the buffer was too small */
};

void cbor_util_put_uint(struct cbor_util_writer *w, uint64_t v);
/* A text (text true) or byte string of n bytes. */
void cbor_util_put_bytes(struct cbor_util_writer *w, bool text, const void *data, size_t n);
void cbor_util_put_map(struct cbor_util_writer *w, size_t n_pairs);
void cbor_util_put_array(struct cbor_util_writer *w, size_t n);
/* One pair of a map with uint keys: the key, then its uint or string value. */
void cbor_util_put_key_uint(struct cbor_util_writer *w, uint64_t key, uint64_t v);
void cbor_util_put_key_bytes(struct cbor_util_writer *w, uint64_t key, bool text, const void *data,
			     size_t n);

/* ---- reader ---- */

enum cbor_util_kind {
	CBOR_UTIL_NONE,  /* no callback ran */
	CBOR_UTIL_UINT,  /* value */
	CBOR_UTIL_BYTES, /* data, len */
	CBOR_UTIL_TEXT,  /* data, len */
	CBOR_UTIL_ARRAY, /* value = number of elements (definite length) */
	CBOR_UTIL_MAP,   /* value = number of pairs (definite length) */
	CBOR_UTIL_OTHER, /* anything the protocols never use: refused */
};

/* One data item as the streaming decoder reported it; data points into the body. */
struct cbor_util_item {
	enum cbor_util_kind kind;
	uint64_t value;
	const uint8_t *data;
	size_t len;
};

struct cbor_util_reader {
	const uint8_t *p;
	size_t len;
	size_t off;
};

/*
 * Decode the next data item (for arrays and maps: only their head). Returns 0,
 * or -EBADMSG for truncated input, kinds outside uint/bstr/tstr/array/map, and
 * heads that are not in their shortest form.
 */
int cbor_util_next(struct cbor_util_reader *rd, struct cbor_util_item *ret);

/* Copy a TEXT item's bytes into out (room for len + 1) and terminate them. */
void cbor_util_copy_text(const struct cbor_util_item *it, char *out);

/* ---- message maps ---- */

#define CBOR_UTIL_MAP_KEYS 32 /* known keys 0..31 (bits of cbor_util_map.present) */
#define CBOR_UTIL_ARRAY_MAX 4

/* How a protocol's message map looks: which keys it knows and what each carries. */
struct cbor_util_map_rules {
	const enum cbor_util_kind *kinds; /* kinds[k]: the kind key k carries */
	size_t n_keys;                    /* keys >= n_keys are unknown; <= CBOR_UTIL_MAP_KEYS */
	uint64_t max_pairs;               /* a map with more pairs is refused */
	size_t array_max;                 /* an ARRAY value holds 1..array_max uints */
};

/* What cbor_util_read_map() found. */
struct cbor_util_map {
	uint32_t present; /* bit k for every known key k seen */
	bool unknown_key; /* a key >= n_keys was seen (with a flat value) */
	struct cbor_util_item v[CBOR_UTIL_MAP_KEYS];
	/* The elements of the ARRAY value (a protocol has at most one array-valued key;
	 * its item's value is the count). */
	uint64_t array[CBOR_UTIL_ARRAY_MAX];
};

/*
 * Read the whole body as one definite-length map whose keys are uints, each at
 * most once, and whose values are uint, bstr or tstr, or an array of uints where
 * rules->kinds says so. Known keys must carry their kind; values of unknown keys
 * must still be flat, so that a message of a later version can be told apart
 * from garbage. Returns 0 or -EBADMSG (also for trailing bytes).
 */
int cbor_util_read_map(struct cbor_util_reader *rd, const struct cbor_util_map_rules *rules,
		       struct cbor_util_map *ret);
