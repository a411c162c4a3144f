#!/usr/bin/python3
"""Writes the PyTorch reference fixtures the C tests compare against (tests/fixtures/*.sgfx).

Run with Debian's python3-torch (/usr/bin/python3, torch 1.13); the build and the tests never
need PyTorch, only the committed files:
    /usr/bin/python3 scripts/make_fixtures.py tests/fixtures
    /usr/bin/python3 scripts/make_fixtures.py tests/fixtures --only simsiam_proj3,byol_mlp_nobias
(--only: write just the named cases, leaving every other file as it is.)

Each case is one BYOL/SimSiam training step of a narrow ResNet-18 (CIFAR stem, widths 4/8/16/32,
3x16x16 images, 4 images per view) with the projector 32->16->8 and a predictor, written exactly
as stopgrad's core/ssl/ssl.c does it (and as the paper's reference code does): each view its own
BN batch, symmetric loss -2 cos(p_v, t_other) averaged over the batch, SGD with momentum and
weight decay, the predictor as its own parameter group, DirectPred's overwrite after the
optimizer step, then the EMA update. Two cases vary the heads (HEADS): simsiam_proj3 has
SimSiam's projector (3 Linears, BN without affine on the output) and affine hidden BNs in both
heads; byol_mlp_nobias has the 2-layer predictor without biases. The file holds the initial
weights, the two views, the loss and every parameter gradient of the first step, and the losses
of 10 steps (fresh views each);
for each first-step result also its float64 value ("<name>.f64") and the envelope of float32
rounding around it ("<name>.env", see main).

File format (little endian): b"SGFX", u32 count, then per tensor: u32 name length, name bytes,
u32 ndim, u32 dims[ndim], f32 data[prod(dims)].
"""
import math
import os
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

from torch_resnet import CifarTrunk, ImagenetTrunk, head, mlp

B, C_IN, HW = 4, 3, 16
WIDTH = [4, 8, 16, 32]
PROJ_HIDDEN, D, PRED_HIDDEN = 16, 8, 16
LR, MOMENTUM, WD, PRED_WD, EMA = 0.03, 0.9, 4e-4, 4e-4, 0.996
RHO, EPS = 0.3, 0.1
STEPS = 10


def trunk_case(depth, seed, dtype=torch.float32, jitter=0.0, jitter_seed=0):
    """Forward and backward of a trunk alone: feat = trunk(x), L = sum(g * feat)."""
    torch.manual_seed(seed)
    net = ImagenetTrunk(depth, WIDTH, C_IN)
    # BN affine parameters away from 1/0 so their gradients are generic
    with torch.no_grad():
        for n, p in net.named_parameters():
            if ".bn" in "." + n or "downsample.1" in n:
                p.uniform_(0.5, 1.5)
    x = torch.rand(4, C_IN, 48, 40) * 2 - 1
    feat_shape = net(x).shape
    g = torch.rand(feat_shape) * 2 - 1
    t = {"x": x.clone(), "g": g.clone()}
    for n, p in net.named_parameters():
        t["online." + n] = p.detach().clone()
    if jitter:
        jgen = torch.Generator().manual_seed(jitter_seed)
        x = x * (1 + jitter * (torch.rand(x.shape, generator=jgen) * 2 - 1))
    net.to(dtype)
    net.zero_grad()
    feat = net(x.to(dtype))
    (g.to(dtype) * feat).sum().backward()
    t["feat"] = feat.detach()
    for n, p in net.named_parameters():
        t["grad." + n] = p.grad.detach().clone()
    return t


def with_exact(t, exact, runs):
    """Adds "<k>.f64" (the float64 value) and "<k>.env" (the largest deviation from it among
    the float32 runs) for every computed tensor k of t (see main)."""
    keys = [k for k in exact if k.startswith("grad.") or k in
            ("feat", "loss0", "F.after0", "predictor.weight.after0")]
    env = {k: (t[k].double() - exact[k]).abs().max() for k in keys}
    for alt in runs:
        for k in keys:
            env[k] = torch.maximum(env[k], (alt[k].double() - exact[k]).abs().max())
    for k in keys:
        t[k + ".f64"] = exact[k]
        t[k + ".env"] = env[k].reshape(1)
    nonzero = [k for k in keys if exact[k].abs().max() > 1e-6]
    worst = max(nonzero, key=lambda k: (env[k] / exact[k].abs().max()).item())
    return f"widest envelope {worst}: {env[worst].item():.3g} (scale {exact[worst].abs().max().item():.3g})"


# The head forms (stopgrad's model.proj_layers, model.proj_out_bn, model.head_bn_affine,
# predictor.mlp_bias); a case without them has the recipe's heads.
HEADS = {"proj_layers": 2, "proj_out_bn": False, "bn_affine": False, "pred_bias": True}


def projector(heads):
    if heads == HEADS:
        return mlp(WIDTH[-1], PROJ_HIDDEN, D)
    return head(WIDTH[-1], PROJ_HIDDEN, D, layers=heads["proj_layers"], affine=heads["bn_affine"],
                out_bn=heads["proj_out_bn"])


class Net(nn.Module):
    def __init__(self, heads=HEADS):
        super().__init__()
        self.trunk = CifarTrunk(WIDTH, C_IN)
        self.projector = projector(heads)

    def forward(self, x):
        return self.projector(self.trunk(x))


def named_params(net, pred):
    """(stopgrad name, tensor) in stopgrad's parameter order: trunk, projector, predictor."""
    out = [(n, p) for n, p in net.trunk.named_parameters()]
    out += [("projector." + n, p) for n, p in net.projector.named_parameters()]
    if pred is not None:
        out += [("predictor." + n, p) for n, p in pred.named_parameters()]
    return out


def loss_fn(p, t):
    return -2 * (F.normalize(p, dim=1) * F.normalize(t, dim=1)).sum(dim=1)


def directpred_weight(Fm):
    s, U = torch.linalg.eigh(Fm.double())
    s = s.clamp(min=0)
    p = (s / s.max()).sqrt() + EPS
    p = p.clamp(min=1e-4)
    return (U @ torch.diag(p) @ U.t()).to(Fm.dtype)


def run_case(name, method, pred_kind, stop_grad, seed, jitter=0.0, jitter_seed=0,
             dtype=torch.float32, steps=STEPS, heads=HEADS, accum=1):
    """One case; dtype float64 runs the same weights and views (drawn in float32, then widened)
    in double precision: the exact result the float32 computations are measured against.
    accum > 1: each step's views are accum * B images, trained as accum micro-batches of B
    (stopgrad's trainer.accumulate; see make_fixtures_accumulate.py)."""
    torch.manual_seed(seed)
    online = Net(heads)
    if pred_kind == "mlp" and heads == HEADS:
        pred = mlp(D, PRED_HIDDEN, D)
    elif pred_kind == "mlp":
        pred = head(D, PRED_HIDDEN, D, bias=heads["pred_bias"], affine=heads["bn_affine"])
    else:
        pred = nn.Linear(D, D, bias=False)
    target = Net(heads) if method == "byol" else None  # the reference code's independent init
    for mod in (online, pred, target):
        if mod is not None:
            mod.to(dtype)
    tensors = {}
    for n, p in named_params(online, pred):
        tensors["online." + n] = p.detach().clone()
    if target is not None:
        for n, p in named_params(target, None):
            tensors["target." + n] = p.detach().clone()

    params = [p for _, p in named_params(online, None)]
    opt = torch.optim.SGD([{"params": params, "lr": LR, "weight_decay": WD},
                           {"params": list(pred.parameters()), "lr": LR, "weight_decay": PRED_WD}],
                          lr=LR, momentum=MOMENTUM)
    Facc = None
    losses = []
    gen = torch.Generator().manual_seed(seed + 1000)
    jgen = torch.Generator().manual_seed(jitter_seed)
    for step in range(steps):
        x = [torch.rand(B * accum, C_IN, HW, HW, generator=gen) * 2 - 1 for _ in range(2)]
        if jitter:
            # rounding-level noise, for the envelopes of the comparisons (see main)
            x = [xv * (1 + jitter * (torch.rand(xv.shape, generator=jgen) * 2 - 1)) for xv in x]
        x = [xv.to(dtype) for xv in x]
        opt.zero_grad()
        if target is not None:
            target.zero_grad()
        # PyTorch's gradient accumulation: micro-batch j is rows [jB, (j+1)B) of both views, its
        # own BN batch; the gradients of loss_j / accum add up; the step's loss is their mean
        z, loss_sum = [], 0.0
        for j in range(accum):
            xj = [xv[j * B:(j + 1) * B] for xv in x]
            zj = [online(xv) for xv in xj]
            p = [pred(zv) for zv in zj]
            if method == "simsiam":
                t = [zv if not stop_grad else zv.detach() for zv in zj]
            elif stop_grad:
                with torch.no_grad():
                    t = [target(xv) for xv in xj]
            else:
                t = [target(xv) for xv in xj]
            loss = (loss_fn(p[0], t[1]) + loss_fn(p[1], t[0])).mean()
            (loss / accum if accum > 1 else loss).backward()
            loss_sum = loss_sum + loss.detach()
            z += zj
        if accum > 1:
            loss = loss_sum / accum
        if target is not None and not stop_grad:
            # stopgrad's definition: the target-branch gradient is applied to the online weights
            for po, pt in zip(params, target.parameters()):
                po.grad += pt.grad
        if step == 0:
            tensors["x1"], tensors["x2"] = x[0].clone(), x[1].clone()
            tensors["loss0"] = loss.detach().reshape(1).clone()
            for n, prm in named_params(online, pred):
                tensors["grad." + n] = prm.grad.detach().clone()
        else:
            tensors[f"x1.step{step}"], tensors[f"x2.step{step}"] = x[0].clone(), x[1].clone()
        losses.append(loss.item())
        opt.step()
        with torch.no_grad():
            if pred_kind == "directpred":
                f = torch.cat([zv.detach() for zv in z], dim=0)
                Fb = f.t() @ f / f.shape[0]
                Facc = Fb if Facc is None else RHO * Facc + (1 - RHO) * Fb
                pred.weight.copy_(directpred_weight(Facc))
                if step == 0:
                    tensors["F.after0"] = Facc.clone()
                    tensors["predictor.weight.after0"] = pred.weight.detach().clone()
            if target is not None:
                for po, pt in zip(params, target.parameters()):
                    pt.mul_(EMA).add_(po.detach(), alpha=1 - EMA)
    tensors["losses"] = torch.tensor(losses)
    return tensors


def write(path, tensors):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(b"SGFX")
        f.write(struct.pack("<I", len(tensors)))
        for n, t in tensors.items():
            t = t.detach().float().contiguous()
            nb = n.encode()
            f.write(struct.pack("<I", len(nb)))
            f.write(nb)
            f.write(struct.pack("<I", t.dim()))
            f.write(struct.pack(f"<{t.dim()}I", *t.shape))
            f.write(t.numpy().astype("<f4").tobytes())
    os.replace(tmp, path)


def main():
    args = sys.argv[1:]
    only = None
    if "--only" in args:
        i = args.index("--only")
        if i + 1 >= len(args):
            sys.exit("--only needs a comma-separated list of case names")
        only = set(args[i + 1].split(","))
        del args[i:i + 2]
    out = args[0] if args else "tests/fixtures"
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(1)
    simsiam_heads = dict(HEADS, proj_layers=3, proj_out_bn=True, bn_affine=True)
    cases = [("byol", "byol", "mlp", True, 1, HEADS),
             ("simsiam", "simsiam", "mlp", True, 2, HEADS),
             ("byol_nosg", "byol", "mlp", False, 3, HEADS),
             ("directpred", "byol", "directpred", True, 4, HEADS),
             # SimSiam's own heads: 3-layer projector with BN on its output, affine hidden BNs
             ("simsiam_proj3", "simsiam", "mlp", True, 8, simsiam_heads),
             # DirectPred Table 3's bias-off 2-layer predictor
             ("byol_mlp_nobias", "byol", "mlp", True, 9, dict(HEADS, pred_bias=False))]
    trunks = (("trunk_r18_imagenet", 18, 5), ("trunk_r50_imagenet", 50, 6))
    if only is not None:
        known = {c[0] for c in cases} | {t[0] for t in trunks}
        if only - known:
            sys.exit(f"--only: unknown case(s) {sorted(only - known)}; known: {sorted(known)}")
        cases = [c for c in cases if c[0] in only]
        trunks = tuple(t for t in trunks if t[0] in only)
    for name, depth, seed in trunks:
        t = trunk_case(depth, seed)
        runs = [trunk_case(depth, seed, jitter=1e-7, jitter_seed=200 + r) for r in range(8)]
        note = with_exact(t, trunk_case(depth, seed, dtype=torch.float64), runs)
        write(os.path.join(out, name + ".sgfx"), t)
        print(f"{name}: {note}")
    for name, method, pred_kind, sg, seed, heads in cases:
        t = run_case(name, method, pred_kind, sg, seed, heads=heads)
        # Training a tiny network on a batch of 4 is chaotic: a difference at the level of float
        # rounding grows by about e per step (1e-6 on the inputs moves step 3's loss by 1e-2).
        # So the 10-step losses come with PyTorch's own rounding envelope: the largest deviation
        # of 8 runs whose inputs differ by 1e-6 (relative; stopgrad's own rounding differs from
        # PyTorch's by more than 1e-7: other summation orders in conv, BN and gemm), and the C test accepts 4x that.
        #
        # The first step is compared with its exact value instead: the same step in float64
        # ("<name>.f64"). How far a correct float32 computation may land from it depends on the
        # tensor (a BN weight's gradient after a batch of 4 is a small difference of large sums),
        # not on the machine, so each compared tensor gets its own envelope ("<name>.env"): the
        # largest deviation from float64 among this float32 run and 8 float32 runs whose inputs
        # differ by 1e-7 (relative: one rounding of a float32; at 1e-6 a max-pool's choice or a
        # ReLU's sign can flip, which changes a gradient discontinuously). The C test accepts 4x
        # that, whichever kernels OpenBLAS picks.
        exact = run_case(name, method, pred_kind, sg, seed, dtype=torch.float64, steps=1,
                         heads=heads)
        runs = [run_case(name, method, pred_kind, sg, seed, jitter=1e-7, jitter_seed=200 + r,
                         steps=1, heads=heads) for r in range(8)]
        note = with_exact(t, exact, runs)
        base = t["losses"]
        spread = torch.zeros_like(base)
        for r in range(8):
            alt = run_case(name, method, pred_kind, sg, seed, jitter=1e-6, jitter_seed=100 + r,
                           heads=heads)["losses"]
            spread = torch.maximum(spread, (alt - base).abs())
        t["losses_envelope"] = spread
        write(os.path.join(out, name + ".sgfx"), t)
        print(f"{name}: loss0 {t['loss0'].item():.6f}, 10-step losses {[round(v, 5) for v in t['losses'].tolist()]}")
        print(f"  first step: {note}")


if __name__ == "__main__":
    main()
