/* tests/ssl/tiny_ssl.h: the small BYOL model the SSL tests build (a narrow CIFAR-stem
 * ResNet-18 on 3x16x16 views): BYOL with the MLP predictor, SGD with momentum and weight decay,
 * symmetric normalised loss, DirectPred's rho 0.3 / eps 0.1 every step when asked for. Each test
 * then sets what it is about (method, predictor, optimiser, rates, seed). */
#pragma once
#include <string.h>

#include "core/ssl/ssl.h"

/* width: trunk width multiplier (0.0625: channels 4..32); hidden/D: heads' hidden and output
 * sizes; batch per view. */
static inline sg_ssl_settings tiny_ssl(double width, int hidden, int D, int batch) {
    sg_ssl_settings s;
    memset(&s, 0, sizeof s);
    s.trunk = (sg_resnet_spec){18, SG_STEM_CIFAR, width, 3, 16, 16, SG_CONV_DEFAULT, NULL, 0};
    s.proj_hidden = hidden;
    s.proj_out = D;
    s.pred_hidden = hidden;
    s.proj_layers = 2; /* the schema's defaults of the head forms */
    s.pred_mlp_bias = 1;
    s.batch = batch;
    s.method = SG_METHOD_BYOL;
    s.stop_gradient = 1;
    s.ema = 0.99;
    s.symmetric_loss = 1;
    s.normalize_loss = 1;
    s.pred = SG_PRED_MLP;
    s.pred_lr_mult = 1;
    s.pred_wd = 4e-4;
    s.rho = 0.3;
    s.eps = 0.1;
    s.freq = 1;
    s.eigmap = SG_EIGMAP_CODE;
    s.optimizer = SG_OPT_SGD;
    s.lr = 0.05;
    s.momentum = 0.9;
    s.wd = 4e-4;
    s.total_steps = 100;
    s.seed = 3;
    return s;
}
