/* core/data/jpeg.c: decoding one JPEG into RGB CHW (ImageNet) and writing JPEGs (tests,
 * smoke-test data), over libjpeg(-turbo).
 *
 * libjpeg reports errors by calling error_exit, which by default exits the process; we jump
 * back (setjmp/longjmp) and turn the message into an sg_err naming the file. Each call has its
 * own decompressor and FILE, so worker threads can decode concurrently. */
#define _POSIX_C_SOURCE 200809L /* open_memstream */
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
/* jpeglib.h needs size_t and FILE first. */
#include <stdio.h>
#include <jerror.h>
#include <jpeglib.h>

#include "core/base/file.h"
#include "core/data/internal.h"

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    int truncated; /* the data ended before the image did */
} jpeg_err_mgr;

static void on_error_exit(j_common_ptr cinfo) {
    jpeg_err_mgr *e = (jpeg_err_mgr *)cinfo->err;
    longjmp(e->jump, 1);
}

/* Warnings (level -1): most are recoverable oddities that other decoders ignore too (a few
 * ImageNet files have extraneous bytes before a marker). A file that ends early is different:
 * libjpeg would pad the image with gray, so like PIL we refuse it. Trace messages are dropped. */
static void on_emit_message(j_common_ptr cinfo, int level) {
    jpeg_err_mgr *e = (jpeg_err_mgr *)cinfo->err;
    if (level < 0) {
        e->pub.num_warnings++;
        if (e->pub.msg_code == JWRN_JPEG_EOF) {
            e->truncated = 1;
            longjmp(e->jump, 1);
        }
    }
}

static void on_output_message(j_common_ptr cinfo) { (void)cinfo; }

static void init_err(jpeg_err_mgr *e) {
    jpeg_std_error(&e->pub);
    e->pub.error_exit = on_error_exit;
    e->pub.emit_message = on_emit_message;
    e->pub.output_message = on_output_message;
    e->truncated = 0;
}

static int jpeg_failure(j_common_ptr cinfo, const char *path, sg_err *err) {
    jpeg_err_mgr *e = (jpeg_err_mgr *)cinfo->err;
    if (e->truncated)
        return sg_errf(err, "corrupt JPEG %s: the file ends before the image data does "
                       "(truncated download?)", path);
    /* libjpeg asks for a backing store when the decoder's memory limit is reached */
    if (e->pub.msg_code == JERR_NO_BACKING_STORE && cinfo->is_decompressor) {
        j_decompress_ptr d = (j_decompress_ptr)cinfo;
        return sg_errf(err, "JPEG %s (%ux%u%s) needs more than the %ld MB of decoder memory "
                       "one image may use", path, (unsigned)d->image_width,
                       (unsigned)d->image_height, d->progressive_mode ? ", progressive" : "",
                       SG_JPEG_MAX_DECODER_BYTES >> 20);
    }
    char msg[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, msg);
    return sg_errf(err, "corrupt JPEG %s: %s", path, msg);
}

/* CMYK to RGB. Adobe's CMYK JPEGs (the only common kind, marked by an Adobe APP14 segment)
 * store the channels inverted: 255 means no ink. */
static void cmyk_to_rgb(const JSAMPLE *px, int inverted, uint8_t rgb[3]) {
    int k = px[3];
    for (int ch = 0; ch < 3; ch++) {
        int v = px[ch];
        int r = inverted ? v * k : (255 - v) * (255 - k);
        rgb[ch] = (uint8_t)((r + 127) / 255);
    }
}

int sgd_jpeg_decode(const char *path, int min_side, uint8_t *buf, size_t cap, int *C, int *H,
                    int *W, int header_only, sg_err *err) {
    FILE *f = sg_fopen_regular(path, NULL, err);
    if (!f) {
        char why[sizeof err->msg];
        snprintf(why, sizeof why, "%s", err->msg);
        return sg_errf(err, "cannot open JPEG: %s", why);
    }
    struct jpeg_decompress_struct cinfo;
    jpeg_err_mgr jerr;
    init_err(&jerr);
    cinfo.err = &jerr.pub;
    if (setjmp(jerr.jump)) {
        jpeg_failure((j_common_ptr)&cinfo, path, err);
        jpeg_destroy_decompress(&cinfo);
        fclose(f);
        return -1;
    }
    jpeg_create_decompress(&cinfo);
    cinfo.mem->max_memory_to_use = SG_JPEG_MAX_DECODER_BYTES;
    jpeg_stdio_src(&cinfo, f);
    jpeg_read_header(&cinfo, TRUE);

    /* Convert ourselves what libjpeg cannot (gray -> RGB in old libjpeg, CMYK/YCCK -> RGB). */
    switch (cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE: cinfo.out_color_space = JCS_GRAYSCALE; break;
    case JCS_CMYK:
    case JCS_YCCK: cinfo.out_color_space = JCS_CMYK; break;
    default: cinfo.out_color_space = JCS_RGB; break;
    }
    /* Largest 1/denom (denom <= 8) that keeps the shorter side >= min_side. */
    unsigned shorter = cinfo.image_width < cinfo.image_height ? cinfo.image_width
                                                               : cinfo.image_height;
    unsigned denom = 1;
    while (min_side > 0 && denom < 8 && shorter >= 2u * denom * (unsigned)min_side) denom *= 2;
    cinfo.scale_num = 1;
    cinfo.scale_denom = denom;
    jpeg_calc_output_dimensions(&cinfo);
    const int oh = (int)cinfo.output_height, ow = (int)cinfo.output_width;
    if ((int64_t)oh * ow > SG_JPEG_MAX_PIXELS) {
        sg_errf(err, "JPEG %s is %ux%u and decodes to %dx%d (scale 1/%u): %.1f megapixels, more "
                "than the %.1f an image may have", path, (unsigned)cinfo.image_width,
                (unsigned)cinfo.image_height, ow, oh, denom, (double)oh * ow / 1e6,
                (double)SG_JPEG_MAX_PIXELS / 1e6);
        jpeg_destroy_decompress(&cinfo);
        fclose(f);
        return -1;
    }
    if (C) *C = 3;
    if (H) *H = oh;
    if (W) *W = ow;
    if (header_only) {
        jpeg_destroy_decompress(&cinfo);
        fclose(f);
        return 0;
    }
    const size_t plane = (size_t)oh * (size_t)ow;
    if (cap < 3 * plane) {
        jpeg_destroy_decompress(&cinfo);
        fclose(f);
        return sg_errf(err, "JPEG %s decodes to 3x%dx%d (%zu bytes) but the buffer holds %zu",
                       path, oh, ow, 3 * plane, cap);
    }
    jpeg_start_decompress(&cinfo);
    const int comps = cinfo.output_components;
    const int inverted = cinfo.saw_Adobe_marker;
    JSAMPARRAY row = (*cinfo.mem->alloc_sarray)((j_common_ptr)&cinfo, JPOOL_IMAGE,
                                                 (JDIMENSION)(ow * comps), 1);
    uint8_t *r = buf, *g = buf + plane, *b = buf + 2 * plane;
    while (cinfo.output_scanline < cinfo.output_height) {
        size_t y = cinfo.output_scanline;
        jpeg_read_scanlines(&cinfo, row, 1);
        const JSAMPLE *px = row[0];
        size_t o = y * (size_t)ow;
        if (comps == 1) {
            for (int x = 0; x < ow; x++) r[o + x] = g[o + x] = b[o + x] = px[x];
        } else if (comps == 3) {
            for (int x = 0; x < ow; x++) {
                r[o + x] = px[3 * x];
                g[o + x] = px[3 * x + 1];
                b[o + x] = px[3 * x + 2];
            }
        } else {
            for (int x = 0; x < ow; x++) {
                uint8_t rgb[3];
                cmyk_to_rgb(px + 4 * x, inverted, rgb);
                r[o + x] = rgb[0];
                g[o + x] = rgb[1];
                b[o + x] = rgb[2];
            }
        }
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    fclose(f);
    return 0;
}

int sg_write_jpeg(const char *path, int C, int H, int W, const uint8_t *pixels, int quality,
                  sg_err *err) {
    if (C != 1 && C != 3) return sg_errf(err, "JPEG %s: %d channels, expected 1 or 3", path, C);
    if (H < 1 || W < 1 || H > JPEG_MAX_DIMENSION || W > JPEG_MAX_DIMENSION)
        return sg_errf(err, "JPEG %s: size %dx%d outside 1..%ld", path, H, W,
                       (long)JPEG_MAX_DIMENSION);
    if (quality < 1 || quality > 100)
        return sg_errf(err, "JPEG %s: quality %d outside 1..100", path, quality);
    uint8_t *row = malloc((size_t)W * (size_t)C);
    if (!row) return sg_errf(err, "out of memory writing %s", path);
    /* compressed into memory, then written whole (core/base/file.h) */
    char *jpg = NULL;
    size_t jpg_len = 0;
    FILE *mem = open_memstream(&jpg, &jpg_len);
    if (!mem) {
        free(row);
        return sg_errf(err, "out of memory writing %s", path);
    }
    struct jpeg_compress_struct cinfo;
    jpeg_err_mgr jerr;
    init_err(&jerr);
    cinfo.err = &jerr.pub;
    if (setjmp(jerr.jump)) {
        jpeg_failure((j_common_ptr)&cinfo, path, err);
        jpeg_destroy_compress(&cinfo);
        free(row);
        fclose(mem);
        free(jpg);
        return -1;
    }
    jpeg_create_compress(&cinfo);
    jpeg_stdio_dest(&cinfo, mem);
    cinfo.image_width = (JDIMENSION)W;
    cinfo.image_height = (JDIMENSION)H;
    cinfo.input_components = C;
    cinfo.in_color_space = C == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    for (int k = 0; k < cinfo.num_components; k++) /* 4:4:4, no chroma subsampling */
        cinfo.comp_info[k].h_samp_factor = cinfo.comp_info[k].v_samp_factor = 1;
    jpeg_start_compress(&cinfo, TRUE);
    const size_t plane = (size_t)H * (size_t)W;
    while (cinfo.next_scanline < cinfo.image_height) {
        size_t y = cinfo.next_scanline;
        for (int x = 0; x < W; x++)
            for (int c = 0; c < C; c++) row[(size_t)x * C + c] = pixels[c * plane + y * W + x];
        JSAMPROW rows[1] = {row};
        jpeg_write_scanlines(&cinfo, rows, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    free(row);
    int rc = fclose(mem) != 0 ? sg_errf(err, "out of memory writing %s", path)
                              : sg_write_file_atomic(path, jpg, jpg_len, err);
    free(jpg);
    return rc;
}
