/* SPDX-License-Identifier: Apache-2.0 */
/*
 * common/bg-job: run() happens in another thread while the loop keeps
 * dispatching, done() comes back on the loop thread, arg_free runs once, and a
 * cancelled job never calls done but still frees its arg when the thread ends.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "common/bg-job.h"
#include "common/loop.h"

static atomic_int freed;

struct arg {
	pthread_t ran_on;
	unsigned sleep_ms;
};

static void run(void *p)
{
	struct arg *a = p;

	a->ran_on = pthread_self();
	usleep(a->sleep_ms * 1000);
}

static void arg_free(void *p)
{
	free(p);
	atomic_fetch_add(&freed, 1);
}

struct seen {
	bool done;
	pthread_t done_on, ran_on;
	unsigned ticks, ticks_at_done;
};

static void done(void *p, void *userdata)
{
	struct seen *s = userdata;

	s->done = true;
	s->done_on = pthread_self();
	s->ran_on = ((struct arg *)p)->ran_on;
	s->ticks_at_done = s->ticks;
}

static void tick(struct loop_watch *w, bool clock_set, void *userdata)
{
	((struct seen *)userdata)->ticks++;
}

Test(bg_job, runs_off_the_loop_and_completes_on_it)
{
	struct loop *l = NULL;
	struct loop_watch *t = NULL;
	struct bg_job *j = NULL;
	struct arg *a = calloc(1, sizeof(*a));
	struct seen s = { 0 };

	atomic_store(&freed, 0);
	a->sleep_ms = 300;
	cr_assert_eq(loop_new(&l), 0);
	cr_assert_eq(loop_add_timer(l, CLOCK_MONOTONIC, tick, &s, &t), 0);
	cr_assert_eq(loop_timer_set(t, 10, 10, 0), 0);
	cr_assert_eq(bg_job_start(l, run, a, arg_free, done, &s, &j), 0);
	while (!s.done)
		cr_assert_geq(loop_iterate(l, 2000), 0);
	cr_assert(pthread_equal(s.done_on, pthread_self()), "done ran off the loop thread");
	cr_assert(!pthread_equal(s.ran_on, pthread_self()), "run ran on the loop thread");
	cr_assert_geq(s.ticks_at_done, 10, "the loop was blocked: %u ticks", s.ticks_at_done);
	cr_assert_eq(atomic_load(&freed), 1);
	loop_free(l);
}

Test(bg_job, cancelled_job_never_calls_done_and_frees_its_arg)
{
	struct loop *l = NULL;
	struct bg_job *j = NULL;
	struct arg *a = calloc(1, sizeof(*a));
	struct seen s = { 0 };

	atomic_store(&freed, 0);
	a->sleep_ms = 200;
	cr_assert_eq(loop_new(&l), 0);
	cr_assert_eq(bg_job_start(l, run, a, arg_free, done, &s, &j), 0);
	bg_job_cancel(j);
	for (int i = 0; i < 50 && atomic_load(&freed) == 0; i++) {
		cr_assert_geq(loop_iterate(l, 20), 0);
		usleep(10 * 1000);
	}
	cr_assert_eq(atomic_load(&freed), 1, "arg not freed after the thread ended");
	cr_assert(!s.done, "done called for a cancelled job");
	loop_free(l);
}
