/* SPDX-License-Identifier: Apache-2.0 */
/* Small helpers every part uses: cleanup attributes, array sizes, fd helpers. */
#pragma once

#include <stdlib.h>
#include <unistd.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define _cleanup_(f) __attribute__((cleanup(f)))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _unused_ __attribute__((unused))

static inline void freep(void *p)
{
	free(*(void **)p);
}

static inline void closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}

/*
 * DEFINE_CLEANUP(struct foo *, foo_free) defines foo_freep(struct foo **) for
 * _cleanup_(foo_freep): it calls foo_free() on a non-NULL pointer at scope exit.
 */
#define DEFINE_CLEANUP(type, fn)              \
	static inline void fn##p(type *p)     \
	{                                     \
		if (*p)                       \
			fn(*p);               \
	}

/* Hand a cleanup-owned pointer or fd over (to a ret_ parameter or return value). */
#define TAKE_PTR(p) __extension__({ __typeof__(p) _taken_ = (p); (p) = NULL; _taken_; })
#define TAKE_FD(fd) __extension__({ int _taken_ = (fd); (fd) = -1; _taken_; })

#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)
