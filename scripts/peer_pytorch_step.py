#!/usr/bin/python3
"""The same BYOL training step in PyTorch, for a side-by-side speed comparison with stopgrad.

    /usr/bin/python3 scripts/peer_pytorch_step.py --size 96 --batch 64 --threads 2 --steps 10

Builds what stopgrad builds for the STL-10 configuration (ResNet-18 with the 7x7/2 stem and
max-pool, projector 512-512-128 and predictor 128-512-128 with BN without affine, an EMA target),
runs `--warmup` untimed steps and `--steps` timed ones on random views (data loading excluded:
stopgrad's img/s is the step alone too), and prints images per second (images, each seen in two
views) and the peak resident memory. Uses Debian's python3-torch (CPU); never needed by the build
or the tests.

--device cuda runs the same step on the GPU (scripts/gpu-check.sh), in FP32 as stopgrad's CUDA
backend does: TF32 off for matmuls and cuDNN convolutions, cudnn.benchmark on (PyTorch's fastest
FP32 algorithms), each step synchronised before it is timed; it reports the peak GPU memory.
--precision matches stopgrad's trainer.precision on the GPU: fp32 (the default, TF32 off), tf32
(TF32 allowed in matmuls and cuDNN convolutions) or bf16 (the forward passes under autocast to
bfloat16, with fp32 weights, optimiser and EMA).
"""
import contextlib
import argparse
import resource
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from torch_resnet import CifarTrunk, ImagenetTrunk, mlp


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=96)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--width", type=float, default=1.0)
    ap.add_argument("--cifar-stem", action="store_true")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--precision", default="fp32", choices=["fp32", "tf32", "bf16"])
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    if a.precision != "fp32" and a.device != "cuda":
        ap.error(f"--precision {a.precision} is a GPU mode (stopgrad's CPU backend runs fp32)")
    if a.device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = a.precision == "tf32"
        torch.backends.cudnn.allow_tf32 = a.precision == "tf32"
        torch.backends.cudnn.benchmark = True

    def autocast():
        if a.precision == "bf16":
            return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()
    torch.manual_seed(0)
    widths = [max(1, round(c * a.width)) for c in (64, 128, 256, 512)]

    def make_trunk():
        return CifarTrunk(widths, 3) if a.cifar_stem else ImagenetTrunk(18, widths, 3)

    trunk, ttrunk = make_trunk().to(dev), make_trunk().to(dev)
    proj, tproj = mlp(widths[-1], 512, 128).to(dev), mlp(widths[-1], 512, 128).to(dev)
    pred = mlp(128, 512, 128).to(dev)
    online = list(trunk.parameters()) + list(proj.parameters())
    target = list(ttrunk.parameters()) + list(tproj.parameters())
    opt = torch.optim.SGD([{"params": online}, {"params": list(pred.parameters())}], lr=0.03,
                          momentum=0.9, weight_decay=4e-4)

    def loss_fn(p, t):
        return -2 * (F.normalize(p, dim=1) * F.normalize(t, dim=1)).sum(dim=1)

    x1 = torch.rand(a.batch, 3, a.size, a.size, device=dev)
    x2 = torch.rand(a.batch, 3, a.size, a.size, device=dev)

    def sync():
        if a.device == "cuda":
            torch.cuda.synchronize()
    times = []
    for step in range(a.warmup + a.steps):
        sync()
        t0 = time.perf_counter()
        with autocast():
            p1, p2 = pred(proj(trunk(x1))), pred(proj(trunk(x2)))
            with torch.no_grad():
                t1, t2 = tproj(ttrunk(x1)), tproj(ttrunk(x2))
        # the loss in fp32, as stopgrad's
        loss = (loss_fn(p1.float(), t2.float()) + loss_fn(p2.float(), t1.float())).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            for po, pt in zip(online, target):
                pt.mul_(0.996).add_(po, alpha=0.004)
        sync()
        if step >= a.warmup:
            times.append(time.perf_counter() - t0)
    times.sort()
    med = times[len(times) // 2]
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    where = f"threads {a.threads}" if a.device == "cpu" else torch.cuda.get_device_name(0)
    mem = (f"peak RSS {rss_mib:.0f} MiB" if a.device == "cpu" else
           f"peak GPU memory {torch.cuda.max_memory_allocated() / 2**20:.0f} MiB")
    print(f"pytorch {torch.__version__} byol step on {a.device} ({where}, {a.precision}): size {a.size} "
          f"batch {a.batch} width {a.width}: median {med * 1e3:.2f} ms/step, "
          f"{a.batch / med:.2f} img/s, {mem}")


if __name__ == "__main__":
    main()
