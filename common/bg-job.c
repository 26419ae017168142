/* SPDX-License-Identifier: Apache-2.0 */
/* A blocking call in a worker thread, its completion delivered on the loop through an eventfd. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/bg-job.h"
#include "common/loop.h"

/* Shared by the loop and the worker: the last of the two to let go frees it. */
struct bg_job {
	atomic_int refs;
	int efd;
	bg_job_run_fn run;
	void *arg;
	void (*arg_free)(void *arg);
	bg_job_done_fn done;
	void *userdata;
	struct loop_watch *watch; /* loop thread only */
};

static void job_unref(struct bg_job *j)
{
	if (atomic_fetch_sub(&j->refs, 1) != 1)
		return;
	if (j->arg_free)
		j->arg_free(j->arg);
	close(j->efd);
	free(j);
}

static void *job_thread(void *p)
{
	struct bg_job *j = p;
	uint64_t one = 1;

	j->run(j->arg);
	/* One write to a fresh eventfd cannot fail with EAGAIN; nothing to do if it fails. */
	(void)!write(j->efd, &one, sizeof(one));
	job_unref(j);
	return NULL;
}

static void on_done(struct loop_watch *w, int fd, uint32_t events, void *userdata)
{
	struct bg_job *j = userdata;
	uint64_t v;

	if (read(fd, &v, sizeof(v)) != sizeof(v))
		return;
	loop_remove(j->watch);
	j->watch = NULL;
	if (j->done)
		j->done(j->arg, j->userdata);
	job_unref(j);
}

int bg_job_start(struct loop *l, bg_job_run_fn run, void *arg, void (*arg_free)(void *arg),
		 bg_job_done_fn done, void *userdata, struct bg_job **ret)
{
	struct bg_job *j = calloc(1, sizeof(*j));
	pthread_attr_t attr;
	pthread_t th;
	int r;

	if (!j)
		return -ENOMEM;
	j->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (j->efd < 0) {
		r = -errno;
		free(j);
		return r;
	}
	atomic_init(&j->refs, 2); /* the loop's and the thread's */
	j->run = run, j->arg = arg, j->done = done, j->userdata = userdata;
	r = loop_add_io(l, j->efd, EPOLLIN, on_done, j, &j->watch);
	if (r < 0)
		goto fail;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	r = -pthread_create(&th, &attr, job_thread, j);
	pthread_attr_destroy(&attr);
	if (r < 0) {
		loop_remove(j->watch);
		goto fail;
	}
	j->arg_free = arg_free; /* only once started: on failure the caller keeps arg */
	*ret = j;
	return 0;
fail:
	close(j->efd);
	free(j);
	return r;
}

void bg_job_cancel(struct bg_job *j)
{
	if (!j)
		return;
	loop_remove(j->watch);
	j->watch = NULL;
	j->done = NULL;
	job_unref(j);
}
