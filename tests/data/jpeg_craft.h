/* tests/data/jpeg_craft.h: JPEGs of any size made without encoding their pixels, for the tests
 * of the decoder's bounds: a flat grey baseline JPEG (valid, decodes to uniform grey 128)
 * of tens of thousands of pixels a side in a few MB written in milliseconds, and headers that
 * claim a size their data does not have. */
#pragma once
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/data/dataset.h"

/* The offset of the first SOFn marker (baseline 0xC0 or progressive 0xC2), or 0. */
static inline size_t jc_find_sof(const uint8_t *j, size_t n) {
    for (size_t i = 2; i + 9 < n; i++)
        if (j[i] == 0xFF && (j[i + 1] == 0xC0 || j[i + 1] == 0xC2)) return i;
    return 0;
}

/* Sets the frame's height and width (big-endian, after the marker, length and precision). */
static inline int jc_patch_dims(uint8_t *j, size_t n, int W, int H) {
    size_t at = jc_find_sof(j, n);
    if (!at) return -1;
    j[at + 5] = (uint8_t)(H >> 8), j[at + 6] = (uint8_t)H;
    j[at + 7] = (uint8_t)(W >> 8), j[at + 8] = (uint8_t)W;
    return 0;
}

/* The whole file in memory (malloc'd), or NULL. */
static inline uint8_t *jc_read(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(len > 0 ? (size_t)len : 1);
    *n = b && len > 0 && fread(b, 1, (size_t)len, f) == (size_t)len ? (size_t)len : 0;
    fclose(f);
    return b;
}

/* A valid baseline greyscale JPEG of W x H (multiples of 8) at path, every pixel 128: the
 * header of an 8x8 grey image written by sg_write_jpeg (standard Huffman tables, one component,
 * no restart markers), its frame size patched, then one 6-bit code per 8x8 block: DC difference
 * 0 ("00") and end of block ("1010"), four blocks per 3 bytes (0x28 0xA2 0x8A, no 0xFF to
 * stuff). 34000 x 34000 is 13.5 MB. Returns 0, or -1. */
static inline int jc_flat_grey(const char *path, int W, int H) {
    if (W % 8 || H % 8 || W < 8 || H < 8) return -1;
    uint8_t px[64];
    memset(px, 128, sizeof px);
    sg_err err;
    if (sg_write_jpeg(path, 1, 8, 8, px, 90, &err)) return -1;
    size_t n;
    uint8_t *j = jc_read(path, &n);
    if (!j) return -1;
    size_t sos = 0;
    for (size_t i = 2; i + 3 < n && !sos; i++)
        if (j[i] == 0xFF && j[i + 1] == 0xDA) sos = i;
    if (!sos || jc_patch_dims(j, n, W, H)) {
        free(j);
        return -1;
    }
    size_t head = sos + 2 + ((size_t)j[sos + 2] << 8 | j[sos + 3]);
    unsigned long long blocks = (unsigned long long)(W / 8) * (H / 8);
    unsigned long long bits = 6 * blocks, bytes = (bits + 7) / 8;
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(j, 1, head, f) == head;
    static const uint8_t pattern[3] = {0x28, 0xA2, 0x8A};
    uint8_t chunk[3 * 4096];
    for (size_t i = 0; i < sizeof chunk; i++) chunk[i] = pattern[i % 3];
    for (unsigned long long done = 0; ok && done < bytes;) {
        size_t k = bytes - done < sizeof chunk ? (size_t)(bytes - done) : sizeof chunk;
        ok = fwrite(chunk, 1, k, f) == k;
        done += k;
    }
    if (ok && bits % 8) { /* the last byte's unused bits are 1s, as an encoder pads */
        if (fseek(f, -1, SEEK_CUR) != 0) ok = 0;
        uint8_t last = chunk[(bytes - 1) % 3] | (uint8_t)((1u << (8 - bits % 8)) - 1);
        ok = ok && fwrite(&last, 1, 1, f) == 1;
    }
    static const uint8_t eoi[2] = {0xFF, 0xD9};
    ok = ok && fwrite(eoi, 1, 2, f) == 2;
    if (f && fclose(f) != 0) ok = 0;
    free(j);
    return ok ? 0 : -1;
}
