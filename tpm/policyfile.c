/* SPDX-License-Identifier: Apache-2.0 */
/* Parsers for signed policy files and PCR value lists (tpm2_pcrread output). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tpm/policy.h"

/* 2*n hex digits at s (exactly: no hex digit may follow) into out. */
static int hex_exact(const char *s, size_t avail, size_t n, uint8_t *out)
{
	if (avail < 2 * n)
		return -EINVAL;
	for (size_t i = 0; i < 2 * n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return -EINVAL;
	if (avail > 2 * n && isxdigit((unsigned char)s[2 * n]))
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		char b[3] = { s[2 * i], s[2 * i + 1], 0 };

		out[i] = (uint8_t)strtoul(b, NULL, 16);
	}
	return 0;
}

/* The next line of text (without its newline) as [*ls, *ls + *ll); false at the end. */
static bool next_line(const char *text, size_t len, size_t *pos, const char **ls, size_t *ll)
{
	const char *nl;

	if (*pos >= len)
		return false;
	*ls = text + *pos;
	nl = memchr(*ls, '\n', len - *pos);
	*ll = nl ? (size_t)(nl - *ls) : len - *pos;
	*pos += *ll + (nl ? 1 : 0);
	return true;
}

static bool blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isspace((unsigned char)s[i]))
			return false;
	return true;
}

/* "word " at the start of the line: the rest after it, else NULL. */
static const char *keyword(const char *s, size_t n, const char *word, size_t *rest)
{
	size_t w = strlen(word);

	if (n <= w || memcmp(s, word, w) != 0 || s[w] != ' ')
		return NULL;
	*rest = n - w - 1;
	return s + w + 1;
}

static int parse_uint(const char *s, size_t n, uint32_t max, uint32_t *ret)
{
	uint64_t v = 0;

	if (n == 0 || n > 10)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > max)
		return -EINVAL;
	*ret = (uint32_t)v;
	return 0;
}

static int bad(char *err, size_t err_len, unsigned line, const char *what)
{
	snprintf(err, err_len, "line %u: %s (the file is damaged, or not a signed policy from "
			       "m2masctl policy sign)", line, what);
	return -EBADMSG;
}

/* One "pcr N hex" line of a policy file. */
static int policy_pcr_line(const char *v, size_t n, struct tpm_signed_policy *p,
			   uint32_t *seen)
{
	const char *sp = memchr(v, ' ', n);
	uint32_t idx;

	if (!sp || parse_uint(v, (size_t)(sp - v), TPM_PCR_COUNT - 1, &idx) < 0 ||
	    (*seen & (UINT32_C(1) << idx)) ||
	    hex_exact(sp + 1, n - (size_t)(sp + 1 - v), 32, p->pcr[idx]) < 0 ||
	    n - (size_t)(sp + 1 - v) != 64)
		return -EINVAL;
	*seen |= UINT32_C(1) << idx;
	return 0;
}

int tpm_policy_parse(const char *text, size_t len, struct tpm_signed_policy *ret, char *err,
		     size_t err_len)
{
	struct tpm_signed_policy p;
	bool header = false, epoch = false, sig = false;
	uint32_t seen = 0;
	unsigned line = 0;
	const char *ls, *v;
	size_t pos = 0, ll, n;

	memset(&p, 0, sizeof(p));
	while (next_line(text, len, &pos, &ls, &ll)) {
		line++;
		if (ll && ls[ll - 1] == '\r')
			ll--;
		if (blank(ls, ll) || ls[0] == '#')
			continue;
		if (!header) {
			if (ll != 14 || memcmp(ls, "m2msa-policy 1", 14) != 0)
				return bad(err, err_len, line, "expected 'm2msa-policy 1'");
			header = true;
		} else if ((v = keyword(ls, ll, "epoch", &n))) {
			if (epoch || parse_uint(v, n, UINT32_MAX, &p.epoch) < 0)
				return bad(err, err_len, line, "bad or repeated epoch");
			epoch = true;
		} else if ((v = keyword(ls, ll, "pcrs", &n))) {
			char sel[128];

			if (p.pcr_mask || n >= sizeof(sel))
				return bad(err, err_len, line, "bad or repeated pcrs");
			memcpy(sel, v, n);
			sel[n] = '\0';
			if (tpm_policy_pcrs_parse(sel, &p.pcr_mask) < 0)
				return bad(err, err_len, line, "bad pcrs (expected e.g. sha256:0,7)");
		} else if ((v = keyword(ls, ll, "pcr", &n))) {
			if (policy_pcr_line(v, n, &p, &seen) < 0)
				return bad(err, err_len, line, "bad pcr line (expected 'pcr N <64 hex>')");
		} else if ((v = keyword(ls, ll, "signature", &n))) {
			if (sig || n != 128 || hex_exact(v, 64, 32, p.sig_r) < 0 ||
			    hex_exact(v + 64, 64, 32, p.sig_s) < 0)
				return bad(err, err_len, line, "bad signature (expected 128 hex digits)");
			sig = true;
		} else {
			return bad(err, err_len, line, "unknown item");
		}
	}
	if (!header || !epoch || !p.pcr_mask || !sig)
		return bad(err, err_len, line,
			   "incomplete: m2msa-policy, epoch, pcrs and signature are required");
	if (seen != p.pcr_mask)
		return bad(err, err_len, line, "the pcr lines do not match the pcrs selection");
	*ret = p;
	return 0;
}

int tpm_pcr_values_parse(const char *text, size_t len, uint32_t mask,
			 uint8_t values[TPM_PCR_COUNT][32], char *err, size_t err_len)
{
	uint8_t got[TPM_PCR_COUNT][32];
	uint32_t seen = 0;
	const char *ls;
	size_t pos = 0, ll;

	while (next_line(text, len, &pos, &ls, &ll)) {
		size_t i = 0, rest;
		uint32_t idx;
		const char *v;

		while (i < ll && isspace((unsigned char)ls[i]))
			i++;
		if ((v = keyword(ls + i, ll - i, "pcr", &rest))) {
			/* "pcr N hex" */
			const char *sp = memchr(v, ' ', rest);

			if (!sp || parse_uint(v, (size_t)(sp - v), TPM_PCR_COUNT - 1, &idx) < 0 ||
			    hex_exact(sp + 1, rest - (size_t)(sp + 1 - v), 32, got[idx]) < 0)
				continue;
			seen |= UINT32_C(1) << idx;
			continue;
		}
		/* tpm2_pcrread: "  N : 0xHEX" (only lines of that shape count) */
		{
			size_t j = i;

			while (j < ll && ls[j] >= '0' && ls[j] <= '9')
				j++;
			if (j == i || parse_uint(ls + i, j - i, TPM_PCR_COUNT - 1, &idx) < 0)
				continue;
			while (j < ll && ls[j] == ' ')
				j++;
			if (j >= ll || ls[j] != ':')
				continue;
			j++;
			while (j < ll && ls[j] == ' ')
				j++;
			if (ll - j < 2 || ls[j] != '0' || (ls[j + 1] != 'x' && ls[j + 1] != 'X'))
				continue;
			if (hex_exact(ls + j + 2, ll - j - 2, 32, got[idx]) < 0)
				continue;
			seen |= UINT32_C(1) << idx;
		}
	}
	if ((seen & mask) != mask) {
		for (unsigned i = 0; i < TPM_PCR_COUNT; i++)
			if ((mask & ~seen) & (UINT32_C(1) << i)) {
				snprintf(err, err_len,
					 "no value for PCR %u (give the output of tpm2_pcrread "
					 "sha256:<the PCRs> from the node)", i);
				break;
			}
		return -EINVAL;
	}
	for (unsigned i = 0; i < TPM_PCR_COUNT; i++)
		if (mask & (UINT32_C(1) << i))
			memcpy(values[i], got[i], 32);
	return 0;
}
