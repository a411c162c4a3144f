/* kernels/ops.h: the op table, the one list of every kernel op.
 *
 * Each op is a backend kernel call in one mode (gemm in its four transpose variants, conv2d's
 * three passes, ...). Its row says which backend slots it calls, its parameters (the integers
 * that make its shape and mode, each with a range and, for optional ones, a default), the small
 * shape it is checked on by default, and its FLOP/byte cost. Everything that handles ops by
 * name reads this table:
 *   - the tracer (kernels/trace) records each call as (op, parameter values);
 *   - the op checker (kernels/opcheck) parses a shape text with it and runs the op's check,
 *     one function per op (oc_<op> in kernels/opcheck/opcheck_<family>.c; the linker refuses a
 *     table entry without one);
 *   - the kernel suite (bench/) and `stopgrad selfcheck` list, validate and time the ops.
 * Shapes travel as text, "key=value" pairs in the table's parameter order, e.g. for conv2d_fwd
 *     "N=64,C=64,H=24,W=24,K=64,R=3,S=3,stride=1,pad=1"
 *
 * Adding an op: a line in SG_OP_LIST, its row in kernels/ops.c, its check oc_<op> in the
 * checker file of its family; a new backend slot also needs its front-door function
 * (kernels/backend.c), the tracer's wrapper (kernels/trace/trace.c), the replaying backend's
 * record (kernels/trace/replay.c), a reference (kernels/ref) and the backends' kernels. */
#pragma once
#include <stddef.h>

#include "core/base/err.h"
#include "kernels/kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

/* X(op, family): family is the kernels/cpu/<family>.c file and checker file the op lives in. */
#define SG_OP_LIST(X)                                                                          \
    X(gemm_nn, dense)                                                                          \
    X(gemm_nt, dense)                                                                          \
    X(gemm_tn, dense)                                                                          \
    X(gemm_tt, dense)                                                                          \
    X(linear_fwd, dense)                                                                       \
    X(linear_bwd, dense)                                                                       \
    X(conv2d_fwd, dense)                                                                       \
    X(conv2d_bwd_data, dense)                                                                  \
    X(conv2d_bwd_filter, dense)                                                                \
    X(batchnorm_fwd_train, nn)                                                                 \
    X(batchnorm_fwd_eval, nn)                                                                  \
    X(batchnorm_bwd, nn)                                                                       \
    X(batchnorm_sums, nn)                                                                      \
    X(batchnorm_bwd_apply, nn)                                                                 \
    X(batchnorm_relu_fwd, nn)                                                                  \
    X(batchnorm_relu_bwd, nn)                                                                  \
    X(relu_fwd, nn)                                                                            \
    X(relu_bwd, nn)                                                                            \
    X(add_fwd, nn)                                                                             \
    X(add_bwd, nn)                                                                             \
    X(maxpool_fwd, nn)                                                                         \
    X(maxpool_bwd, nn)                                                                         \
    X(avgpool_global_fwd, nn)                                                                  \
    X(avgpool_global_bwd, nn)                                                                  \
    X(pair_loss_fwd, nn)                                                                       \
    X(pair_loss_bwd, nn)                                                                       \
    X(sgd_step, optim)                                                                         \
    X(lars_step, optim)                                                                        \
    X(ema_update, optim)                                                                       \
    X(corr_update, optim)                                                                      \
    X(syevd, optim)                                                                            \
    X(eig_rebuild, optim)                                                                      \
    X(eig_map, optim)                                                                          \
    X(pred_symmetrize, optim)                                                                  \
    X(directcopy_fill, optim)                                                                  \
    X(eig_pair_scale, optim)                                                                   \
    X(rank1_sub, optim)                                                                        \
    X(aug_u8_to_float, aug)                                                                    \
    X(aug_resized_crop, aug)                                                                   \
    X(aug_hflip, aug)                                                                          \
    X(aug_color_jitter, aug)                                                                   \
    X(aug_grayscale, aug)                                                                      \
    X(aug_gaussian_blur, aug)                                                                  \
    X(aug_solarize, aug)                                                                       \
    X(aug_normalize, aug)                                                                      \
    X(aug_views, aug)

typedef enum {
#define SG_OP_ENUM(op, family) SG_OP_##op,
    SG_OP_LIST(SG_OP_ENUM)
#undef SG_OP_ENUM
        SG_OP_COUNT
} sg_op;

#define SG_OP_MAXP 16          /* parameters per op */
#define SG_OP_REQUIRED (-2147483647 - 1) /* `def` of a parameter a shape must give */
#define SG_OP_DIM_MAX (1 << 30)
/* optimiser parameter groups an sgd_step / lars_step shape may ask for: a real LARS step has
 * one group per tensor (~70 for ResNet-18) */
#define SG_OP_MAX_GROUPS 256

typedef struct {
    const char *name;
    int lo, hi; /* inclusive range */
    int def;    /* default, or SG_OP_REQUIRED */
} sg_op_param;

/* A function-pointer slot of sg_backend, by name and offset. */
typedef struct {
    const char *name;
    size_t offset;
} sg_op_slot;

typedef struct {
    const char *name;     /* "conv2d_fwd" */
    const char *family;   /* "dense", "nn", "optim", "aug" */
    sg_op_slot slots[2];  /* the backend slots it calls (a kernel and its workspace size) */
    const char *default_shape;
    sg_op_param params[SG_OP_MAXP]; /* ends at the first name == NULL */
    /* FLOPs and bytes of one call at the parameter values val[] (table order) */
    sg_cost (*cost)(const int *val);
} sg_op_desc;

const sg_op_desc *sg_op_get(sg_op op);
/* The op named exactly `name`, or -1. */
int sg_op_find(const char *name);
/* The op's parameters as text, optional ones with their default: "M,N,K,[ldpad=0]". */
const char *sg_op_params_text(sg_op op);
/* Index of parameter `name` of op, or -1. */
int sg_op_param_index(sg_op op, const char *name);

/* "key=value,..." (any order, spaces allowed) into val[] in table order, defaults filled in.
 * Errors name the op and the parameter: unknown, repeated, missing, not an integer, out of
 * range. */
int sg_op_parse_shape(sg_op op, const char *spec, int *val, sg_err *err);
/* val[] as the canonical text: every parameter, in table order. */
void sg_op_format_shape(sg_op op, const int *val, char *buf, size_t cap);
/* val[] from (name, value) pairs ending with a NULL name, e.g.
 *     sg_op_vals(SG_OP_relu_fwd, val, (sg_op_kv[]){{"n", n}, {"inplace", x == y}, {NULL, 0}});
 * Optional parameters not named take their default. A name the op does not have, or a required
 * one missing, is a programming error and aborts: callers (the tracer) describe their calls by
 * the table's names, never by position. */
typedef struct {
    const char *name;
    long long value;
} sg_op_kv;
void sg_op_vals(sg_op op, int *val, const sg_op_kv *kv);

sg_cost sg_op_cost(sg_op op, const int *val);

/* The conv and pool geometry in an op's values (conv2d_* and maxpool_* ops). */
sg_conv_shape sg_op_conv_shape(sg_op op, const int *val);
sg_pool_shape sg_op_pool_shape(sg_op op, const int *val);
/* The values of conv op `op` (a conv2d_* op) for shape s (its algorithm included); accumulate
 * only counts for conv2d_bwd_filter. */
void sg_op_conv_vals(sg_op op, const sg_conv_shape *s, int accumulate, int *val);

/* Whether backend be runs op at the parameter values val (NULL: at all values): every slot the
 * op calls is filled, and the backend's supports() (when it has one) says yes. */
int sg_backend_supports(const sg_backend *be, sg_op op, const int *val);
/* The first slot of op that be leaves empty, or NULL. */
const char *sg_op_missing_slot(const sg_backend *be, sg_op op);
/* The conv algorithms be runs for conv op `op` at the geometry in val (its algo ignored), as
 * "default, im2col, dnnl" (enum order): what a refusal names as the alternatives. */
void sg_conv_algos_supported(const sg_backend *be, sg_op op, const int *val, char *buf,
                             size_t cap);

#ifdef __cplusplus
}
#endif
