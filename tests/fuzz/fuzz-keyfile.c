/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for the MAS key-file parser (mas/keyfile.c): the master key
 * file and node Km files given to m2masctl, 32 raw bytes or 64 hex digits. A key
 * that parses must format back to the same hex and parse again to the same bytes.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mas/keyfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t key[MAS_KEY_LEN], again[MAS_KEY_LEN];
	char hex[2 * MAS_KEY_LEN + 1];
	int p[2];

	if (mas_key_parse(data, size, key) == 0) {
		mas_key_to_hex(key, hex);
		if (strlen(hex) != 2 * MAS_KEY_LEN ||
		    mas_key_parse((const uint8_t *)hex, strlen(hex), again) != 0 ||
		    memcmp(key, again, MAS_KEY_LEN) != 0)
			abort();
	}
	/* The same bytes through a pipe, as m2masctl reads a key from stdin. */
	if (size <= 4096 && pipe(p) == 0) {
		struct secret *s = NULL;
		int r;

		if (size && write(p[1], data, size) != (ssize_t)size)
			abort();
		close(p[1]);
		r = mas_key_read_fd(p[0], &s);
		close(p[0]);
		/* The fd reader refuses files over 256 bytes; below that it agrees with the parser. */
		if (size <= 256 && (r == 0) != (mas_key_parse(data, size, again) == 0))
			abort();
		if (size > 256 && r == 0)
			abort();
		if (r == 0 && (s->len != MAS_KEY_LEN || memcmp(s->data, again, MAS_KEY_LEN) != 0))
			abort();
		secret_free(s);
	}
	return 0;
}
