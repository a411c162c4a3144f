/* core/base/hash.h: the 64-bit FNV-1a hash, the one implementation behind machine ids, setting
 * hashes and the content hash that keeps `stopgrad history add` from ingesting a file twice.
 * Not cryptographic: it tells apart what is meant to differ, it does not resist an adversary. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#define SG_FNV1A64_INIT 0xcbf29ce484222325ull

/* h updated with n bytes of data (start from SG_FNV1A64_INIT). */
uint64_t sg_fnv1a64(uint64_t h, const void *data, size_t n);
/* h updated with the bytes of the string s (its terminating NUL left out). */
uint64_t sg_fnv1a64_str(uint64_t h, const char *s);
