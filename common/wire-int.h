/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared by the wire codec (common/wire.c) and its identifier checks
 * (common/wire-names.c); not for other modules, which use common/wire.h.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* 1..max octets, each from the identifier set. */
bool wire_id_bytes_valid(const char *s, size_t len, size_t max);
/* A B-TID: <base64 RAND>@<BSF name>, at most WIRE_BTID_MAX octets. */
bool wire_btid_bytes_valid(const char *s, size_t len);
/* An AE-ID that can be the last part of an absolute AE-ID: no '/', no '@'. */
bool wire_ae_part_valid(const char *s, size_t len);
/* "/<CSE-ID>/<AE-ID>": a leading '/', a CSE part of 2.. bytes, an AE part. */
bool wire_target_bytes_valid(const char *s, size_t len);
/* A method number this codec knows (enum wire_method). */
bool wire_method_known(uint64_t m);
/* A message type this codec knows (enum wire_msg_type). */
bool wire_type_known(uint64_t t);
