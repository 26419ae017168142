/* SPDX-License-Identifier: Apache-2.0 */
/* m2masd's worker threads: one mas_server each, started and joined by the main thread. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/ecc.h>

#include "common/log.h"
#include "mas/workers.h"

struct worker {
	struct mas_ctx ctx; /* the server points here: never moved */
	struct mas_server *server, *primary;
	pthread_t thread;
	size_t number; /* 2, 3, ...: its thread is m2masd-w<number>, the primary's 1 */
	bool have_ctx, started;
	int result;
};

struct mas_workers {
	struct worker **w;
	size_t n;
	mas_worker_fini_fn fini;
	void *userdata;
};

unsigned mas_workers_default(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	cpu_set_t set;

	/* A CPU affinity (taskset, systemd CPUAffinity=, a cpuset) narrows it down. */
	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0 &&
	    CPU_COUNT(&set) < n)
		n = CPU_COUNT(&set);

	return n < 1 ? 1 : n > MAS_WORKERS_MAX_AUTO ? MAS_WORKERS_MAX_AUTO : (unsigned)n;
}

static void *worker_main(void *userdata)
{
	struct worker *w = userdata;

	w->result = mas_server_run(w->server);
	if (w->result < 0) {
		/* Now, not at shutdown: systemd restarts m2masd (Restart=on-failure). */
		log_error("worker %zu (thread m2masd-w%zu) stopped with an error: %s; stopping "
			  "m2masd",
			  w->number, w->number, strerror(-w->result));
		mas_server_fail(w->primary, w->server, w->result);
	}
#ifdef FP_ECC
	wc_ecc_fp_free(); /* wolfCrypt's ECC point cache is per thread */
#endif
	return NULL;
}

/* The shared parts of base; store and zn are the worker's own. */
static void ctx_copy(struct mas_ctx *dst, const struct mas_ctx *base)
{
	dst->store = NULL;
	dst->zn = NULL;
	dst->rl = base->rl;
	memcpy(dst->fqdn, base->fqdn, sizeof(dst->fqdn));
	dst->lifetime = base->lifetime;
	dst->pki = base->pki;
	dst->gba = base->gba;
	dst->metrics = base->metrics;
}

static int worker_new(struct mas_workers *ws, struct mas_server *primary,
		      const struct mas_ctx *base, mas_worker_init_fn init, size_t index,
		      struct worker **ret, char *err, size_t err_len)
{
	struct worker *w = calloc(1, sizeof(*w));
	char name[16];
	int r;

	if (!w) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	ctx_copy(&w->ctx, base);
	w->primary = primary;
	w->number = index + 2;
	*ret = w; /* freed by mas_workers_stop() from here on */
	r = mas_server_new_worker(primary, &w->ctx, &w->server, err, err_len);
	if (r < 0)
		return r;
	r = init(&w->ctx, mas_server_loop(w->server), ws->userdata, err, err_len);
	if (r < 0)
		return r;
	w->have_ctx = true;
	r = pthread_create(&w->thread, NULL, worker_main, w);
	if (r > 0) {
		snprintf(err, err_len, "cannot start a worker thread: %s", strerror(r));
		return -r;
	}
	w->started = true;
	snprintf(name, sizeof(name), "m2masd-w%zu", w->number);
	(void)pthread_setname_np(w->thread, name); /* ps -L, top -H */
	return 0;
}

int mas_workers_start(struct mas_server *primary, const struct mas_ctx *base, size_t n,
		      mas_worker_init_fn init, mas_worker_fini_fn fini, void *userdata,
		      struct mas_workers **ret, char *err, size_t err_len)
{
	struct mas_workers *ws;
	int r;

	*ret = NULL;
	if (n == 0)
		return 0;
	ws = calloc(1, sizeof(*ws));
	if (!ws || !(ws->w = calloc(n, sizeof(*ws->w)))) {
		free(ws);
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	ws->fini = fini;
	ws->userdata = userdata;
	for (size_t i = 0; i < n; i++) {
		ws->n = i + 1;
		r = worker_new(ws, primary, base, init, i, &ws->w[i], err, err_len);
		if (r < 0) {
			mas_workers_stop(ws);
			return r;
		}
	}
	*ret = ws;
	return 0;
}

void mas_workers_set_lifetime(struct mas_workers *ws, uint64_t lifetime)
{
	for (size_t i = 0; ws && i < ws->n; i++)
		ws->w[i]->ctx.lifetime = lifetime;
}

void mas_workers_stop(struct mas_workers *ws)
{
	if (!ws)
		return;
	for (size_t i = 0; i < ws->n; i++)
		if (ws->w[i] && ws->w[i]->started)
			mas_server_stop(ws->w[i]->server);
	for (size_t i = 0; i < ws->n; i++) {
		struct worker *w = ws->w[i];

		if (!w)
			continue;
		if (w->started)
			pthread_join(w->thread, NULL); /* an error was logged by worker_main() */
		mas_server_free(w->server); /* cancels its Zn requests: before fini */
		if (w->have_ctx)
			ws->fini(&w->ctx, ws->userdata);
		free(w);
	}
	free(ws->w);
	free(ws);
}
