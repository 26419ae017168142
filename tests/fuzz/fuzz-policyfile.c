/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for the signed PCR policy parsers (tpm/policyfile.c): policy
 * files a node reads from state_dir/policies/ and m2msactl policy-install takes,
 * and the PCR value lists (tpm2_pcrread output) m2masctl policy sign takes. A
 * policy that parses must format and parse back to the same policy.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tpm/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tpm_signed_policy p, q;
	uint8_t values[TPM_PCR_COUNT][32];
	char err[TPM_POLICY_ERR_MAX] = "";
	char *text = NULL;

	if (tpm_policy_parse((const char *)data, size, &p, err, sizeof(err)) == 0) {
		if (tpm_policy_format(&p, &text) != 0 ||
		    tpm_policy_parse(text, strlen(text), &q, err, sizeof(err)) != 0 ||
		    q.epoch != p.epoch || q.pcr_mask != p.pcr_mask ||
		    memcmp(q.sig_r, p.sig_r, 32) != 0 || memcmp(q.sig_s, p.sig_s, 32) != 0)
			abort();
		for (unsigned i = 0; i < TPM_PCR_COUNT; i++)
			if ((p.pcr_mask & (1u << i)) && memcmp(p.pcr[i], q.pcr[i], 32) != 0)
				abort();
		free(text);
	} else if (!err[0]) {
		abort();
	}
	err[0] = '\0';
	if (tpm_pcr_values_parse((const char *)data, size, 0x95, values, err, sizeof(err)) != 0 &&
	    !err[0])
		abort();
	return 0;
}
