/* core/ssl/train_config.c */
#include "core/ssl/train_config.h"

#include "core/data/augment.h"

#include <stdio.h>
#include <string.h>

#define BIG 1e300

/* Defaults are the paper's STL-10 recipe (RECIPE.md section 3) with the reference code's forms
 * where the two disagree (target init, eigenvalue map, constant learning rate). */
static const sg_cfg_spec schema[] = {
    /* data */
    {"data.dataset", SG_CFG_ENUM, "stl10", 0, 0, "stl10|cifar10|cifar100|fashion_mnist|imagenet|synthetic",
     "pre-training dataset"},
    {"data.dir", SG_CFG_STRING, "", 0, 0, NULL,
     "dataset folder (empty: /usr/share/datasets/fashion-mnist for fashion_mnist; required otherwise)"},
    {"data.image_size", SG_CFG_INT, "0", 0, 1024, NULL,
     "crop size of the augmented views; 0 = the dataset's native size (96, 32, 28, 224)"},
    {"data.augment_on", SG_CFG_ENUM, "workers", 0, 0, "workers|backend",
     "where the training views are augmented: workers (the data.workers threads, on the CPU) or "
     "backend (the training backend's augmentation kernels, the workers only decode; on CUDA the "
     "uint8 images go up and both views are made on the GPU, with the same random draws). Images "
     "of one size only (not ImageNet); trainer.accumulate=1"},
    {"data.workers", SG_CFG_INT, "2", 0, 64, NULL,
     "augmentation threads preparing the next batch during a step (0 = inline)"},
    {"data.limit", SG_CFG_INT, "0", 0, 1e9, NULL,
     "use only the first N training images (0 = all): for smoke tests and CPU-scale runs"},
    {"data.synthetic_n", SG_CFG_INT, "2048", 16, 1e7, NULL, "synthetic dataset: images"},
    {"data.synthetic_classes", SG_CFG_INT, "10", 2, 1000, NULL, "synthetic dataset: classes"},
    {"data.synthetic_size", SG_CFG_INT, "32", 8, 512, NULL, "synthetic dataset: image side"},
    /* model */
    {"model.depth", SG_CFG_ENUM, "18", 0, 0, "18|50", "ResNet depth"},
    {"model.width", SG_CFG_FLOAT, "1", 0.01, 8, NULL,
     "width multiplier on 64/128/256/512 channels (CPU-scale runs use < 1)"},
    {"model.stem", SG_CFG_ENUM, "auto", 0, 0, "auto|imagenet|cifar",
     "auto: 7x7/2 conv + max-pool for STL-10/ImageNet, 3x3/1 conv for CIFAR/Fashion-MNIST"},
    {"model.proj_hidden", SG_CFG_INT, "512", 1, 65536, NULL, "projector hidden size"},
    /* D is bounded by the eigendecomposition of F (every run computes F's spectrum): LAPACK's
     * ssyevd indexes its 1 + 6D + 2D^2 workspace floats with a 32-bit int, which stops at
     * D = 32766, and cuSOLVER's workspace size is an int too; 16384 keeps both well inside
     * (and F alone is 1 GiB there). */
    {"model.proj_out", SG_CFG_INT, "128", 1, 16384, NULL, "projector output = predictor width D"},
    {"model.pred_hidden", SG_CFG_INT, "512", 1, 65536, NULL, "MLP predictor hidden size"},
    {"model.proj_layers", SG_CFG_INT, "2", 2, 3, NULL,
     "projector Linear layers: 2 = Linear-BN-ReLU-Linear (the recipe); 3 = SimSiam's "
     "Linear-BN-ReLU-Linear-BN-ReLU-Linear (hidden sizes model.proj_hidden)"},
    {"model.proj_out_bn", SG_CFG_BOOL, "false", 0, 0, NULL,
     "batch norm without affine on the projector's output (SimSiam's BatchNorm1d(dim, "
     "affine=False)); the BYOL target's projector mirrors the online one"},
    {"model.head_bn_affine", SG_CFG_BOOL, "false", 0, 0, NULL,
     "the hidden batch norms of the projector and the MLP predictor with a trained gamma/beta "
     "(PyTorch's default, SimSiam's and BYOL's heads; LARS exempts them like the trunk's); "
     "false: no affine (the reference code)"},
    {"model.sync_bn", SG_CFG_BOOL, "false", 0, 0, NULL,
     "with several ranks: batch-norm statistics over the global batch (BYOL's published runs); "
     "false: over each rank's batch (the reference code's DataParallel)"},
    /* method */
    {"method.name", SG_CFG_ENUM, "byol", 0, 0, "byol|simsiam",
     "byol: EMA target network; simsiam: the target is the online network"},
    {"method.stop_gradient", SG_CFG_BOOL, "true", 0, 0, NULL,
     "false: the gradient also flows through the target branch"},
    {"method.ema", SG_CFG_FLOAT, "0.996", 0, 1, NULL, "EMA rate m of the BYOL target"},
    {"method.ema_schedule", SG_CFG_ENUM, "constant", 0, 0, "constant|cosine",
     "cosine: BYOL's 1-(1-m)(cos(pi k/K)+1)/2"},
    {"method.target_init", SG_CFG_ENUM, "independent", 0, 0, "independent|copy",
     "independent: own random init (reference code); copy: a copy of the online network"},
    {"method.loss", SG_CFG_ENUM, "symmetric", 0, 0, "symmetric|one_directional",
     "symmetric: l(p1,t2)+l(p2,t1)"},
    {"method.normalize", SG_CFG_BOOL, "true", 0, 0, NULL,
     "true: -2 cos (l2-normalised); false: squared l2 distance"},
    /* predictor */
    {"predictor.kind", SG_CFG_ENUM, "mlp", 0, 0,
     "mlp|linear|identity|random|directpred|directcopy|optimal", "predictor type"},
    {"predictor.symmetric", SG_CFG_BOOL, "false", 0, 0, NULL,
     "W <- (W+W^T)/2 after each step (MLP: W0 = W1^T)"},
    {"predictor.bias", SG_CFG_BOOL, "false", 0, 0, NULL,
     "bias of the linear predictor (predictor.kind=linear); the 2-layer predictor's biases are "
     "predictor.mlp_bias"},
    {"predictor.mlp_bias", SG_CFG_BOOL, "true", 0, 0, NULL,
     "biases of the 2-layer predictor's two Linear layers (predictor.kind=mlp or random); false: "
     "DirectPred Table 3's bias-off 2-layer rows (the linear predictor's bias is predictor.bias)"},
    {"predictor.lr_mult", SG_CFG_FLOAT, "1", 0, 1000, NULL, "alpha_p: predictor lr = optim.lr * alpha_p"},
    {"predictor.fixed_lr", SG_CFG_BOOL, "false", 0, 0, NULL,
     "the predictor's lr stays optim.lr * predictor.lr_mult at every step, while trunk and "
     "projector follow optim.schedule and the warm-up (SimSiam's 'predictor lr not decayed'; "
     "SGD and LARS); false: the predictor follows them too"},
    {"predictor.wd", SG_CFG_FLOAT, "4e-4", 0, 1, NULL, "predictor weight decay"},
    {"predictor.rho", SG_CFG_FLOAT, "0.3", 0, 1, NULL, "moving-average rate of F"},
    {"predictor.eps", SG_CFG_FLOAT, "0.1", -1, 10, NULL, "eigenvalue floor eps (DirectPred, DirectCopy)"},
    {"predictor.freq", SG_CFG_INT, "1", 1, 1e9, NULL, "steps between predictor overwrites"},
    {"predictor.eigmap", SG_CFG_ENUM, "code", 0, 0, "code|paper|shift|shift_rel",
     "code: sqrt(s/s_max)+eps; paper: sqrt(s)+eps*s_max (Eq. 18); shift: sqrt(max(s-c,0)); "
     "shift_rel: sqrt(max(s/s_max-c,1e-4)) (the reference code's shift relative to s_max, "
     "dyn_eps_inside)"},
    {"predictor.shift_c", SG_CFG_FLOAT, "0", -10, 10, NULL,
     "c of the shift maps: absolute for shift (Table 7), relative to s_max for shift_rel"},
    {"predictor.zero_mean", SG_CFG_BOOL, "false", 0, 0, NULL, "subtract the mean of f from F"},
    {"predictor.directcopy_normalize", SG_CFG_BOOL, "false", 0, 0, NULL,
     "DirectCopy as F/lambda_max(F) + eps I"},
    {"predictor.optimal_reg", SG_CFG_FLOAT, "0.01", 0, 100, NULL,
     "regulariser of the optimal predictor's solve (Table 1)"},
    /* optimisation */
    {"optim.name", SG_CFG_ENUM, "sgd", 0, 0, "sgd|lars", "optimizer"},
    {"optim.lr", SG_CFG_FLOAT, "0.03", 0, 100, NULL, "base learning rate"},
    {"optim.momentum", SG_CFG_FLOAT, "0.9", 0, 0.9999, NULL, "momentum"},
    {"optim.wd", SG_CFG_FLOAT, "4e-4", 0, 1, NULL, "weight decay of trunk and projector"},
    {"optim.schedule", SG_CFG_ENUM, "constant", 0, 0, "constant|cosine", "learning-rate schedule"},
    {"optim.warmup_epochs", SG_CFG_FLOAT, "0", 0, 1000, NULL, "linear warm-up"},
    {"optim.lars_eta", SG_CFG_FLOAT, "0.001", 0, 1, NULL, "LARS trust coefficient"},
    /* trainer */
    {"trainer.batch", SG_CFG_INT, "128", 2, 65536, NULL,
     "images per view per step (the global batch: split evenly over the ranks, and each rank's "
     "part into trainer.accumulate micro-batches)"},
    {"trainer.accumulate", SG_CFG_INT, "1", 1, 4096, NULL,
     "gradient accumulation K: trainer.batch stays one optimiser step's batch and goes through "
     "the model as K micro-batches of trainer.batch/K images (trainer.batch/(K*ranks) per rank) "
     "whose gradients add up before one optimiser step: the step of one batch of trainer.batch "
     "(loss, gradients, F once per step from all K, EMA) except batch norm, whose statistics are "
     "each micro-batch's own"},
    {"trainer.ranks", SG_CFG_INT, "0", 0, 65536, NULL,
     "data-parallel ranks (mpirun -np N / srun -n N); 0: as launched (recorded as launched)"},
    {"trainer.epochs", SG_CFG_INT, "100", 0, 100000, NULL,
     "epochs (0: evaluate the untrained network, the random-init baseline)"},
    {"trainer.max_steps", SG_CFG_INT, "0", 0, 1e12, NULL, "stop after N steps (0 = all epochs)"},
    {"trainer.seed", SG_CFG_INT, "1", 0, 4294967295.0, NULL, "seed of weights, order and augmentation"},
    {"trainer.threads", SG_CFG_INT, "0", 0, 4096, NULL, "compute threads (0 = all cores)"},
    {"trainer.backend", SG_CFG_ENUM, "cpu", 0, 0, "cpu|cuda", "kernel backend"},
    {"conv.algo", SG_CFG_ENUM, "default", 0, 0, "default|im2col|winograd|dnnl|cudnn|auto",
     "convolution algorithm where the backend runs it (winograd: the CPU's 3x3 stride-1 layers; "
     "dnnl: oneDNN, CPU; cudnn: cuDNN, CUDA, every pass's cuDNN algorithm measured once per "
     "shape, cached in $XDG_CACHE_HOME or $HOME/.cache/stopgrad/cudnn-algo.csv and recorded in "
     "the run folder's cudnn-algo.csv); other layers keep the backend's default (im2col + "
     "sgemm). auto: each distinct conv shape runs the algorithm measured fastest there in its "
     "three passes (ties: im2col; CPU: im2col, winograd, dnnl; CUDA: im2col, cudnn), cached in "
     "conv.algo_cache and recorded in the run folder (conv-algo.csv, which a resume reuses)"},
    {"conv.algo_cache", SG_CFG_STRING, "", 0, 0, NULL,
     "conv.algo=auto's cache of measured choices (empty: $XDG_CACHE_HOME/stopgrad/conv-algo.csv, "
     "else $HOME/.cache/stopgrad/conv-algo.csv); rows of another machine or build are ignored"},
    {"trainer.loss_readback", SG_CFG_INT, "0", 0, 100000, NULL,
     "steps whose losses are read back from the backend together (their steps.csv rows written "
     "then): 1 reads every step's loss on the spot and skips the update of a step whose loss is "
     "not finite; N > 1 lets N steps run with nothing read back (a device backend's stream never "
     "waits inside a step) and stops the run at the first non-finite loss found at the read, "
     "before any checkpoint is written after it; 0: 1 on the CPU backend, 20 on CUDA. One rank "
     "only (with several the loss is summed over the ranks every step)"},
    {"trainer.graph", SG_CFG_BOOL, "false", 0, 0, NULL,
     "record the training step once as a CUDA Graph (forward, backward, optimiser, EMA; the "
     "per-step rates read from device memory) and launch that, one launch instead of a few "
     "hundred: after one eager step, checked bit for bit against the eager step when captured "
     "(the run stops naming the difference if they differ); DirectPred's overwrite and the loss "
     "log's copy stay outside. CUDA backend, with trainer.loss_readback > 1, one rank, "
     "trainer.accumulate=1, conv.deterministic=true and predictor.zero_mean=false. The computed "
     "values are the eager step's"},
    {"trainer.precision", SG_CFG_ENUM, "fp32", 0, 0, "fp32|tf32|bf16",
     "precision of the matrix products (gemms, linear layers, convolutions): fp32; tf32 or bf16 "
     "inputs with fp32 accumulation on tensor cores (CUDA backend; convolutions as im2col + "
     "cuBLAS, cuDNN runs fp32 and tf32). Weights, BN statistics, loss, EMA, the optimiser and "
     "DirectPred's eigendecomposition stay fp32. The CPU backend runs fp32 only"},
    {"gemm.impl", SG_CFG_ENUM, "openblas", 0, 0, "openblas|dnnl",
     "the CPU backend's sgemm, for every matrix product of a step (gemm, linear layers, im2col "
     "and Winograd convolutions, DirectPred's predictor rebuild): openblas (OpenBLAS's "
     "cblas_sgemm) or dnnl (oneDNN's dnnl_sgemm, where the build has oneDNN); the CUDA backend "
     "runs cuBLAS and takes openblas only"},
    {"conv.deterministic", SG_CFG_BOOL, "true", 0, 0, NULL,
     "cudnn (conv.algo=cudnn or auto on CUDA): choose among cuDNN's deterministic algorithms "
     "only, so a rerun is bit-identical; false allows the fastest, some of which add with "
     "atomics in a varying order"},
    {"trainer.checkpoint_every", SG_CFG_INT, "0", 0, 1e12, NULL,
     "write a checkpoint every N steps (0 = at epoch ends only)"},
    /* evaluation */
    {"eval.every", SG_CFG_INT, "0", 0, 100000, NULL, "evaluate every N epochs (0 = at the end only)"},
    {"eval.probe", SG_CFG_BOOL, "true", 0, 0, NULL, "linear probe (eval.protocol says which)"},
    {"eval.knn", SG_CFG_BOOL, "true", 0, 0, NULL, "weighted kNN"},
    {"eval.probe_epochs", SG_CFG_INT, "50", 1, 10000, NULL, "probe epochs"},
    {"eval.probe_lr", SG_CFG_FLOAT, "3e-4", 0, 10, NULL, "probe Adam learning rate"},
    {"eval.probe_wd", SG_CFG_FLOAT, "1e-3", 0, 1, NULL, "probe weight decay"},
    {"eval.probe_batch", SG_CFG_INT, "128", 1, 65536, NULL, "probe batch"},
    {"eval.features", SG_CFG_ENUM, "trunk", 0, 0, "trunk|pixels",
     "what the probe and kNN read: the trunk's features, or the evaluation views' pixels (the "
     "raw-pixel baseline)"},
    {"eval.bn_stats", SG_CFG_ENUM, "running", 0, 0, "running|data",
     "BN statistics at evaluation: the running ones training left (an untrained network keeps "
     "0/1, which turns BN off), or re-estimated from the training images' evaluation views"},
    {"eval.probe_holdout", SG_CFG_FLOAT, "0", 0, 0.5, NULL,
     "probe: fraction of the labelled training images held out to choose the epoch (0: the "
     "reference protocol, fit on all, report the last epoch; the best-test-epoch number is "
     "reported beside it either way)"},
    {"eval.probe_patience", SG_CFG_INT, "0", 0, 10000, NULL,
     "probe: stop after this many epochs without a better held-out score (0: every epoch)"},
    {"eval.protocol", SG_CFG_ENUM, "reference", 0, 0, "reference|byol|simsiam",
     "linear evaluation: reference = the DirectPred code's probe (Adam on standardised centre "
     "views, eval.probe_* as given); byol = BYOL's (SGD Nesterov 0.9, no wd, batch 1024, 80 "
     "epochs, lr base*batch/256 with a per-step cosine, base chosen of 0.4,0.3,0.2,0.1,0.05 with "
     "the epoch on 10% held-out training images; crop+flip training views redrawn every epoch, "
     "centre test views); simsiam = SimSiam's main_lincls.py (LARC trust 0.001 + SGD momentum "
     "0.9, no wd, batch 4096, 90 epochs, lr 0.1*batch/256 with a per-epoch cosine, crop+flip "
     "training views). For byol and simsiam eval.probe_epochs, probe_lr (the base lr), "
     "probe_wd, probe_batch and probe_holdout replace the protocol's value only when not at "
     "their defaults; results/README.md"},
    {"eval.knn_k", SG_CFG_INT, "200", 1, 100000, NULL, "kNN neighbours"},
    {"eval.knn_t", SG_CFG_FLOAT, "0.1", 1e-6, 100, NULL, "kNN temperature"},
    {"eval.train_limit", SG_CFG_INT, "0", 0, 1e9, NULL, "probe/kNN: first N labelled train images (0 = all)"},
    {"eval.test_limit", SG_CFG_INT, "0", 0, 1e9, NULL, "probe/kNN: first N test images (0 = all)"},
    /* run */
    {"run.dir", SG_CFG_STRING, "results/runs", 0, 0, NULL, "parent folder of run folders"},
    {"run.name", SG_CFG_STRING, "", 0, 0, NULL, "run folder name (empty: derived from the config hash and seed)"},
    {"run.results", SG_CFG_STRING, "results/runs/results.csv", 0, 0, NULL,
     "results CSV the final summary row is appended to"},
    {"run.tag", SG_CFG_STRING, "", 0, 0, NULL, "free text recorded in every row (e.g. the suite row it answers)"},
};

const sg_cfg_spec *sg_train_schema(int *n) {
    *n = (int)(sizeof schema / sizeof schema[0]);
    return schema;
}

sg_config *sg_train_config_new(void) {
    int n;
    const sg_cfg_spec *s = sg_train_schema(&n);
    return sg_config_new(s, n);
}

/* Keys that say where a run is stored, what it is called or how its work is spread over
 * threads, none of which is part of what it computes: a run may be resumed with other values.
 * (The thread count can change the last bits of a CPU run: resuming with another count gives a
 * valid run that is not bit-identical to an uninterrupted one.) */
static const char *const unhashed_keys[] = {"data.dir",     "data.workers", "trainer.threads",
                                            "trainer.checkpoint_every",     "run.dir",
                                            "run.name",     "run.results",  "run.tag",
                                            "conv.algo_cache", "trainer.loss_readback",
                                            "data.augment_on", "trainer.graph"};

int sg_train_config_key_hashed(const char *key) {
    for (size_t i = 0; i < sizeof unhashed_keys / sizeof unhashed_keys[0]; i++)
        if (!strcmp(unhashed_keys[i], key)) return 0;
    return 1;
}

/* Keys added after the setting hash was first written into run names and checkpoints: each
 * counts only where it is not at its default, so every run that does not use it keeps the hash
 * it had before the key existed (and with it its run name and its checkpoints). */
static const char *const later_keys[] = {"model.sync_bn",     "model.proj_layers",
                                         "model.proj_out_bn", "model.head_bn_affine",
                                         "predictor.mlp_bias", "eval.protocol",
                                         "predictor.fixed_lr", "trainer.accumulate",
                                         "conv.deterministic", "gemm.impl",
                                         "trainer.precision"};

static const char *schema_default(const char *key) {
    int n;
    const sg_cfg_spec *spec = sg_train_schema(&n);
    for (int i = 0; i < n; i++)
        if (!strcmp(spec[i].key, key)) return spec[i].def;
    return NULL;
}

uint64_t sg_train_config_hash(const sg_config *c) {
    enum { NU = sizeof unhashed_keys / sizeof unhashed_keys[0],
           NL = sizeof later_keys / sizeof later_keys[0] };
    const char *skip[NU + NL + 1];
    int n = 0;
    /* one rank (or "as launched" with one) is the computation of every run before ranks
     * existed, and sync BN over one rank is plain BN */
    const int one_rank = sg_config_int(c, "trainer.ranks") <= 1;
    for (int i = 0; i < NU; i++) skip[n++] = unhashed_keys[i];
    for (int i = 0; i < NL; i++) {
        const char *def = schema_default(later_keys[i]);
        if ((def && !strcmp(sg_config_text(c, later_keys[i]), def)) ||
            (one_rank && !strcmp(later_keys[i], "model.sync_bn")))
            skip[n++] = later_keys[i];
    }
    if (one_rank) skip[n++] = "trainer.ranks";
    return sg_config_hash_without(c, skip, n);
}

static const sg_hydra_rule rules[] = {
    {"trainer.predictor_reg", "corr", "predictor.kind", "directpred"},
    {"trainer.predictor_reg", "directcopy", "predictor.kind", "directcopy"},
    {"trainer.predictor_reg", "minimal_space", "predictor.kind", "optimal"},
    {"trainer.predictor_reg", "symmetric", "predictor.symmetric", "true"},
    {"trainer.predictor_reg", "null", "predictor.symmetric", "false"},
    {"trainer.predictor_reg", "None", "predictor.symmetric", "false"},
    {"trainer.predictor_freq", NULL, "predictor.freq", NULL},
    {"trainer.dyn_lambda", NULL, "predictor.rho", NULL},
    {"trainer.dyn_eps", NULL, "predictor.eps", NULL},
    {"trainer.dyn_zero_mean", NULL, "predictor.zero_mean", NULL},
    {"trainer.dyn_reg", NULL, "predictor.optimal_reg", NULL},
    {"trainer.balance_type", "boost_scale", "predictor.eigmap", "code"},
    {"trainer.dyn_convert", "2", "predictor.eigmap", "code"},
    {"trainer.m", NULL, "method.ema", NULL},
    {"trainer.batch_size", NULL, "trainer.batch", NULL},
    {"trainer.max_epochs", NULL, "trainer.epochs", NULL},
    {"trainer.use_l2_normalization", NULL, "method.normalize", NULL},
    {"optimizer.params.lr", NULL, "optim.lr", NULL},
    {"optimizer.params.momentum", NULL, "optim.momentum", NULL},
    {"optimizer.params.weight_decay", NULL, "optim.wd", NULL},
    {"predictor_optimizer.params.weight_decay", NULL, "predictor.wd", NULL},
    {"use_optimizer", NULL, "optim.name", NULL},
    {"dataset", NULL, "data.dataset", NULL},
    {"dataset_path", NULL, "data.dir", NULL},
    {"seed", NULL, "trainer.seed", NULL},
    {"network.name", "resnet18", "model.depth", "18"},
    {"network.name", "resnet50", "model.depth", "50"},
    {"network.projection_head.mlp_hidden_size", NULL, "model.proj_hidden", NULL},
    {"network.projection_head.projection_size", NULL, "model.proj_out", NULL},
    {"network.predictor_head.mlp_hidden_size", NULL, "model.pred_hidden", NULL},
};

const sg_hydra_rule *sg_hydra_rules(int *n) {
    *n = (int)(sizeof rules / sizeof rules[0]);
    return rules;
}

int sg_train_config_set_arg(sg_config *c, const char *arg, sg_err *err) {
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg)
        return sg_errf(err, "'%s': expected key=value", arg);
    char key[128];
    size_t klen = (size_t)(eq - arg);
    if (klen >= sizeof key) return sg_errf(err, "'%.40s...': key too long", arg);
    memcpy(key, arg, klen);
    key[klen] = 0;
    const char *value = eq + 1;
    int known_ref = 0;
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        const sg_hydra_rule *r = &rules[i];
        if (strcmp(r->ref_key, key) != 0) continue;
        known_ref = 1;
        if (r->ref_value && strcmp(r->ref_value, value) != 0) continue;
        char origin[192];
        snprintf(origin, sizeof origin, "command line, from the reference code's %s=%s", key, value);
        return sg_config_set(c, r->key, r->value ? r->value : value, origin, err);
    }
    if (known_ref) {
        char accepted[512] = "";
        for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++)
            if (!strcmp(rules[i].ref_key, key) && rules[i].ref_value) {
                strncat(accepted, accepted[0] ? ", " : "", sizeof accepted - strlen(accepted) - 1);
                strncat(accepted, rules[i].ref_value, sizeof accepted - strlen(accepted) - 1);
            }
        return sg_errf(err,
                       "reference-code key %s=%s is not supported by stopgrad (accepted values: %s)",
                       key, value, accepted);
    }
    return sg_config_set_arg(c, arg, err);
}

static int enum_is(const sg_config *c, const char *key, const char *v) {
    return strcmp(sg_config_str(c, key), v) == 0;
}

/* The index of an enum key's value in names[n] (the C enum's name table). The schema's choices
 * and the table must agree (tests/ssl/test_switches.c checks it): a value without a name is a
 * programming error. */
static int enum_index(const sg_config *c, const char *key, const char *const *names, int n) {
    for (int k = 0; k < n; k++)
        if (enum_is(c, key, names[k])) return k;
    SG_CHECK(0, "%s=%s has no entry in its enum's name table", key, sg_config_str(c, key));
    return 0;
}

int sg_train_settings(const sg_config *c, int in_channels, int H, int W, long steps_per_epoch,
                      sg_ssl_settings *s, sg_err *err) {
    memset(s, 0, sizeof *s);
    const sg_dataset_info *ds = sg_dataset_find(sg_config_str(c, "data.dataset"));
    s->trunk.depth = enum_is(c, "model.depth", "50") ? 50 : 18;
    s->trunk.width = sg_config_float(c, "model.width");
    if (enum_is(c, "model.stem", "auto"))
        s->trunk.stem = ds && ds->imagenet_stem ? SG_STEM_IMAGENET : SG_STEM_CIFAR;
    else
        s->trunk.stem = enum_is(c, "model.stem", "imagenet") ? SG_STEM_IMAGENET : SG_STEM_CIFAR;
    s->trunk.in_channels = in_channels;
    /* auto: the default until the run resolves it shape by shape (core/nn/conv_auto.h) */
    s->trunk.conv_algo = enum_is(c, "conv.algo", "auto")
                             ? SG_CONV_DEFAULT
                             : (sg_conv_algo)enum_index(c, "conv.algo", sg_conv_algo_names,
                                                        SG_CONV_ALGO_COUNT);
    s->gemm_impl = (sg_gemm_impl)enum_index(c, "gemm.impl", sg_gemm_impl_names,
                                            SG_GEMM_IMPL_COUNT);
    if (s->gemm_impl != SG_GEMM_OPENBLAS) {
        const char *why = NULL;
        if (!enum_is(c, "trainer.backend", "cpu"))
            return sg_errf(err, "gemm.impl=%s: trainer.backend=%s runs its own gemms; gemm.impl "
                                "chooses the CPU backend's sgemm (openblas|dnnl)",
                           sg_gemm_impl_names[s->gemm_impl], sg_config_str(c, "trainer.backend"));
        if (!sg_cpu_gemm_impl_available(s->gemm_impl, &why))
            return sg_errf(err, "gemm.impl=%s: %s", sg_gemm_impl_names[s->gemm_impl], why);
    }
    /* when losses are read back changes no computed value (only where a diverged run stops) */
    const long readback = sg_config_int(c, "trainer.loss_readback");
    s->loss_readback = readback > 0 ? (int)readback : enum_is(c, "trainer.backend", "cpu") ? 1 : 20;
    s->precision = (sg_precision)enum_index(c, "trainer.precision", sg_precision_names,
                                            SG_PREC_COUNT);
    /* the model checks what a graph needs of its settings and backend (sg_ssl_graph_refusal);
     * here what it cannot see: the backend by name, and cuDNN's determinism, without which the
     * graph's step cannot equal the eager one bit for bit */
    s->graph = sg_config_bool(c, "trainer.graph");
    if (s->graph && enum_is(c, "trainer.backend", "cpu"))
        return sg_errf(err, "trainer.graph=true: trainer.backend=cpu runs each kernel as it is "
                            "called and records no graphs (CUDA Graphs: trainer.backend=cuda)");
    if (s->graph && !sg_config_bool(c, "conv.deterministic"))
        return sg_errf(err, "trainer.graph=true with conv.deterministic=false: the captured step "
                            "is checked bit for bit against the eager one, which needs "
                            "deterministic convolutions");
    if (s->precision != SG_PREC_FP32) {
        if (!enum_is(c, "trainer.backend", "cuda"))
            return sg_errf(err, "trainer.precision=%s: trainer.backend=%s computes in fp32 only "
                                "(tf32 and bf16 are the CUDA backend's tensor-core products)",
                           sg_precision_names[s->precision], sg_config_str(c, "trainer.backend"));
        if (enum_is(c, "conv.algo", "cudnn") && s->precision == SG_PREC_BF16)
            return sg_errf(err, "trainer.precision=bf16 with conv.algo=cudnn: cuDNN's bf16 "
                                "convolutions need bf16 tensors, which the model does not keep; "
                                "use conv.algo=im2col (cuBLAS in bf16) or auto");
    }
    s->trunk.H = H;
    s->trunk.W = W;
    s->proj_hidden = (int)sg_config_int(c, "model.proj_hidden");
    s->proj_out = (int)sg_config_int(c, "model.proj_out");
    s->pred_hidden = (int)sg_config_int(c, "model.pred_hidden");
    s->proj_layers = (int)sg_config_int(c, "model.proj_layers");
    s->proj_out_bn = sg_config_bool(c, "model.proj_out_bn");
    s->head_bn_affine = sg_config_bool(c, "model.head_bn_affine");
    /* the model's batch is one micro-batch: trainer.batch (one optimiser step's) / accumulate */
    s->accumulate = (int)sg_config_int(c, "trainer.accumulate");
    s->batch = (int)sg_config_int(c, "trainer.batch") / s->accumulate;
    s->ranks = 1; /* the caller splits the batch over the ranks of its job */
    s->sync_bn = sg_config_bool(c, "model.sync_bn");

    s->method = enum_is(c, "method.name", "simsiam") ? SG_METHOD_SIMSIAM : SG_METHOD_BYOL;
    s->stop_gradient = sg_config_bool(c, "method.stop_gradient");
    s->ema = sg_config_float(c, "method.ema");
    s->ema_cosine = enum_is(c, "method.ema_schedule", "cosine");
    s->target_copy = enum_is(c, "method.target_init", "copy");
    s->symmetric_loss = enum_is(c, "method.loss", "symmetric");
    s->normalize_loss = sg_config_bool(c, "method.normalize");

    s->pred = (sg_pred_kind)enum_index(c, "predictor.kind", sg_pred_kind_names, SG_PRED_COUNT);
    s->pred_symmetric = sg_config_bool(c, "predictor.symmetric");
    s->pred_bias = sg_config_bool(c, "predictor.bias");
    s->pred_mlp_bias = sg_config_bool(c, "predictor.mlp_bias");
    s->pred_lr_mult = sg_config_float(c, "predictor.lr_mult");
    s->pred_fixed_lr = sg_config_bool(c, "predictor.fixed_lr");
    s->pred_wd = sg_config_float(c, "predictor.wd");
    s->rho = sg_config_float(c, "predictor.rho");
    s->eps = sg_config_float(c, "predictor.eps");
    s->freq = (int)sg_config_int(c, "predictor.freq");
    s->eigmap = (sg_eigmap)enum_index(c, "predictor.eigmap", sg_eigmap_names, SG_EIGMAP_COUNT);
    s->shift_c = sg_config_float(c, "predictor.shift_c");
    s->zero_mean = sg_config_bool(c, "predictor.zero_mean");
    s->directcopy_normalize = sg_config_bool(c, "predictor.directcopy_normalize");
    s->optimal_reg = sg_config_float(c, "predictor.optimal_reg");

    s->optimizer = enum_is(c, "optim.name", "lars") ? SG_OPT_LARS : SG_OPT_SGD;
    s->lr = sg_config_float(c, "optim.lr");
    s->momentum = sg_config_float(c, "optim.momentum");
    s->wd = sg_config_float(c, "optim.wd");
    s->lr_cosine = enum_is(c, "optim.schedule", "cosine");
    s->lars_eta = sg_config_float(c, "optim.lars_eta");
    s->warmup_steps = (long)(sg_config_float(c, "optim.warmup_epochs") * (double)steps_per_epoch);
    long total = steps_per_epoch * (long)sg_config_int(c, "trainer.epochs");
    long max_steps = (long)sg_config_int(c, "trainer.max_steps");
    s->total_steps = (max_steps > 0 && max_steps < total) ? max_steps : total;
    s->seed = (uint64_t)sg_config_int(c, "trainer.seed");

    /* cross-key checks: settings that cannot mean anything together */
    int linear_kind = s->pred == SG_PRED_LINEAR || s->pred == SG_PRED_DIRECTPRED ||
                      s->pred == SG_PRED_DIRECTCOPY || s->pred == SG_PRED_OPTIMAL;
    if (s->pred_bias && s->pred != SG_PRED_LINEAR)
        return sg_errf(err, "predictor.bias=true applies only to predictor.kind=linear (got %s)",
                       sg_config_str(c, "predictor.kind"));
    if (!s->pred_mlp_bias && s->pred != SG_PRED_MLP && s->pred != SG_PRED_RANDOM)
        return sg_errf(err,
                       "predictor.mlp_bias=false applies only to predictor.kind=mlp or random "
                       "(got %s; the linear predictor's bias is predictor.bias)",
                       sg_config_str(c, "predictor.kind"));
    if (s->pred_symmetric && !(linear_kind || s->pred == SG_PRED_MLP))
        return sg_errf(err, "predictor.symmetric=true needs a linear or mlp predictor (got %s)",
                       sg_config_str(c, "predictor.kind"));
    if (s->eigmap == SG_EIGMAP_SHIFT && s->pred != SG_PRED_DIRECTPRED)
        return sg_errf(err, "predictor.eigmap=shift applies only to predictor.kind=directpred");
    if (s->eigmap == SG_EIGMAP_SHIFT_REL && s->pred != SG_PRED_DIRECTPRED)
        return sg_errf(err, "predictor.eigmap=shift_rel applies only to predictor.kind=directpred");
    if (s->pred_fixed_lr && (s->pred == SG_PRED_IDENTITY || s->pred == SG_PRED_RANDOM))
        return sg_errf(err, "predictor.fixed_lr=true needs a trained predictor (predictor.kind=%s "
                            "has no weights the optimiser moves)",
                       sg_config_str(c, "predictor.kind"));
    const long Bg = (long)sg_config_int(c, "trainer.batch");
    if (Bg % s->accumulate != 0 || Bg / s->accumulate < 2)
        return sg_errf(err, "trainer.batch=%ld does not split into trainer.accumulate=%d equal "
                            "micro-batches of at least 2 images", Bg, s->accumulate);
    return 0;
}

int sg_train_input_shape(const sg_config *c, int *channels, int *size, sg_err *err) {
    const char *name = sg_config_str(c, "data.dataset");
    const sg_dataset_info *ds = sg_dataset_find(name);
    if (!ds) return sg_errf(err, "data.dataset=%s: not in the dataset table (%s)", name,
                            sg_dataset_names());
    int native = ds->native_size > 0 ? ds->native_size : (int)sg_config_int(c, "data.synthetic_size");
    int S = (int)sg_config_int(c, "data.image_size");
    if (S <= 0) S = native;
    sg_aug_recipe rec;
    sg_aug_recipe_make(ds, 0, ds->channels, S, &rec);
    *channels = rec.out_channels > 0 ? rec.out_channels : ds->channels;
    *size = S;
    return 0;
}
