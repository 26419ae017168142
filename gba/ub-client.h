/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node's side of Ub (TS 24.109 §5.2, RFC 3310 HTTP Digest AKAv1-MD5 with
 * qop auth-int), split into steps so that the HTTP transfers can run anywhere
 * (a worker thread, gba/ub-http.h) while the USIM, which may be the TPM the
 * caller's thread owns, is only touched by the caller:
 *
 *   gba_ub_new(impi, bsf_url)            -> the first Authorization (username only)
 *   401 WWW-Authenticate  -> gba_ub_on_challenge(usim)
 *        AUTN verifies      -> Authorization with RES as the password   (GBA_UB_ANSWER)
 *        SQN out of window  -> Authorization with auts (one resync)     (GBA_UB_RESYNC)
 *        MAC failure        -> -EKEYREJECTED "the BSF's challenge does not verify ..."
 *   200 BootstrappingInfo -> gba_ub_on_success(): Authentication-Info rspauth over
 *        the body verified, B-TID and lifetime parsed strictly, Ks_NAF for the NAF.
 *
 * RES, CK and IK are held between the two steps in the struct (wiped by
 * gba_ub_free() and as soon as Ks_NAF is made); Ks and Ks_NAF never live here
 * longer than the call that makes them. Nothing here logs or prints; errors
 * come back as -errno with a message for a person in err.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "gba/bootstrap-info.h"
#include "gba/btid.h"
#include "gba/digest.h"

struct usim;
struct gba_ub;

#define GBA_UB_KS_NAF_LEN 32

enum gba_ub_step {
	GBA_UB_ANSWER = 0, /* send the Authorization; a 200 should follow */
	GBA_UB_RESYNC = 1, /* send the Authorization with auts; a new 401 should follow */
};

/* What a bootstrap gives: wipe with gba_ub_result_wipe(). */
struct gba_ub_result {
	char btid[GBA_BTID_MAX + 1];
	int64_t lifetime; /* Ks expiry, epoch seconds UTC */
	uint8_t ks_naf[GBA_UB_KS_NAF_LEN];
};
void gba_ub_result_wipe(struct gba_ub_result *r);

/*
 * bsf_url: "https://host[:port][/path]"; the digest uri is its path ("/" when
 * none), the realm of the first request its host. -EINVAL (err says which) for
 * an invalid IMPI or URL.
 */
int gba_ub_new(const char *impi, const char *bsf_url, struct gba_ub **ret, char *err,
	       size_t err_len);
void gba_ub_free(struct gba_ub *u);
static inline void gba_ub_freep(struct gba_ub **u)
{
	gba_ub_free(*u);
	*u = NULL;
}

/* The Authorization header value of the first GET (username=IMPI, empty nonce). */
int gba_ub_first_authz(const struct gba_ub *u, char out[static GBA_HEADER_MAX]);

/*
 * A 401's WWW-Authenticate value www: run the USIM on its nonce and write the
 * next Authorization into out. Returns GBA_UB_ANSWER or GBA_UB_RESYNC; a
 * second synchronisation failure in a row is -EPROTO (the BSF did not resync).
 * -EKEYREJECTED: MAC failure (wrong K at the node or a false BSF); -EBADMSG
 * malformed challenge; the USIM's errors as usim_authenticate().
 */
int gba_ub_on_challenge(struct gba_ub *u, struct usim *usim, const char *www,
			char out[static GBA_HEADER_MAX], char *err, size_t err_len);

/*
 * The 200 OK: content type ctype, Authentication-Info ainfo (NULL if absent),
 * body. Verifies rspauth, parses BootstrappingInfo, checks that the B-TID's
 * RAND is the challenge's RAND and that the lifetime is in the future (now,
 * epoch seconds), then Ks_NAF = KDF(CK || IK, "gba-me", RAND, IMPI,
 * naf_fqdn || 01 00 00 00 07). RES, CK, IK are wiped. -EBADMSG with err for
 * anything that does not verify.
 */
int gba_ub_on_success(struct gba_ub *u, const char *ctype, const char *ainfo, const char *body,
		      size_t body_len, const char *naf_fqdn, int64_t now, struct gba_ub_result *ret,
		      char *err, size_t err_len);

/* One HTTP reply from the BSF, as the transport got it. */
struct gba_ub_reply {
	long status;
	char www[GBA_HEADER_MAX];
	char ainfo[GBA_HEADER_MAX];
	char ctype[128];
	char body[GBA_BSF_XML_MAX + 1];
	size_t len;
	int overflow; /* a header or the body was longer than the fields above */
};

/*
 * One step of gba_ub_bootstrap() for a driver that does the GETs itself: given
 * the reply to the last request, either the next Authorization in next (return
 * 1: GET again) or the result (return 0), or -errno: -EACCES when the BSF
 * refuses the subscriber (403) or our RES answer (a new 401 after it), -EPROTO
 * for any other status, the errors of the two functions above.
 */
int gba_ub_step(struct gba_ub *u, struct usim *usim, const struct gba_ub_reply *reply,
		const char *naf_fqdn, int64_t now, char next[static GBA_HEADER_MAX],
		struct gba_ub_result *ret, char *err, size_t err_len);

/* The digest uri (the URL's path) and the BSF host, for the transport and messages. */
const char *gba_ub_uri(const struct gba_ub *u);
const char *gba_ub_host(const struct gba_ub *u);
