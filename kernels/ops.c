/* kernels/ops.c: the op table's rows (see ops.h), shape text, costs and the supports query. */
#include "kernels/ops.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const op_names[SG_OP_COUNT] = {
#define SG_OP_NAME(op, family) #op,
    SG_OP_LIST(SG_OP_NAME)
#undef SG_OP_NAME
};
static const char *const op_families[SG_OP_COUNT] = {
#define SG_OP_FAMILY(op, family) #family,
    SG_OP_LIST(SG_OP_FAMILY)
#undef SG_OP_FAMILY
};

/* ---- costs at the table's parameter values ---------------------------------------------------
 * Each reads its values by position: the row's parameter list is right above it in the table. */

static sg_cost cost_gemm(const int *v) { return sg_cost_gemm(v[0], v[1], v[2], 1); }
static sg_cost cost_linear_fwd(const int *v) { return sg_cost_linear_fwd(v[0], v[1], v[2], v[3]); }
static sg_cost cost_linear_bwd(const int *v) {
    return sg_cost_linear_bwd(v[0], v[1], v[2], v[3], v[4]);
}
static sg_cost cost_conv2d_fwd(const int *v) {
    sg_conv_shape s = sg_op_conv_shape(SG_OP_conv2d_fwd, v);
    return sg_cost_conv2d_fwd(&s);
}
static sg_cost cost_conv2d_bwd_data(const int *v) {
    sg_conv_shape s = sg_op_conv_shape(SG_OP_conv2d_bwd_data, v);
    return sg_cost_conv2d_bwd_data(&s);
}
static sg_cost cost_conv2d_bwd_filter(const int *v) {
    sg_conv_shape s = sg_op_conv_shape(SG_OP_conv2d_bwd_filter, v);
    return sg_cost_conv2d_bwd_filter(&s);
}
/* evaluation does a subset of training's work and is reported with the same count */
static sg_cost cost_bn_fwd(const int *v) { return sg_cost_batchnorm_fwd(v[0], v[1], v[2], v[3]); }
static sg_cost cost_bn_bwd(const int *v) { return sg_cost_batchnorm_bwd(v[0], v[1], v[2], v[3]); }
static sg_cost cost_bn_sums(const int *v) {
    return sg_cost_batchnorm_sums(v[0], v[1], v[2], v[3], v[4]);
}
/* ranks (v[4]) only sets M: the work is this batch's */
static sg_cost cost_bn_bwd_apply(const int *v) {
    return sg_cost_batchnorm_bwd_apply(v[0], v[1], v[2], v[3]);
}
static sg_cost cost_bn_relu_fwd(const int *v) {
    return sg_cost_batchnorm_relu_fwd(v[0], v[1], v[2], v[3]);
}
static sg_cost cost_bn_relu_bwd(const int *v) {
    return sg_cost_batchnorm_relu_bwd(v[0], v[1], v[2], v[3]);
}
static sg_cost cost_relu_fwd(const int *v) { return sg_cost_relu_fwd((size_t)v[0]); }
static sg_cost cost_relu_bwd(const int *v) { return sg_cost_relu_bwd((size_t)v[0]); }
static sg_cost cost_add_fwd(const int *v) { return sg_cost_add_fwd((size_t)v[0]); }
static sg_cost cost_add_bwd(const int *v) { return sg_cost_add_bwd((size_t)v[0], 1 + v[1]); }
static sg_cost cost_maxpool_fwd(const int *v) {
    sg_pool_shape s = sg_op_pool_shape(SG_OP_maxpool_fwd, v);
    return sg_cost_maxpool_fwd(&s);
}
static sg_cost cost_maxpool_bwd(const int *v) {
    sg_pool_shape s = sg_op_pool_shape(SG_OP_maxpool_bwd, v);
    return sg_cost_maxpool_bwd(&s);
}
static sg_cost cost_avg_fwd(const int *v) { return sg_cost_avgpool_global_fwd(v[0], v[1], v[2]); }
static sg_cost cost_avg_bwd(const int *v) { return sg_cost_avgpool_global_bwd(v[0], v[1], v[2]); }
static sg_cost cost_loss_fwd(const int *v) { return sg_cost_pair_loss_fwd(v[0], v[1]); }
static sg_cost cost_loss_bwd(const int *v) { return sg_cost_pair_loss_bwd(v[0], v[1], v[3]); }
static sg_cost cost_sgd(const int *v) { return sg_cost_sgd_step((size_t)v[0]); }
static sg_cost cost_lars(const int *v) { return sg_cost_lars_step((size_t)v[0]); }
static sg_cost cost_ema(const int *v) { return sg_cost_ema_update((size_t)v[0]); }
static sg_cost cost_corr(const int *v) { return sg_cost_corr_update(v[0], v[1]); }
static sg_cost cost_syevd(const int *v) { return sg_cost_syevd(v[0]); }
static sg_cost cost_eig_rebuild(const int *v) { return sg_cost_eig_rebuild(v[0]); }
static sg_cost cost_eig_map(const int *v) { return sg_cost_eig_map(v[0]); }
static sg_cost cost_pred_sym(const int *v) { return sg_cost_pred_symmetrize(v[0], v[1], v[2]); }
static sg_cost cost_dcopy(const int *v) { return sg_cost_directcopy_fill(v[0]); }
static sg_cost cost_pair_scale(const int *v) { return sg_cost_eig_pair_scale(v[0]); }
static sg_cost cost_rank1(const int *v) { return sg_cost_rank1_sub(v[0]); }
static sg_cost cost_u8(const int *v) { return sg_cost_aug_u8_to_float((size_t)v[0]); }
static sg_cost cost_crop(const int *v) {
    return sg_cost_aug_resized_crop(v[0], v[1], v[2], v[3], v[4]);
}
static sg_cost cost_hflip(const int *v) { return sg_cost_aug_hflip(v[0], v[1], v[2]); }
static sg_cost cost_jitter(const int *v) { return sg_cost_aug_color_jitter(v[0], v[1]); }
static sg_cost cost_gray(const int *v) { return sg_cost_aug_grayscale(v[0], v[1]); }
static sg_cost cost_blur(const int *v) {
    return sg_cost_aug_gaussian_blur(v[0], v[1], v[2], v[3]);
}
static sg_cost cost_solarize(const int *v) { return sg_cost_aug_solarize((size_t)v[0]); }
static sg_cost cost_normalize(const int *v) { return sg_cost_aug_normalize(v[0], v[1]); }
/* the bound with every stage on (kernels.h): norm (v[7]) = 0 does a little less */
static sg_cost cost_views(const int *v) {
    return sg_cost_aug_views(v[0], v[1], v[2], v[3], v[4], v[5], v[6]);
}

/* ---- the rows -------------------------------------------------------------------------------- */
// clang-format off

#define DIM(nm) {nm, 1, SG_OP_DIM_MAX, SG_OP_REQUIRED}
#define FLAG(nm, d) {nm, 0, 1, d}
#define SLOT(f) {#f, offsetof(sg_backend, f)}
/* gemm: the CPU backend's sgemm (kernels.h's sg_gemm_impl: 0 openblas, 1 dnnl); other backends
 * run 0 only */
#define GEMM_IMPL {"gemm", 0, SG_GEMM_IMPL_COUNT - 1, SG_GEMM_OPENBLAS}
/* prec: the product's precision (kernels.h's sg_precision: 0 fp32, 1 tf32, 2 bf16); the CPU
 * runs 0 only */
#define PREC {"prec", 0, SG_PREC_COUNT - 1, SG_PREC_FP32}
#define GEMM_PARAMS DIM("M"), DIM("N"), DIM("K"), {"ldpad", 0, 4096, 0}, GEMM_IMPL, PREC
#define CONV_PARAMS DIM("N"), DIM("C"), DIM("H"), DIM("W"), DIM("K"), DIM("R"), DIM("S"), \
                    DIM("stride"), {"pad", 0, SG_OP_DIM_MAX, SG_OP_REQUIRED},               \
                    {"algo", 0, SG_CONV_ALGO_COUNT - 1, SG_CONV_DEFAULT}, GEMM_IMPL, PREC
#define POOL_PARAMS DIM("N"), DIM("C"), DIM("H"), DIM("W"), DIM("k"), DIM("stride"), \
                    {"pad", 0, SG_OP_DIM_MAX, SG_OP_REQUIRED}
#define CONV_SHAPE "N=2,C=5,H=9,W=11,K=6,R=3,S=3,stride=2,pad=1"
#define POOL_SHAPE "N=2,C=3,H=11,W=10,k=3,stride=2,pad=1"
#define GEMM_ROW {SLOT(gemm)}, "M=37,N=29,K=43,ldpad=3", {GEMM_PARAMS}, cost_gemm

/* Default shapes: small, odd sizes (no multiple of a vector width), padded strides, stride-2
 * conv with padding, overlapping pool windows; the richest mode of each op (accumulate on,
 * bias and affine on, centring on), the others reachable through the optional parameters.
 * A row is {slots, default shape, parameters, cost}; name and family come from SG_OP_LIST. */
typedef struct {
    sg_op_slot slots[2];
    const char *default_shape;
    sg_op_param params[SG_OP_MAXP];
    sg_cost (*cost)(const int *val);
} op_row;

static const op_row rows[SG_OP_COUNT] = {
    [SG_OP_gemm_nn] = {GEMM_ROW},
    [SG_OP_gemm_nt] = {GEMM_ROW},
    [SG_OP_gemm_tn] = {GEMM_ROW},
    [SG_OP_gemm_tt] = {GEMM_ROW},
    [SG_OP_linear_fwd] = {{SLOT(linear_fwd)}, "N=13,In=35,Out=21",
        {DIM("N"), DIM("In"), DIM("Out"), FLAG("bias", 1), GEMM_IMPL, PREC}, cost_linear_fwd},
    [SG_OP_linear_bwd] = {{SLOT(linear_bwd)}, "N=13,In=35,Out=21",
        {DIM("N"), DIM("In"), DIM("Out"), FLAG("dx", 1), FLAG("bias", 1), FLAG("acc", 1),
         GEMM_IMPL, PREC},
        cost_linear_bwd},
    [SG_OP_conv2d_fwd] = {{SLOT(conv2d_fwd), SLOT(conv2d_workspace_bytes)}, CONV_SHAPE,
        {CONV_PARAMS}, cost_conv2d_fwd},
    [SG_OP_conv2d_bwd_data] = {{SLOT(conv2d_bwd_data), SLOT(conv2d_workspace_bytes)},
        CONV_SHAPE, {CONV_PARAMS}, cost_conv2d_bwd_data},
    [SG_OP_conv2d_bwd_filter] = {{SLOT(conv2d_bwd_filter), SLOT(conv2d_workspace_bytes)},
        CONV_SHAPE, {CONV_PARAMS, FLAG("acc", 1)}, cost_conv2d_bwd_filter},
    [SG_OP_batchnorm_fwd_train] = {{SLOT(batchnorm_fwd_train)}, "N=6,C=5,HW=9",
        {DIM("N"), DIM("C"), DIM("HW"), FLAG("affine", 1), FLAG("running", 1)}, cost_bn_fwd},
    [SG_OP_batchnorm_fwd_eval] = {{SLOT(batchnorm_fwd_eval)}, "N=6,C=5,HW=9",
        {DIM("N"), DIM("C"), DIM("HW"), FLAG("affine", 1)}, cost_bn_fwd},
    [SG_OP_batchnorm_bwd] = {{SLOT(batchnorm_bwd)}, "N=6,C=5,HW=9",
        {DIM("N"), DIM("C"), DIM("HW"), FLAG("affine", 1), FLAG("acc", 1)}, cost_bn_bwd},
    [SG_OP_batchnorm_sums] = {{SLOT(batchnorm_sums)}, "N=6,C=5,HW=9",
        {DIM("N"), DIM("C"), DIM("HW"), FLAG("center", 1), FLAG("dy", 1)}, cost_bn_sums},
    [SG_OP_batchnorm_bwd_apply] = {{SLOT(batchnorm_bwd_apply)}, "N=6,C=5,HW=9,ranks=2",
        {DIM("N"), DIM("C"), DIM("HW"), FLAG("affine", 1), {"ranks", 1, 4096, 2}},
        cost_bn_bwd_apply},
    [SG_OP_batchnorm_relu_fwd] = {{SLOT(batchnorm_relu_fwd)}, "N=6,C=5,HW=9",
        {DIM("N"), DIM("C"), DIM("HW"), FLAG("affine", 1), FLAG("running", 1)}, cost_bn_relu_fwd},
    [SG_OP_batchnorm_relu_bwd] = {{SLOT(batchnorm_relu_bwd)}, "N=6,C=5,HW=9",
        {DIM("N"), DIM("C"), DIM("HW"), FLAG("affine", 1), FLAG("acc", 1)}, cost_bn_relu_bwd},
    [SG_OP_relu_fwd] = {{SLOT(relu_fwd)}, "n=1001", {DIM("n"), FLAG("inplace", 0)},
        cost_relu_fwd},
    [SG_OP_relu_bwd] = {{SLOT(relu_bwd)}, "n=1001", {DIM("n"), FLAG("inplace", 0)},
        cost_relu_bwd},
    [SG_OP_add_fwd] = {{SLOT(add_fwd)}, "n=1001", {DIM("n"), {"inplace", 0, 2, 0}},
        cost_add_fwd},
    [SG_OP_add_bwd] = {{SLOT(add_bwd)}, "n=1001", {DIM("n"), FLAG("db", 1), FLAG("acc", 1)},
        cost_add_bwd},
    [SG_OP_maxpool_fwd] = {{SLOT(maxpool_fwd)}, POOL_SHAPE, {POOL_PARAMS}, cost_maxpool_fwd},
    [SG_OP_maxpool_bwd] = {{SLOT(maxpool_bwd)}, POOL_SHAPE, {POOL_PARAMS}, cost_maxpool_bwd},
    [SG_OP_avgpool_global_fwd] = {{SLOT(avgpool_global_fwd)}, "N=3,C=7,HW=25",
        {DIM("N"), DIM("C"), DIM("HW")}, cost_avg_fwd},
    [SG_OP_avgpool_global_bwd] = {{SLOT(avgpool_global_bwd)}, "N=3,C=7,HW=25",
        {DIM("N"), DIM("C"), DIM("HW")}, cost_avg_bwd},
    [SG_OP_pair_loss_fwd] = {{SLOT(pair_loss_fwd)}, "N=9,D=33",
        {DIM("N"), DIM("D"), FLAG("normalize", 1)}, cost_loss_fwd},
    [SG_OP_pair_loss_bwd] = {{SLOT(pair_loss_bwd)}, "N=9,D=33",
        {DIM("N"), DIM("D"), FLAG("normalize", 1), FLAG("dz", 1)}, cost_loss_bwd},
    /* at: the learning rates (EMA rate) in backend memory (lr_at / m_at), a step graph's form */
    [SG_OP_sgd_step] = {{SLOT(sgd_step)}, "n=1001",
        {DIM("n"), {"groups", 1, SG_OP_MAX_GROUPS, 2}, FLAG("at", 0)}, cost_sgd},
    [SG_OP_lars_step] = {{SLOT(lars_step)}, "n=1001",
        {DIM("n"), {"groups", 1, SG_OP_MAX_GROUPS, 3}, FLAG("at", 0)}, cost_lars},
    [SG_OP_ema_update] = {{SLOT(ema_update)}, "n=1001", {DIM("n"), FLAG("at", 0)}, cost_ema},
    [SG_OP_corr_update] = {{SLOT(corr_update)}, "N=17,D=12",
        {DIM("N"), DIM("D"), FLAG("init", 0), FLAG("center", 1)}, cost_corr},
    [SG_OP_syevd] = {{SLOT(syevd), SLOT(syevd_workspace_bytes)}, "D=24",
        {{"D", 1, 8192, SG_OP_REQUIRED}, FLAG("at", 0)}, cost_syevd},
    [SG_OP_eig_rebuild] = {{SLOT(eig_rebuild)}, "D=24", {DIM("D")}, cost_eig_rebuild},
    /* mode: sg_eig_map_mode; tied = 0 (in place) takes a square R = C */
    [SG_OP_eig_map] = {{SLOT(eig_map)}, "D=37", {DIM("D"), {"mode", 0, SG_EIG_MAP_COUNT - 1, 0}},
        cost_eig_map},
    [SG_OP_pred_symmetrize] = {{SLOT(pred_symmetrize)}, "R=13,C=21",
        {DIM("R"), DIM("C"), FLAG("tied", 1)}, cost_pred_sym},
    [SG_OP_directcopy_fill] = {{SLOT(directcopy_fill)}, "D=23",
        {DIM("D"), FLAG("normalize", 1)}, cost_dcopy},
    [SG_OP_eig_pair_scale] = {{SLOT(eig_pair_scale)}, "D=23", {DIM("D")}, cost_pair_scale},
    [SG_OP_rank1_sub] = {{SLOT(rank1_sub)}, "D=23", {DIM("D")}, cost_rank1},
    [SG_OP_aug_u8_to_float] = {{SLOT(aug_u8_to_float)}, "n=1001", {DIM("n")}, cost_u8},
    [SG_OP_aug_resized_crop] = {{SLOT(aug_resized_crop)}, "C=3,H=20,W=24,outH=16,outW=12",
        {DIM("C"), DIM("H"), DIM("W"), DIM("outH"), DIM("outW")}, cost_crop},
    [SG_OP_aug_hflip] = {{SLOT(aug_hflip)}, "C=3,H=7,W=9",
        {DIM("C"), DIM("H"), DIM("W"), FLAG("inplace", 0)}, cost_hflip},
    [SG_OP_aug_color_jitter] = {{SLOT(aug_color_jitter)}, "H=12,W=10", {DIM("H"), DIM("W")},
        cost_jitter},
    [SG_OP_aug_grayscale] = {{SLOT(aug_grayscale)}, "H=12,W=10", {DIM("H"), DIM("W")},
        cost_gray},
    [SG_OP_aug_gaussian_blur] = {{SLOT(aug_gaussian_blur)}, "C=3,H=12,W=14,ksize=5",
        {DIM("C"), DIM("H"), DIM("W"), DIM("ksize")}, cost_blur},
    [SG_OP_aug_solarize] = {{SLOT(aug_solarize)}, "n=1001", {DIM("n")}, cost_solarize},
    [SG_OP_aug_normalize] = {{SLOT(aug_normalize)}, "C=3,HW=77", {DIM("C"), DIM("HW")},
        cost_normalize},
    /* Cin: the source's channels (C, or 1 with C = 3); C <= 32 as the slot requires; both
     * default to RGB and are left out of the default shape, so random shapes drawn from it
     * (test_backend_parity) keep a valid pair (the checker rejects the others); ksize is only
     * read when a view blurs; norm: mean and std given (1) or NULL (0) */
    [SG_OP_aug_views] = {{SLOT(aug_views)}, "N=3,H=20,W=24,S=16,ksize=5",
        {DIM("N"), {"Cin", 1, 32, 3}, DIM("H"), DIM("W"), {"C", 1, 32, 3}, DIM("S"),
         DIM("ksize"), FLAG("norm", 1)}, cost_views},
};
// clang-format on

/* ---- lookups --------------------------------------------------------------------------------- */

const sg_op_desc *sg_op_get(sg_op op) {
    /* Built on first use from the names and rows; every row must be filled (a designated
     * initializer that was forgotten leaves a hole the compiler does not see). */
    static sg_op_desc descs[SG_OP_COUNT];
    static int ready = 0;
    if (!ready) {
        for (int i = 0; i < SG_OP_COUNT; i++) {
            SG_CHECK(rows[i].default_shape && rows[i].cost && rows[i].slots[0].name,
                     "kernels/ops.c: op %s has no row", op_names[i]);
            descs[i].name = op_names[i];
            descs[i].family = op_families[i];
            memcpy(descs[i].slots, rows[i].slots, sizeof descs[i].slots);
            descs[i].default_shape = rows[i].default_shape;
            memcpy(descs[i].params, rows[i].params, sizeof descs[i].params);
            descs[i].cost = rows[i].cost;
        }
        ready = 1;
    }
    SG_CHECK((int)op >= 0 && op < SG_OP_COUNT, "op %d of %d", (int)op, SG_OP_COUNT);
    return &descs[op];
}

int sg_op_find(const char *name) {
    for (int i = 0; i < SG_OP_COUNT; i++)
        if (strcmp(op_names[i], name) == 0) return i;
    return -1;
}

static int nparams(sg_op op) {
    const sg_op_desc *d = sg_op_get(op);
    int k = 0;
    while (k < SG_OP_MAXP && d->params[k].name) k++;
    return k;
}

int sg_op_param_index(sg_op op, const char *name) {
    const sg_op_desc *d = sg_op_get(op);
    for (int k = 0; k < nparams(op); k++)
        if (strcmp(d->params[k].name, name) == 0) return k;
    return -1;
}

const char *sg_op_params_text(sg_op op) {
    /* One text per op, built on first use (names and parameters never change). */
    static char text[SG_OP_COUNT][160];
    const sg_op_desc *d = sg_op_get(op);
    if (!text[op][0]) {
        size_t at = 0;
        for (int k = 0; k < nparams(op) && at < sizeof text[op]; k++) {
            const sg_op_param *p = &d->params[k];
            int w = p->def == SG_OP_REQUIRED
                        ? snprintf(text[op] + at, sizeof text[op] - at, "%s%s", k ? "," : "",
                                   p->name)
                        : snprintf(text[op] + at, sizeof text[op] - at, "%s[%s=%d]",
                                   k ? "," : "", p->name, p->def);
            if (w < 0) break;
            at += (size_t)w;
        }
    }
    return text[op];
}

/* ---- shape text ------------------------------------------------------------------------------ */

int sg_op_parse_shape(sg_op op, const char *spec, int *val, sg_err *err) {
    const sg_op_desc *d = sg_op_get(op);
    const char *params = sg_op_params_text(op);
    const int np = nparams(op);
    int given[SG_OP_MAXP] = {0};
    const char *at = spec;
    while (*at) {
        const char *end = strchr(at, ',');
        size_t len = end ? (size_t)(end - at) : strlen(at);
        char item[96];
        if (len >= sizeof item)
            return sg_errf(err, "%s: shape item '%.40s...' is too long", d->name, at);
        memcpy(item, at, len);
        item[len] = 0;
        at += len + (end ? 1 : 0);
        char *key = item;
        while (*key == ' ') key++;
        char *eq = strchr(key, '=');
        if (!eq)
            return sg_errf(err, "%s: shape item '%s' is not key=value (parameters: %s)", d->name,
                           item, params);
        char *kend = eq;
        while (kend > key && kend[-1] == ' ') kend--;
        *kend = 0;
        const char *value = eq + 1;
        int k = sg_op_param_index(op, key);
        if (k < 0)
            return sg_errf(err, "%s: unknown shape parameter '%s' (parameters: %s)", d->name, key,
                           params);
        if (given[k]) return sg_errf(err, "%s: shape parameter '%s' is given twice", d->name, key);
        char *vend;
        long v = strtol(value, &vend, 10);
        while (*vend == ' ') vend++;
        if (vend == value || *vend || *value == 0)
            return sg_errf(err, "%s: shape parameter '%s' = '%s' is not an integer", d->name, key,
                           value);
        const sg_op_param *p = &d->params[k];
        if (v < p->lo || v > p->hi)
            return sg_errf(err, "%s: shape parameter '%s' = %ld is out of range [%d, %d]",
                           d->name, key, v, p->lo, p->hi);
        val[k] = (int)v;
        given[k] = 1;
        if (end && !*at) return sg_errf(err, "%s: shape '%s' ends with a comma", d->name, spec);
    }
    for (int k = 0; k < np; k++) {
        if (given[k]) continue;
        if (d->params[k].def == SG_OP_REQUIRED)
            return sg_errf(err, "%s: missing shape parameter '%s' (parameters: %s)", d->name,
                           d->params[k].name, params);
        val[k] = d->params[k].def;
    }
    return 0;
}

void sg_op_format_shape(sg_op op, const int *val, char *buf, size_t cap) {
    const sg_op_desc *d = sg_op_get(op);
    size_t at = 0;
    if (cap) buf[0] = 0;
    for (int k = 0; k < nparams(op) && at < cap; k++) {
        int w = snprintf(buf + at, cap - at, "%s%s=%d", k ? "," : "", d->params[k].name, val[k]);
        if (w < 0) break;
        at += (size_t)w;
    }
}

void sg_op_vals(sg_op op, int *val, const sg_op_kv *kv) {
    const sg_op_desc *d = sg_op_get(op);
    int given[SG_OP_MAXP] = {0};
    for (; kv->name; kv++) {
        long long v = kv->value;
        int k = sg_op_param_index(op, kv->name);
        SG_CHECK(k >= 0, "op %s has no parameter %s", d->name, kv->name);
        /* a value beyond the parameter's range is recorded clipped: the shape text then fails to
         * parse with the range named, which is how a checker reports it */
        val[k] = v > INT_MAX ? INT_MAX : v < INT_MIN + 1 ? INT_MIN + 1 : (int)v;
        given[k] = 1;
    }
    for (int k = 0; k < nparams(op); k++) {
        if (given[k]) continue;
        SG_CHECK(d->params[k].def != SG_OP_REQUIRED, "op %s: parameter %s not given", d->name,
                 d->params[k].name);
        val[k] = d->params[k].def;
    }
}

sg_cost sg_op_cost(sg_op op, const int *val) { return sg_op_get(op)->cost(val); }

/* ---- geometry -------------------------------------------------------------------------------- */

static int val_of(sg_op op, const int *val, const char *name) {
    int k = sg_op_param_index(op, name);
    SG_CHECK(k >= 0, "op %s has no parameter %s", sg_op_get(op)->name, name);
    return val[k];
}

sg_conv_shape sg_op_conv_shape(sg_op op, const int *v) {
    sg_conv_shape s =
        sg_conv_shape_make(val_of(op, v, "N"), val_of(op, v, "C"), val_of(op, v, "H"),
                           val_of(op, v, "W"), val_of(op, v, "K"), val_of(op, v, "R"),
                           val_of(op, v, "S"), val_of(op, v, "stride"), val_of(op, v, "pad"));
    s.algo = val_of(op, v, "algo");
    return s;
}

void sg_op_conv_vals(sg_op op, const sg_conv_shape *s, int accumulate, int *val) {
    sg_op_kv kv[] = {{"N", s->N},           {"C", s->C},     {"H", s->H},       {"W", s->W},
                     {"K", s->K},           {"R", s->R},     {"S", s->S},       {"stride", s->stride},
                     {"pad", s->pad},       {"algo", s->algo}, {"acc", !!accumulate}, {NULL, 0}};
    if (op != SG_OP_conv2d_bwd_filter) kv[10].name = NULL; /* only the filter pass accumulates */
    sg_op_vals(op, val, kv);
}

sg_pool_shape sg_op_pool_shape(sg_op op, const int *v) {
    return sg_pool_shape_make(val_of(op, v, "N"), val_of(op, v, "C"), val_of(op, v, "H"),
                              val_of(op, v, "W"), val_of(op, v, "k"), val_of(op, v, "stride"),
                              val_of(op, v, "pad"));
}

/* ---- what a backend runs ----------------------------------------------------------------------- */

const char *sg_op_missing_slot(const sg_backend *be, sg_op op) {
    const sg_op_desc *d = sg_op_get(op);
    for (int k = 0; k < 2 && d->slots[k].name; k++) {
        void (*fn)(void);
        memcpy(&fn, (const char *)be + d->slots[k].offset, sizeof fn);
        if (!fn) return d->slots[k].name;
    }
    return NULL;
}

int sg_backend_supports(const sg_backend *be, sg_op op, const int *val) {
    if (sg_op_missing_slot(be, op)) return 0;
    return be->supports ? be->supports(be, (int)op, val) : 1;
}

void sg_conv_algos_supported(const sg_backend *be, sg_op op, const int *val, char *buf,
                             size_t cap) {
    const int ka = sg_op_param_index(op, "algo");
    SG_CHECK(ka >= 0, "op %s has no algorithm", sg_op_get(op)->name);
    int v[SG_OP_MAXP];
    memcpy(v, val, sizeof(int) * (size_t)nparams(op));
    size_t at = 0;
    if (cap) buf[0] = 0;
    for (int a = 0; a < SG_CONV_ALGO_COUNT && at < cap; a++) {
        v[ka] = a;
        if (!sg_backend_supports(be, op, v)) continue;
        int w = snprintf(buf + at, cap - at, "%s%s", at ? ", " : "", sg_conv_algo_names[a]);
        if (w < 0) break;
        at += (size_t)w;
    }
}
