/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Zn as a service (TS 29.309 Nbsp_GBA): POST /nbsp-gba/v1/bootstrapping-info-retrieval
 * over mutual TLS. The NAF's client certificate must chain to [bsf] naf_ca, be
 * valid for TLS client authentication and name the nafFqdn it asks for (DNS
 * subjectAltName or CN, gnutls_x509_crt_check_hostname). The answer carries
 * Ks_NAF = KDF(Ks, "gba-me", RAND, IMPI, nafFqdn || uaSecProtId), the session's
 * expiry and the IMPI. Unknown or expired B-TID: 404 ProblemDetails.
 */
#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bsf/bsf.h"
#include "common/log.h"
#include "common/secret.h"
#include "gba/datetime.h"
#include "gba/ks-naf.h"
#include "gba/zn-json.h"

static enum MHD_Result problem(struct MHD_Connection *c, unsigned status, const char *title,
			       const char *detail)
{
	struct gba_problem p = { .status = (int)status };
	char *body = NULL;

	snprintf(p.title, sizeof(p.title), "%s", title);
	snprintf(p.detail, sizeof(p.detail), "%s", detail);
	if (gba_problem_format(&p, &body) < 0)
		return MHD_NO;
	return bsf_reply(c, status, "application/problem+json", body, NULL, NULL);
}

/* 0 when the peer's certificate is from naf_ca, for client auth, and names fqdn (if not NULL). */
static int check_client(struct MHD_Connection *c, const char *fqdn, const char **why)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	gnutls_typed_vdata_st purpose = {
		.type = GNUTLS_DT_KEY_PURPOSE_OID,
		.data = (void *)(uintptr_t)GNUTLS_KP_TLS_WWW_CLIENT,
	};
	const gnutls_datum_t *chain;
	gnutls_x509_crt_t crt;
	unsigned n = 0, status = 0;
	gnutls_session_t tls;
	int ok;

	if (!ci || !ci->tls_session) {
		*why = "not a TLS connection";
		return -EACCES;
	}
	tls = (gnutls_session_t)ci->tls_session;
	chain = gnutls_certificate_get_peers(tls, &n);
	if (!chain || n == 0) {
		*why = "no client certificate (Zn needs the NAF's certificate from naf_ca)";
		return -EACCES;
	}
	if (gnutls_certificate_verify_peers(tls, &purpose, 1, &status) < 0 || status != 0) {
		*why = "client certificate not issued by naf_ca, expired, or not for client auth";
		return -EACCES;
	}
	if (!fqdn)
		return 0;
	if (gnutls_x509_crt_init(&crt) < 0)
		return -ENOMEM;
	ok = gnutls_x509_crt_import(crt, &chain[0], GNUTLS_X509_FMT_DER) == 0 &&
	     gnutls_x509_crt_check_hostname(crt, fqdn) != 0;
	gnutls_x509_crt_deinit(crt);
	if (!ok) {
		*why = "client certificate does not name the nafFqdn asked for";
		return -EPERM;
	}
	return 0;
}

static enum MHD_Result answer(struct bsf *b, struct MHD_Connection *c,
			      const struct gba_zn_request *req, const char *addr)
{
	_cleanup_secret_ struct secret *ks = NULL;
	struct gba_zn_response resp = { 0 };
	struct bsf_session sess;
	char *body = NULL;
	int r;

	r = bsf_store_session_get(b->store, req->btid, &sess, &ks);
	if (r == 0 && sess.expiry <= bsf_now())
		r = -ENOENT;
	if (r == -ENOENT) {
		log_notice("Zn: %s asked for unknown or expired B-TID %s", req->naf_fqdn, req->btid);
		return problem(c, MHD_HTTP_NOT_FOUND, "Not Found", "unknown or expired B-TID");
	}
	if (r < 0) {
		log_error("Zn: cannot read B-TID %s from %s: %s", req->btid, b->conf.store_path,
			  strerror(-r));
		return problem(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "Internal Server Error",
			       "store error");
	}
	r = gba_ks_naf(ks->data, sess.rand, sess.impi, req->naf_fqdn, req->ua_id, resp.me_key);
	if (r == 0) {
		resp.expiry = sess.expiry;
		snprintf(resp.impi, sizeof(resp.impi), "%s", sess.impi);
		r = gba_zn_response_format(&resp, &body);
	}
	secret_wipe(&resp, sizeof(resp));
	if (r < 0)
		return problem(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "Internal Server Error",
			       "cannot derive Ks_NAF");
	log_info("Zn: Ks_NAF of B-TID %s (%s) for NAF %s (from %s)", req->btid, sess.impi,
		 req->naf_fqdn, addr);
	return bsf_reply(c, MHD_HTTP_OK, "application/json", body, NULL, NULL);
}

enum MHD_Result bsf_zn_handle(struct bsf *b, struct MHD_Connection *c, const char *url,
			      const char *method, const uint8_t *body, size_t body_len)
{
	struct gba_zn_request req;
	char addr[BSF_ADDR_MAX];
	const char *ctype, *why = "";
	int r;

	bsf_peer_address(c, addr);
	if (strcmp(url, GBA_ZN_PATH) != 0)
		return problem(c, MHD_HTTP_NOT_FOUND, "Not Found", "no such resource");
	if (strcmp(method, MHD_HTTP_METHOD_POST) != 0)
		return problem(c, MHD_HTTP_METHOD_NOT_ALLOWED, "Method Not Allowed", "use POST");
	ctype = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	if (!ctype || strncmp(ctype, "application/json", 16) != 0)
		return problem(c, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "Unsupported Media Type",
			       "Content-Type must be application/json");
	r = check_client(c, NULL, &why);
	if (r < 0) {
		log_warning("Zn: refused %s: %s", addr, why);
		return problem(c, MHD_HTTP_FORBIDDEN, "Forbidden", why);
	}
	r = gba_zn_request_parse((const char *)body, body_len, &req);
	if (r < 0) {
		log_notice("Zn: malformed bootstrapping-info-retrieval request from %s", addr);
		return problem(c, MHD_HTTP_BAD_REQUEST, "Bad Request",
			       "expected {\"btId\",\"nafId\":{\"nafFqdn\",\"uaSecProtId\"}}");
	}
	r = check_client(c, req.naf_fqdn, &why);
	if (r < 0) {
		log_warning("Zn: refused %s asking as NAF %s: %s", addr, req.naf_fqdn, why);
		return problem(c, MHD_HTTP_FORBIDDEN, "Forbidden", why);
	}
	return answer(b, c, &req, addr);
}
