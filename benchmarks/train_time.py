"""How long a full-length training run takes here: time a few hundred steps and extrapolate.

    PYTHONPATH=src python benchmarks/train_time.py --dataset mnist --steps 300 --threads 1

Times ``--steps`` optimizer steps of each chosen estimator (after 20 warm-up steps) on
the paper-sized VAE (784-512-256-(20x10), batch 100) and the test evaluation with
k = 1000 importance samples on ``--eval-images`` test images, then extrapolates to
50,000 steps and to the 10,000-image test split. Prints wall-clock and CPU seconds;
on a shared machine the CPU time is the steadier number.
"""

from __future__ import annotations

import argparse
import time

import torch

from gumbel_softmax.experiments.data import load
from gumbel_softmax.experiments.train import Experiment, TrainConfig
from gumbel_softmax.studies.report import format_table


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--data-dir", default=None)
    default = "gumbel_softmax,st_gumbel_softmax,reinforce_ema,muprop,gumbel_rao,relax"
    parser.add_argument("--estimators", default=default)
    parser.add_argument("--latent", default="categorical")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--eval-images", type=int, default=200)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    data = load(args.dataset, args.data_dir)
    rows = []
    for name in args.estimators.split(","):
        config = TrainConfig(estimator=name, latent=args.latent, dataset=args.dataset)
        exp = Experiment(config, data, torch.device("cpu"))
        optimizer = torch.optim.Adam(exp.parameters(), lr=1e-3)
        generator = torch.Generator().manual_seed(0)
        for step in range(20 + args.steps):
            if step == 20:
                wall, cpu = _clock()
            x = data.train[step * 100 % 50_000 :][:100]
            result = exp.objective(x, 1.0, generator)
            optimizer.zero_grad()
            result.surrogate.mean().backward()
            optimizer.step()
        wall_end, cpu_end = _clock()
        per_step = ((wall_end - wall) / args.steps, (cpu_end - cpu) / args.steps)
        rows.append([name, 1e3 * per_step[0], 1e3 * per_step[1], 50_000 * per_step[0] / 60, 50_000 * per_step[1] / 60])
    wall, cpu = _clock()
    exp.evaluate(data.test[: args.eval_images], 1000, torch.Generator().manual_seed(0), batch=100)
    wall_end, cpu_end = _clock()
    scale = len(data.test) / args.eval_images / 60
    threads = torch.get_num_threads()
    print(f"{args.dataset}, {args.latent} VAE 784-512-256 / 256-512-784, batch 100, {threads} thread(s); "
          f"{args.steps} timed steps per estimator")
    print(format_table(["estimator", "ms/step wall", "ms/step CPU", "50k steps: min wall", "50k steps: min CPU"],
                       rows, floatfmt=".1f"))
    print(f"test evaluation, k = 1000, {len(data.test):,} images: {(wall_end - wall) * scale:.1f} min wall, "
          f"{(cpu_end - cpu) * scale:.1f} min CPU (extrapolated from {args.eval_images} images)")


if __name__ == "__main__":
    main()
