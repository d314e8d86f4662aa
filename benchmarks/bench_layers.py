"""Time mha's layers against torch.nn.MultiheadAttention on the CPU.

Self-attention (query is key is value) under ``torch.inference_mode``, every layer
with the same weights. Each round calls every layer once, in a rotating order, so slow
drifts of the machine (frequency, other processes) hit all layers alike; the table
gives the median (and the minimum) over rounds and the ratio to PyTorch's.

    python benchmarks/bench_layers.py            # full grid, about a minute on 2 cores
    python benchmarks/bench_layers.py --quick    # only B=4, T=512, E=512, h=8

The target: ``mha.MultiHeadAttention`` (need_weights=False) within 1.10x of
``nn.MultiheadAttention`` (need_weights=False) at T=512, E=512, h=8.
"""

from __future__ import annotations

import argparse
import functools
import statistics
from collections.abc import Callable

import torch

import mha
from mha.utils import interleaved_times

GRID = [(4, 128, 256, 4), (4, 512, 512, 8), (1, 1024, 512, 8), (16, 64, 512, 8)]
QUICK_GRID = [(4, 512, 512, 8)]
TARGET = (4, 512, 512, 8)
TARGET_RATIO = 1.10


Layer = Callable[[torch.Tensor], object]


def make_layers(embed_dim: int, num_heads: int) -> dict[str, Layer]:
    """The contenders, each a function of the input ``x (B, T, E)``."""
    ours = mha.MultiHeadAttention(embed_dim, num_heads).eval()
    theirs = ours.to_torch().eval()  # same weights, batch_first=True
    blog = mha.BlogMultiHeadAttention(embed_dim, num_heads).eval()
    return {
        "torch.nn.MultiheadAttention": lambda x: theirs(x, x, x, need_weights=False),
        "mha.MultiHeadAttention": lambda x: ours(x, x, x, need_weights=False),
        "mha, weights materialised": lambda x: ours(x, x, x, need_weights=True),
        "mha.BlogMultiHeadAttention": lambda x: blog(x, x, x),
    }


def time_layers(
    layers: dict[str, Layer],
    x: torch.Tensor,
    rounds: int,
    warmup: int,
) -> dict[str, list[float]]:
    """Seconds per call of every layer, one per round; rounds interleave and rotate."""
    calls = {name: functools.partial(layer, x) for name, layer in layers.items()}
    with torch.inference_mode():
        return interleaved_times(calls, rounds, warmup)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only the target shape")
    parser.add_argument("--rounds", type=int, default=None, help="timed rounds")
    parser.add_argument("--warmup", type=int, default=5, help="untimed rounds first")
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rounds = args.rounds or (15 if args.quick else 25)
    grid = QUICK_GRID if args.quick else GRID
    torch.manual_seed(0)

    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, float32, CPU, "
        f"self-attention, inference_mode; {rounds} interleaved rounds. The minimum is "
        f"shown beside the median: on a shared machine it is the steadier of the two.\n"
    )
    header = (
        "| B | T | E | h | layer | median ms | vs PyTorch (median) | min ms "
        "| vs PyTorch (min) |"
    )
    print(header)
    print("|" + "---|" * header.count(" | ") + "---|")
    reference = "torch.nn.MultiheadAttention"
    target_ratio = None
    for B, T, E, h in grid:
        x = torch.randn(B, T, E)
        times = time_layers(make_layers(E, h), x, rounds, args.warmup)
        medians = {name: statistics.median(ts) for name, ts in times.items()}
        minima = {name: min(ts) for name, ts in times.items()}
        for name in times:
            med, low = medians[name], minima[name]
            print(
                f"| {B} | {T} | {E} | {h} | {name} | {med * 1e3:.1f} | "
                f"{med / medians[reference]:.2f}x | {low * 1e3:.1f} | "
                f"{low / minima[reference]:.2f}x |"
            )
        if (B, T, E, h) == TARGET:
            target_ratio = medians["mha.MultiHeadAttention"] / medians[reference]
    if target_ratio is not None:
        verdict = "meets" if target_ratio <= TARGET_RATIO else "MISSES"
        print(
            f"\nmha.MultiHeadAttention / nn.MultiheadAttention at B, T, E, h = "
            f"{TARGET}: {target_ratio:.2f}x ({verdict} the {TARGET_RATIO:.2f}x target)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
