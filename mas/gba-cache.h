/* SPDX-License-Identifier: Apache-2.0 */
/*
 * m2masd's cache of Ks_NAF per B-TID (method gba): fetched once over Zn, kept
 * until the BSF's key expiry, sealed (AES-256-GCM, common/crypto.h crypto_seal)
 * under the store's master key with "gba:" || B-TID as additional data, so the
 * plaintext Ks_NAF exists only while a proof is checked. In memory, per m2masd
 * instance: another instance fetches it over Zn once for itself. Bounded: when
 * full, expired entries go first, then the one expiring soonest. Thread-safe:
 * one cache serves all of m2masd's workers.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "common/crypto.h"
#include "common/secret.h"
#include "common/wire.h"
#include "mas/store.h"

#define MAS_GBA_CACHE_MAX_DEFAULT 4096
#define MAS_GBA_SEALED_LEN (32 + CRYPTO_SEAL_OVERHEAD) /* one sealed Ks_NAF */

struct mas_gba_cache;

/* master_key (32 bytes) is copied into locked memory. */
int mas_gba_cache_new(const uint8_t master_key[static 32], size_t max_entries,
		      struct mas_gba_cache **ret);
void mas_gba_cache_free(struct mas_gba_cache *c);

/* Keep ks_naf for btid (of the BSF's impi) until expiry (epoch seconds). */
int mas_gba_cache_put(struct mas_gba_cache *c, const char *btid, const char *impi,
		      const uint8_t ks_naf[static 32], uint64_t expiry);
/*
 * The entry for btid if it has not expired at now: Ks_NAF as a new secret,
 * its expiry and IMPI. -ENOENT unknown or expired (an expired entry is dropped).
 */
int mas_gba_cache_get(struct mas_gba_cache *c, const char *btid, uint64_t now,
		      struct secret **ret_ks_naf, uint64_t *ret_expiry,
		      char ret_impi[static STORE_IMPI_MAX + 1]);
size_t mas_gba_cache_size(struct mas_gba_cache *c);
/*
 * Ks_NAF for btid sealed as in the cache, for a connection to keep from HELLO to
 * PROOF (an entry may be evicted meanwhile), and opened again as a new secret.
 */
int mas_gba_cache_seal(struct mas_gba_cache *c, const char *btid,
		       const uint8_t ks_naf[static 32],
		       uint8_t ret_sealed[static MAS_GBA_SEALED_LEN]);
int mas_gba_cache_open(struct mas_gba_cache *c, const char *btid,
		       const uint8_t sealed[static MAS_GBA_SEALED_LEN], struct secret **ret_ks_naf);
