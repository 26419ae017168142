/* SPDX-License-Identifier: Apache-2.0 */
/* A GBA bootstrap on the agent's loop: each Ub GET in a worker thread (common/bg-job), the USIM steps on the loop. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/gba-boot.h"
#include "common/bg-job.h"
#include "common/secret.h"
#include "gba/ub-http.h"
#include "usim/usim.h"

/* One GET: the worker thread fills reply, r and err. */
struct ub_get {
	char *url, *ca; /* the thread's own copies: after a cancel it may outlive the boot */
	struct gba_ub_http h;
	char authz[GBA_HEADER_MAX];
	struct gba_ub_reply reply;
	int r;
	char err[512];
};

struct gba_boot {
	struct loop *loop;
	struct usim *usim;
	struct gba_ub *ub;
	char *url, *ca, *naf;
	long timeout_ms;
	struct bg_job *job;
	gba_boot_done_fn done;
	void *userdata;
};

static void get_free(void *arg)
{
	struct ub_get *g = arg;

	free(g->url);
	free(g->ca);
	secret_wipe(g, sizeof(*g));
	free(g);
}

static void get_run(void *arg)
{
	struct ub_get *g = arg;

	g->r = gba_ub_http_get(&g->h, g->authz, &g->reply, g->err, sizeof(g->err));
}

static void get_done(void *arg, void *userdata);

/* Start a GET with authz in a worker thread. */
static int get(struct gba_boot *b, const char *authz, char *err, size_t err_len)
{
	struct ub_get *g = calloc(1, sizeof(*g));
	int r;

	if (!g)
		return -ENOMEM;
	g->h.timeout_ms = b->timeout_ms;
	snprintf(g->authz, sizeof(g->authz), "%s", authz);
	g->url = strdup(b->url);
	g->ca = strdup(b->ca);
	g->h.bsf_url = g->url;
	g->h.bsf_ca = g->ca;
	if (!g->url || !g->ca) {
		r = -ENOMEM;
		goto fail;
	}
	r = bg_job_start(b->loop, get_run, g, get_free, get_done, b, &b->job);
	if (r >= 0)
		return 0;
fail:
	snprintf(err, err_len, "cannot start the Ub request: %s", strerror(-r));
	get_free(g);
	return r;
}

static void finish(struct gba_boot *b, int r, struct gba_ub_result *res, const char *err)
{
	gba_boot_done_fn done = b->done;

	b->done = NULL;
	if (done)
		done(r, res, err, b->userdata);
}

static void get_done(void *arg, void *userdata)
{
	struct ub_get *g = arg;
	struct gba_boot *b = userdata;
	struct gba_ub_result res = { 0 };
	char next[GBA_HEADER_MAX], err[512] = "";
	int r;

	b->job = NULL; /* the handle is gone once done runs */
	if (g->r < 0) {
		finish(b, g->r, NULL, g->err);
		return;
	}
	r = gba_ub_step(b->ub, b->usim, &g->reply, b->naf, (int64_t)time(NULL), next, &res, err,
			sizeof(err));
	if (r > 0)
		r = get(b, next, err, sizeof(err));
	else if (r == 0)
		r = 1; /* done: report below */
	secret_wipe(next, sizeof(next));
	if (r == 0)
		return; /* the next GET is under way */
	finish(b, r > 0 ? 0 : r, r > 0 ? &res : NULL, err);
	gba_ub_result_wipe(&res);
}

void gba_boot_free(struct gba_boot *b)
{
	if (!b)
		return;
	bg_job_cancel(b->job);
	gba_ub_free(b->ub);
	free(b->url);
	free(b->ca);
	free(b->naf);
	free(b);
}

int gba_boot_start(struct loop *l, const struct gba_boot_params *p, struct usim *usim,
		   gba_boot_done_fn done, void *userdata, struct gba_boot **ret, char *err,
		   size_t err_len)
{
	struct gba_boot *b;
	char authz[GBA_HEADER_MAX];
	int r;

	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->loop = l;
	b->usim = usim;
	b->done = done;
	b->userdata = userdata;
	b->timeout_ms = p->timeout_ms;
	b->url = strdup(p->bsf_url ? p->bsf_url : "");
	b->ca = strdup(p->bsf_ca ? p->bsf_ca : "");
	b->naf = strdup(p->naf_fqdn ? p->naf_fqdn : "");
	if (!b->url || !b->ca || !b->naf) {
		gba_boot_free(b);
		return -ENOMEM;
	}
	r = gba_ub_new(p->impi ? p->impi : usim_impi(usim), b->url, &b->ub, err, err_len);
	if (r >= 0)
		r = gba_ub_first_authz(b->ub, authz);
	if (r >= 0)
		r = get(b, authz, err, err_len);
	if (r < 0) {
		gba_boot_free(b);
		return r;
	}
	*ret = b;
	return 0;
}
