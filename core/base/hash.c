/* core/base/hash.c: 64-bit FNV-1a (hash.h). */
#include "core/base/hash.h"

#include <string.h>

uint64_t sg_fnv1a64(uint64_t h, const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

uint64_t sg_fnv1a64_str(uint64_t h, const char *s) { return sg_fnv1a64(h, s, strlen(s)); }
