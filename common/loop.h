/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one event loop primitive of the daemons: an epoll set of watches, each
 * with its own callback. Three kinds:
 *
 *   io      an fd the caller owns, readiness as EPOLLIN/EPOLLOUT (equal to
 *           POLLIN/POLLOUT on Linux, so poll(2) bits can be passed as they are)
 *   timer   a timerfd the watch owns (one-shot or periodic, relative or
 *           absolute, optionally told when the wall clock is set)
 *   signal  a signalfd the watch owns; the signals are blocked while it exists
 *
 * A watch may be removed at any time, also from inside any callback (its own
 * included): it gets no further callbacks, and its memory lives until the end
 * of the batch of events being dispatched. An io watch must be removed before
 * its fd is closed.
 *
 *   loop_new(&l);
 *   loop_add_io(l, fd, EPOLLIN, on_readable, ctx, &w);
 *   while (!done)
 *           loop_iterate(l, -1);
 */
#pragma once

#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <time.h>

#include "common/util.h"

_Static_assert(POLLIN == EPOLLIN && POLLOUT == EPOLLOUT, "poll and epoll bits differ");

struct loop;
struct loop_watch;

/* events: what epoll reported (EPOLLIN, EPOLLOUT, EPOLLHUP, EPOLLERR). */
typedef void (*loop_io_fn)(struct loop_watch *w, int fd, uint32_t events, void *userdata);
/* The timer expired, or (LOOP_TIMER_CANCEL_ON_SET) clock_set: the wall clock was set. */
typedef void (*loop_timer_fn)(struct loop_watch *w, bool clock_set, void *userdata);
/* One delivered signal. */
typedef void (*loop_signal_fn)(struct loop_watch *w, const struct signalfd_siginfo *si,
			       void *userdata);

int loop_new(struct loop **ret);
/* Remove every watch (closing what they own, unblocking their signals); NULL is fine. */
void loop_free(struct loop *l);
DEFINE_CLEANUP(struct loop *, loop_free)

/* Watch fd (borrowed) for events. ret may be NULL. */
int loop_add_io(struct loop *l, int fd, uint32_t events, loop_io_fn fn, void *userdata,
		struct loop_watch **ret);
/* Change what an io watch waits for. */
int loop_io_set_events(struct loop_watch *w, uint32_t events);

/* A disarmed timer on clock (CLOCK_MONOTONIC, CLOCK_BOOTTIME, CLOCK_REALTIME). */
int loop_add_timer(struct loop *l, clockid_t clock, loop_timer_fn fn, void *userdata,
		   struct loop_watch **ret);

enum {
	LOOP_TIMER_ABSOLUTE = 1 << 0,      /* value_ms is a time on the timer's clock */
	LOOP_TIMER_CANCEL_ON_SET = 1 << 1, /* CLOCK_REALTIME absolute: report clock changes */
};

/*
 * Arm the timer to fire after (or, LOOP_TIMER_ABSOLUTE, at) value_ms, then every
 * interval_ms (0: once). value_ms 0 disarms it. A past absolute time fires at once.
 */
int loop_timer_set(struct loop_watch *w, uint64_t value_ms, uint64_t interval_ms, int flags);

/* Block signals[0..n) and deliver them to fn; the old mask is restored on removal. */
int loop_add_signals(struct loop *l, const int *signals, size_t n, loop_signal_fn fn,
		     void *userdata, struct loop_watch **ret);

/* Stop watching and free the watch (at the end of the batch); NULL is fine. */
void loop_remove(struct loop_watch *w);

/*
 * Wait up to timeout_ms (-1: without limit) and dispatch one batch of events.
 * Returns the number of events dispatched, or -errno (an interrupted wait is 0).
 */
int loop_iterate(struct loop *l, int timeout_ms);
/* Dispatch no more events of the current batch (the caller then leaves its loop). */
void loop_quit(struct loop *l);
