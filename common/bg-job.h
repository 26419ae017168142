/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One blocking call off a daemon's event loop: run(arg) in a short-lived
 * detached worker thread, then done(arg, userdata) back on the loop thread
 * (the thread signals an eventfd that the loop watches). For rare, slow, network
 * calls (Ub to a BSF, Zn to a BSF) where a thread is cheaper than a second
 * event-driven HTTP stack and keeps the loop free: nothing the loop thread
 * owns may be touched by run().
 *
 * bg_job_cancel() (also from inside other callbacks) makes sure done is never
 * called; a run() in progress finishes in its thread and then arg is freed
 * there with arg_free. Without a cancel, arg_free runs after done returns.
 * Once done has been called the handle is gone: never cancel it then (nor from
 * inside done).
 */
#pragma once

struct loop;
struct bg_job;

typedef void (*bg_job_run_fn)(void *arg);
typedef void (*bg_job_done_fn)(void *arg, void *userdata);

/* 0, or -errno (nothing started; arg is NOT freed then). */
int bg_job_start(struct loop *l, bg_job_run_fn run, void *arg, void (*arg_free)(void *arg),
		 bg_job_done_fn done, void *userdata, struct bg_job **ret);
/* Forget a job whose done has not run yet: done is not called; NULL is fine. */
void bg_job_cancel(struct bg_job *j);
