/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for the wrapped-import parsers (tpm/dupfile.c): the km.dup
 * decoder m2msactl provision --import runs on a file from the provider, and the
 * srk.pub check m2masctl --wrap-to runs on a file from a node. A km.dup that
 * decodes must encode back to the same bytes.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tpm/dup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t again[TPM_DUP_FILE_MAX];
	struct tpm_dup_blob b;
	TPM2B_PUBLIC pub;
	char err[TPM_DUP_ERR_MAX];
	size_t len = 0;

	if (tpm_dup_blob_decode(data, size, &b, err, sizeof(err)) == 0) {
		if (tpm_dup_blob_encode(&b, again, sizeof(again), &len) != 0 || len != size ||
		    memcmp(again, data, size) != 0)
			abort();
	} else if (!err[0]) {
		abort(); /* every refusal names its reason */
	}
	err[0] = '\0';
	if (tpm_srk_pub_parse(data, size, &pub, err, sizeof(err)) != 0 && !err[0])
		abort();
	return 0;
}
