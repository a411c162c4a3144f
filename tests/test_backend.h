/* tests/test_backend.h: the backend a test runs on, named by its first argument.
 *
 * Tests that must hold on every backend (the PyTorch fixtures, kernel parity, determinism) take
 * the backend name as argv[1] (default "cpu"); CMake registers them once per backend:
 *   cpu     the CPU backend;
 *   staged  the CPU kernels behind the device-memory protocol: every buffer is a separate
 *           allocation reached only through mem_upload / mem_download, host_memory = 0. It runs
 *           the code paths a GPU takes (staged weight initialisation, host copies, the checker's
 *           mirrors) on any machine, so CI checks them without a GPU; its results must equal
 *           the CPU's bit for bit;
 *   cuda    the CUDA backend; without a device the test exits 77 (ctest: skipped) with the
 *           reason ("no CUDA device", "not built").
 */
#pragma once
#include <string.h>

#include "core/base/arena.h"
#include "kernels/backend.h"
#include "kernels/kernels.h"
#include "test_util.h"

static void tb_staged_copy(const sg_backend *be, void *dst, const void *src, size_t bytes) {
    (void)be;
    if (bytes && dst != src) memmove(dst, src, bytes);
}

/* Allocations carry a canary word before them so a pointer that did not come from mem_alloc
 * (host memory passed where backend memory belongs) is caught at free. */
#define TB_CANARY 0x5354414745440000ull /* "STAGED" */
static void *tb_staged_alloc(const sg_backend *be, size_t bytes) {
    (void)be;
    char *p = sg_aligned_alloc(bytes + SG_ALIGN);
    if (!p) return NULL;
    unsigned long long c = TB_CANARY;
    memcpy(p, &c, sizeof c);
    return p + SG_ALIGN;
}
static void tb_staged_free(const sg_backend *be, void *p) {
    (void)be;
    if (!p) return;
    char *b = (char *)p - SG_ALIGN;
    unsigned long long c;
    memcpy(&c, b, sizeof c);
    if (c != TB_CANARY) {
        fprintf(stderr, "staged backend: mem_free of memory it did not allocate\n");
        abort();
    }
    sg_aligned_free(b);
}

static const sg_backend *tb_staged(void) {
    static sg_backend be;
    static int ready = 0;
    if (!ready) {
        be = *sg_backend_get("cpu");
        be.name = "staged";
        be.host_memory = 0;
        be.mem_alloc = tb_staged_alloc;
        be.mem_free = tb_staged_free;
        be.mem_upload = tb_staged_copy;
        be.mem_download = tb_staged_copy;
        ready = 1;
    }
    return &be;
}

/* The backend named argv[1] (default cpu); exits 77 with the reason when it is unavailable. */
static const sg_backend *tb_backend(int argc, char **argv) {
    const char *name = argc > 1 ? argv[1] : "cpu";
    if (!strcmp(name, "staged")) return tb_staged();
    const sg_backend *be = sg_backend_get(name);
    if (!be) TEST_SKIP("backend %s: %s", name, sg_backend_unavailable(name));
    return be;
}
