#!/usr/bin/python3
"""Writes the PyTorch fixtures of gradient accumulation (stopgrad's trainer.accumulate), next to
make_fixtures.py's and in its format, without touching any other fixture file:
    /usr/bin/python3 scripts/make_fixtures_accumulate.py tests/fixtures

Each case is make_fixtures.py's run_case with accum = 2: every step's views are 8 images, trained
as PyTorch's usual gradient-accumulation loop over two micro-batches of 4 (rows 0-3, then 4-7;
each its own BN batch; backward of loss_j / 2 into the same .grad; one optimizer step), with
DirectPred's F taking the batch correlation of all 8 rows of both views once per step and the EMA
once per step. The file holds what make_fixtures.py's files hold (x1, x2 are the whole 8-image
views): the step's loss (the mean of the micro-batches'), every accumulated gradient, F and W_p
after the first step, each with its float64 value and float32 envelope, and 10 steps' losses with
their envelope. tests/ssl/test_accumulate.c runs the same steps with trainer.accumulate = 2.
"""
import os
import sys

import torch

from make_fixtures import run_case, with_exact, write

ACCUM = 2
# name, method, predictor, stop-gradient, seed
CASES = [("accum2_directpred", "byol", "directpred", True, 10),
         ("accum2_simsiam", "simsiam", "mlp", True, 11)]


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures"
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(1)
    for name, method, pred_kind, sg, seed in CASES:
        def case(**kw):
            return run_case(name, method, pred_kind, sg, seed, accum=ACCUM, **kw)
        t = case()
        # the envelopes exactly as make_fixtures.py's main derives them: the first step against
        # float64 with the spread of 8 runs perturbed by one float32 rounding, the 10-step
        # losses with the spread of 8 runs perturbed by 1e-6
        exact = case(dtype=torch.float64, steps=1)
        runs = [case(jitter=1e-7, jitter_seed=200 + r, steps=1) for r in range(8)]
        note = with_exact(t, exact, runs)
        spread = torch.zeros_like(t["losses"])
        for r in range(8):
            alt = case(jitter=1e-6, jitter_seed=100 + r)["losses"]
            spread = torch.maximum(spread, (alt - t["losses"]).abs())
        t["losses_envelope"] = spread
        write(os.path.join(out, name + ".sgfx"), t)
        print(f"{name}: loss0 {t['loss0'].item():.6f}, 10-step losses "
              f"{[round(v, 5) for v in t['losses'].tolist()]}")
        print(f"  first step: {note}")


if __name__ == "__main__":
    main()
