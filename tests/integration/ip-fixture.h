/* SPDX-License-Identifier: Apache-2.0 */
/*
 * iproute2's `ip` for the netlink tests (test-netlink, test-xfrm): an independent
 * implementation of rtnetlink and xfrm to change and read the kernel's state with.
 */
#pragma once

#include "common/util.h"

/* Run "ip <args>", args printf(fmt, ...) split at spaces (no quoting); asserts it succeeds. */
void ip_fx(const char *fmt, ...) _printf_(1, 2);
/* The same, returning what ip printed on stdout ("" for nothing); free() it. */
char *ip_fx_out(const char *fmt, ...) _printf_(1, 2);
