/* SPDX-License-Identifier: Apache-2.0 */
/* The epoll loop with io, timer and signal watches (loop.h). */
#include <errno.h>
#include <stdlib.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "common/loop.h"

#define LOOP_BATCH 64

enum loop_kind {
	LOOP_IO,
	LOOP_TIMER,
	LOOP_SIGNAL,
};

struct loop_watch {
	struct loop *loop;
	struct loop_watch *prev, *next; /* live watches, or the garbage list (next only) */
	enum loop_kind kind;
	int fd;
	bool removed;
	union {
		loop_io_fn io;
		loop_timer_fn timer;
		loop_signal_fn signal;
	} fn;
	void *userdata;
	sigset_t old_mask; /* LOOP_SIGNAL: restored on removal */
};

struct loop {
	int epfd;
	struct loop_watch *live;
	struct loop_watch *garbage; /* removed while dispatching: freed after the batch */
	bool dispatching;
	bool quit;
};

int loop_new(struct loop **ret)
{
	struct loop *l = calloc(1, sizeof(*l));

	if (!l)
		return -ENOMEM;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		int r = -errno;

		free(l);
		return r;
	}
	*ret = l;
	return 0;
}

static void watch_release(struct loop_watch *w)
{
	if (w->kind != LOOP_IO && w->fd >= 0)
		close(w->fd);
	if (w->kind == LOOP_SIGNAL)
		(void)sigprocmask(SIG_SETMASK, &w->old_mask, NULL);
	free(w);
}

void loop_free(struct loop *l)
{
	if (!l)
		return;
	while (l->live)
		loop_remove(l->live);
	while (l->garbage) {
		struct loop_watch *w = l->garbage;

		l->garbage = w->next;
		watch_release(w);
	}
	close(l->epfd);
	free(l);
}

static int watch_new(struct loop *l, enum loop_kind kind, int fd, uint32_t events,
		     void *userdata, struct loop_watch **ret)
{
	struct loop_watch *w = calloc(1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	w->loop = l;
	w->kind = kind;
	w->fd = fd;
	w->userdata = userdata;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd,
		      &(struct epoll_event){ .events = events, .data.ptr = w }) < 0) {
		int r = -errno;

		free(w);
		return r;
	}
	w->next = l->live;
	if (l->live)
		l->live->prev = w;
	l->live = w;
	*ret = w;
	return 0;
}

int loop_add_io(struct loop *l, int fd, uint32_t events, loop_io_fn fn, void *userdata,
		struct loop_watch **ret)
{
	struct loop_watch *w;
	int r = watch_new(l, LOOP_IO, fd, events, userdata, &w);

	if (r < 0)
		return r;
	w->fn.io = fn;
	if (ret)
		*ret = w;
	return 0;
}

int loop_io_set_events(struct loop_watch *w, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };

	return epoll_ctl(w->loop->epfd, EPOLL_CTL_MOD, w->fd, &ev) < 0 ? -errno : 0;
}

int loop_add_timer(struct loop *l, clockid_t clock, loop_timer_fn fn, void *userdata,
		   struct loop_watch **ret)
{
	struct loop_watch *w;
	int fd = timerfd_create(clock, TFD_CLOEXEC | TFD_NONBLOCK), r;

	if (fd < 0)
		return -errno;
	r = watch_new(l, LOOP_TIMER, fd, EPOLLIN, userdata, &w);
	if (r < 0) {
		close(fd);
		return r;
	}
	w->fn.timer = fn;
	if (ret)
		*ret = w;
	return 0;
}

static struct timespec ms_to_ts(uint64_t ms)
{
	return (struct timespec){ .tv_sec = (time_t)(ms / 1000),
				  .tv_nsec = (long)(ms % 1000) * 1000000 };
}

int loop_timer_set(struct loop_watch *w, uint64_t value_ms, uint64_t interval_ms, int flags)
{
	struct itimerspec its = { .it_value = { 0, 0 } };
	int tfd_flags = 0;

	if (value_ms) {
		its.it_value = ms_to_ts(value_ms);
		its.it_interval = ms_to_ts(interval_ms);
		if (flags & LOOP_TIMER_ABSOLUTE)
			tfd_flags |= TFD_TIMER_ABSTIME;
		if (flags & LOOP_TIMER_CANCEL_ON_SET)
			tfd_flags |= TFD_TIMER_CANCEL_ON_SET;
	}
	return timerfd_settime(w->fd, tfd_flags, &its, NULL) < 0 ? -errno : 0;
}

int loop_add_signals(struct loop *l, const int *signals, size_t n, loop_signal_fn fn,
		     void *userdata, struct loop_watch **ret)
{
	struct loop_watch *w;
	sigset_t mask, old;
	int fd, r;

	sigemptyset(&mask);
	for (size_t i = 0; i < n; i++)
		sigaddset(&mask, signals[i]);
	if (sigprocmask(SIG_BLOCK, &mask, &old) < 0)
		return -errno;
	fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	r = fd < 0 ? -errno : watch_new(l, LOOP_SIGNAL, fd, EPOLLIN, userdata, &w);
	if (r < 0) {
		if (fd >= 0)
			close(fd);
		(void)sigprocmask(SIG_SETMASK, &old, NULL);
		return r;
	}
	w->fn.signal = fn;
	w->old_mask = old;
	if (ret)
		*ret = w;
	return 0;
}

void loop_remove(struct loop_watch *w)
{
	struct loop *l;

	if (!w || w->removed)
		return;
	l = w->loop;
	w->removed = true;
	(void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, w->fd, NULL);
	if (w->prev)
		w->prev->next = w->next;
	else
		l->live = w->next;
	if (w->next)
		w->next->prev = w->prev;
	w->prev = NULL;
	if (!l->dispatching) {
		watch_release(w);
		return;
	}
	/* A later event of this batch may still point at w: free it after the batch. */
	w->next = l->garbage;
	l->garbage = w;
}

static void dispatch_timer(struct loop_watch *w)
{
	uint64_t n;

	if (read(w->fd, &n, sizeof(n)) == (ssize_t)sizeof(n))
		w->fn.timer(w, false, w->userdata);
	else if (errno == ECANCELED)
		w->fn.timer(w, true, w->userdata);
	/* EAGAIN: re-armed since the wakeup, not due any more. */
}

static void dispatch_signal(struct loop_watch *w)
{
	struct signalfd_siginfo si;

	while (!w->removed && read(w->fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		w->fn.signal(w, &si, w->userdata);
}

static void dispatch(struct loop_watch *w, uint32_t events)
{
	switch (w->kind) {
	case LOOP_IO:
		w->fn.io(w, w->fd, events, w->userdata);
		break;
	case LOOP_TIMER:
		dispatch_timer(w);
		break;
	case LOOP_SIGNAL:
		dispatch_signal(w);
		break;
	}
}

int loop_iterate(struct loop *l, int timeout_ms)
{
	struct epoll_event evs[LOOP_BATCH];
	int n = epoll_wait(l->epfd, evs, LOOP_BATCH, timeout_ms), done = 0;

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	l->quit = false;
	l->dispatching = true;
	for (int i = 0; i < n && !l->quit; i++) {
		struct loop_watch *w = evs[i].data.ptr;

		if (w->removed)
			continue;
		dispatch(w, evs[i].events);
		done++;
	}
	l->dispatching = false;
	while (l->garbage) {
		struct loop_watch *w = l->garbage;

		l->garbage = w->next;
		watch_release(w);
	}
	return done;
}

void loop_quit(struct loop *l)
{
	l->quit = true;
}
