/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A private pcscd for the pcsc USIM tests: pcscd --foreground with a reader.conf.d
 * entry for vsmartcard's vpcd on a free port, which a virtual card
 * (tests/vcard/vusim.h) then connects to. pcscd's socket is fixed
 * (/run/pcscd/pcscd.comm), so one runs at a time: pcsc_fx_lock() takes an flock
 * and skips the test when some other pcscd is already running.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define PCSC_FX_VPCD_DRIVER "/usr/lib/pcsc/drivers/serial/libifdvpcd.so"

/* Skip the test unless pcscd and the vpcd driver are installed. */
void pcsc_fx_require(void);
/* pcsc_fx_require(), the lock (its fd: close it at the end), and no other pcscd. */
int pcsc_fx_lock(void);
bool pcsc_fx_pcscd_running(void);
/* pcscd with its config in dir (log dir/pcscd.log); ready when this returns. */
void pcsc_fx_start_pcscd(const char *dir, pid_t *ret_pid, uint16_t *ret_port);
