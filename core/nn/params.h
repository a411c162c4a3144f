/* core/nn/params.h: one contiguous buffer each for parameters and gradients.
 *
 * A network is built twice against an sg_params: first measuring (no memory, only counts and
 * the table of entries), then for real with exactly that size. Every tensor is an entry with a
 * name, a group (trunk / projector / predictor: separate weight decay and learning rate) and a
 * kind (LARS and weight decay treat biases and BN parameters differently). The BN running
 * statistics are buffers, kept apart: they are neither optimised nor EMA-averaged. */
#pragma once
#include <stddef.h>

#include "core/base/err.h"
#include "kernels/kernels.h"

typedef enum { SG_PG_TRUNK = 0, SG_PG_PROJECTOR = 1, SG_PG_PREDICTOR = 2, SG_PG_COUNT = 3 } sg_param_group;
typedef enum { SG_PK_CONV_W, SG_PK_LINEAR_W, SG_PK_BIAS, SG_PK_BN_GAMMA, SG_PK_BN_BETA } sg_param_kind;

typedef struct {
    char name[64];
    size_t offset, count; /* floats into w / g */
    sg_param_group group;
    sg_param_kind kind;
} sg_param_entry;

struct sg_bn_sync;

typedef struct {
    int measuring;
    const sg_backend *be; /* whose memory w, g and buf are (NULL: host memory) */
    /* set by the model before its real build: the batch-norm layers built from these params
     * take their statistics over every rank's batch (core/nn/layers.h); NULL: this batch */
    const struct sg_bn_sync *bn_sync;
    float *w, *g;       /* [total] parameters and gradients */
    size_t total;       /* floats of parameters */
    float *buf;         /* [nbuf] BN running statistics */
    size_t nbuf;
    sg_param_entry *entries;
    int count, cap;
} sg_params;

void sg_params_init_measure(sg_params *p);
/* Allocates w, g and buf (zero-filled) for the sizes a measuring pass found (`m`), with an empty
 * table that the real build fills again in the same order. be != NULL: in that backend's memory
 * (device memory for "cuda"); NULL: host memory. */
int sg_params_init_like(sg_params *p, const sg_params *m, const sg_backend *be, sg_err *err);
void sg_params_free(sg_params *p);

/* Takes `count` parameters: returns the weight pointer (NULL when measuring) and sets *grad. */
float *sg_params_take(sg_params *p, const char *name, size_t count, sg_param_group group,
                      sg_param_kind kind, float **grad);
/* Takes `count` buffer floats (running statistics). */
float *sg_params_take_buffer(sg_params *p, size_t count);

/* The contiguous range [*first, *first + *count) of one group's parameters (groups are taken in
 * order: trunk, projector, predictor). Returns 0 if the group has none. */
int sg_params_group_range(const sg_params *p, sg_param_group group, size_t *first, size_t *count);
