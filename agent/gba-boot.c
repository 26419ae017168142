/* SPDX-License-Identifier: Apache-2.0 */
/* A GBA bootstrap on the agent's loop: each Ub GET in a worker thread, the USIM steps on the loop. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "agent/gba-boot.h"
#include "common/loop.h"
#include "common/secret.h"
#include "gba/ub-http.h"
#include "usim/usim.h"

/* One GET, shared by the loop and its worker thread; the last one to let go frees it. */
struct ub_job {
	atomic_int refs;
	int efd;
	char *url, *ca;
	long timeout_ms;
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
	struct ub_job *job;
	struct loop_watch *watch;
	gba_boot_done_fn done;
	void *userdata;
};

static void job_unref(struct ub_job *j)
{
	if (!j || atomic_fetch_sub(&j->refs, 1) != 1)
		return;
	if (j->efd >= 0)
		close(j->efd);
	free(j->url);
	free(j->ca);
	secret_wipe(j, sizeof(*j));
	free(j);
}

static void *job_run(void *arg)
{
	struct ub_job *j = arg;
	struct gba_ub_http h = { .bsf_url = j->url, .bsf_ca = j->ca, .timeout_ms = j->timeout_ms };
	uint64_t one = 1;

	j->r = gba_ub_http_get(&h, j->authz, &j->reply, j->err, sizeof(j->err));
	if (write(j->efd, &one, sizeof(one)) < 0) {
		/* The eventfd cannot overflow at one write; nothing else to do. */
	}
	job_unref(j);
	return NULL;
}

static void finish(struct gba_boot *b, int r, struct gba_ub_result *res, const char *err)
{
	gba_boot_done_fn done = b->done;

	loop_remove(b->watch);
	b->watch = NULL;
	job_unref(b->job);
	b->job = NULL;
	b->done = NULL;
	if (done)
		done(r, res, err, b->userdata);
}

static void on_job_done(struct loop_watch *w, int fd, uint32_t events, void *userdata);

/* Start a GET with authz in a detached worker thread. */
static int get(struct gba_boot *b, const char *authz, char *err, size_t err_len)
{
	struct ub_job *j = calloc(1, sizeof(*j));
	pthread_attr_t attr;
	pthread_t th;
	int r;

	if (!j)
		return -ENOMEM;
	atomic_init(&j->refs, 1);
	j->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	j->url = strdup(b->url);
	j->ca = strdup(b->ca);
	j->timeout_ms = b->timeout_ms;
	snprintf(j->authz, sizeof(j->authz), "%s", authz);
	if (j->efd < 0 || !j->url || !j->ca) {
		r = j->efd < 0 ? -errno : -ENOMEM;
		goto fail;
	}
	r = loop_add_io(b->loop, j->efd, EPOLLIN, on_job_done, b, &b->watch);
	if (r < 0)
		goto fail;
	atomic_fetch_add(&j->refs, 1); /* the thread's */
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	r = -pthread_create(&th, &attr, job_run, j);
	pthread_attr_destroy(&attr);
	if (r < 0) {
		atomic_fetch_sub(&j->refs, 1);
		loop_remove(b->watch);
		b->watch = NULL;
		goto fail;
	}
	b->job = j;
	return 0;
fail:
	snprintf(err, err_len, "cannot start the Ub request: %s", strerror(-r));
	job_unref(j);
	return r;
}

static void on_job_done(struct loop_watch *w, int fd, uint32_t events, void *userdata)
{
	struct gba_boot *b = userdata;
	struct ub_job *j = b->job;
	struct gba_ub_result res = { 0 };
	char next[GBA_HEADER_MAX], err[512] = "";
	uint64_t v;
	int r;

	if (read(fd, &v, sizeof(v)) != sizeof(v))
		return; /* spurious */
	loop_remove(b->watch);
	b->watch = NULL;
	if (j->r < 0) {
		finish(b, j->r, NULL, j->err);
		return;
	}
	r = gba_ub_step(b->ub, b->usim, &j->reply, b->naf, (int64_t)time(NULL), next, &res, err,
			sizeof(err));
	job_unref(j);
	b->job = NULL;
	if (r > 0)
		r = get(b, next, err, sizeof(err));
	secret_wipe(next, sizeof(next));
	if (r > 0 || (r == 0 && b->job))
		return; /* the next GET is under way */
	finish(b, r, r == 0 ? &res : NULL, err);
	gba_ub_result_wipe(&res);
}

void gba_boot_free(struct gba_boot *b)
{
	if (!b)
		return;
	loop_remove(b->watch);
	job_unref(b->job);
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
