/* tests/data/test_jpeg_limits.c: what one JPEG may cost is bounded, with an error naming the file:
 * a header claiming 52098 x 65500 (accepted before, and 805 MB to decode) exceeds the decoded-pixel
 * limit; a progressive header claiming 20000 x 20000 exceeds the decoder-memory limit; and a valid
 * 34000 x 34000 photo, which decodes at 1/8 scale, stays within both and decodes to what it
 * holds. */
#define _DEFAULT_SOURCE /* getpid, mkdir with -std=c11 */
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

/* after stdio.h: jpeglib.h needs size_t and FILE */
#include <jpeglib.h>

#include "core/data/dataset.h"
#include "files.h"
#include "jpeg_craft.h"
#include "test_util.h"

static char root[1024];

static int has(const sg_err *e, const char *s) { return strstr(e->msg, s) != NULL; }

/* Makes root/<name>/n01/ and names jpg = root/<name>/n01/x.JPEG: an ImageNet folder of one
 * image, read by the reader the loaders use. */
static void class_folder(const char *name, char *jpg, size_t cap) {
    char dir[1200];
    snprintf(dir, sizeof dir, "%s/%s", root, name);
    mkdir(dir, 0777);
    snprintf(dir, sizeof dir, "%s/%s/n01", root, name);
    mkdir(dir, 0777);
    SG_CHECK(snprintf(jpg, cap, "%s/x.JPEG", dir) < (int)cap, "path");
}

static void test_claimed_size(void) {
    sg_dataset d;
    char jpg[1300], dir[1200];
    class_folder("claims", jpg, sizeof jpg);
    /* the header of a real 8 x 8 image, patched to claim 52098 x 65500, and no data */
    SG_CHECK(jc_flat_grey(jpg, 8, 8) == 0, "flat JPEG");
    size_t n;
    uint8_t *j = jc_read(jpg, &n);
    SG_CHECK(j && jc_patch_dims(j, n, 52098, 65500) == 0, "patch %s", jpg);
    write_bytes(jpg, j, n);
    free(j);
    snprintf(dir, sizeof dir, "%s/claims", root);
    sg_err err = {{0}};
    SG_CHECK(sg_dataset_open_imagenet(&d, dir, &err) == 0, "%s", err.msg);
    int C = 0, H = 0, W = 0;
    int rc = sg_dataset_image_shape(&d, 0, &C, &H, &W, &err);
    CHECK(rc == -1 && has(&err, jpg) && has(&err, "52098x65500") && has(&err, "megapixels"),
          "a header claiming 52098x65500: rc %d (%dx%dx%d), %s", rc, C, H, W, err.msg);
    uint8_t small[64];
    rc = sg_dataset_image(&d, 0, small, sizeof small, &C, &H, &W, &err);
    CHECK(rc == -1 && has(&err, "megapixels"), "decoding it: %s", err.msg);
    sg_dataset_close(&d);
}

/* A progressive JPEG keeps all its coefficients: 20000 x 20000 grey is 800 MB of them. */
static void test_progressive_memory(void) {
    sg_dataset d;
    char jpg[1300], dir[1200];
    class_folder("progressive", jpg, sizeof jpg);
    uint8_t px[16 * 16];
    for (size_t i = 0; i < sizeof px; i++) px[i] = (uint8_t)(i * 7);
    unsigned char *mem = NULL;
    unsigned long len = 0;
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &mem, &len);
    c.image_width = c.image_height = 16;
    c.input_components = 1;
    c.in_color_space = JCS_GRAYSCALE;
    jpeg_set_defaults(&c);
    jpeg_simple_progression(&c);
    jpeg_start_compress(&c, TRUE);
    for (int y = 0; y < 16; y++) {
        JSAMPROW row = px + 16 * y;
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    SG_CHECK(jc_patch_dims(mem, len, 20000, 20000) == 0, "a progressive SOF");
    write_bytes(jpg, mem, len);
    free(mem);
    snprintf(dir, sizeof dir, "%s/progressive", root);
    sg_err err = {{0}};
    SG_CHECK(sg_dataset_open_imagenet(&d, dir, &err) == 0, "%s", err.msg);
    int C, H, W;
    CHECK(sg_dataset_image_shape(&d, 0, &C, &H, &W, &err) == 0 && H == 2500 && W == 2500,
          "decodes at 1/8, 2500 x 2500: %s", err.msg);
    uint8_t *buf = malloc((size_t)3 * H * W);
    int rc = sg_dataset_image(&d, 0, buf, (size_t)3 * H * W, &C, &H, &W, &err);
    char want[96];
    snprintf(want, sizeof want, "more than the %ld MB of decoder memory",
             SG_JPEG_MAX_DECODER_BYTES >> 20);
    CHECK(rc == -1 && has(&err, jpg) && has(&err, want) && has(&err, "progressive"),
          "a progressive 20000 x 20000: rc %d, %s", rc, err.msg);
    free(buf);
    sg_dataset_close(&d);
}

/* A valid 34000 x 34000 photo: within the bounds, decoded at 1/8. */
static void test_large_valid(void) {
    sg_dataset d;
    char jpg[1300], dir[1200];
    class_folder("large", jpg, sizeof jpg);
    SG_CHECK(jc_flat_grey(jpg, 34000, 34000) == 0, "a 34000 x 34000 JPEG");
    snprintf(dir, sizeof dir, "%s/large", root);
    sg_err err = {{0}};
    SG_CHECK(sg_dataset_open_imagenet(&d, dir, &err) == 0, "%s", err.msg);
    int C, H, W;
    CHECK(sg_dataset_image_shape(&d, 0, &C, &H, &W, &err) == 0 && C == 3 && H == 4250 && W == 4250,
          "shape %dx%dx%d: %s", C, H, W, err.msg);
    size_t bytes = (size_t)3 * 4250 * 4250;
    uint8_t *buf = malloc(bytes);
    int rc = sg_dataset_image(&d, 0, buf, bytes, &C, &H, &W, &err);
    CHECK(rc == 0, "decodes: %s", err.msg);
    size_t off = 0;
    for (size_t i = 0; rc == 0 && i < bytes; i++)
        if (buf[i] != 128) off++;
    CHECK(rc == 0 && off == 0, "%zu of %zu bytes are not the grey 128 it holds", off, bytes);
    free(buf);
    sg_dataset_close(&d);
}

int main(void) {
    snprintf(root, sizeof root, "%s/jpeg_limits_%d", tu_tmpdir(), (int)getpid());
    rm_rf(root);
    SG_CHECK(mkdir(root, 0777) == 0, "mkdir %s", root);
    test_claimed_size();
    test_progressive_memory();
    test_large_valid();
    rm_rf(root);
    return test_finish();
}
