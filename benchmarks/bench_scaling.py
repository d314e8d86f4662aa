"""Time and memory of attention against the sequence length T: where T^2 takes over.

Self-attention on ``x (B, T, E)`` for a grid of lengths, four ways, all with the same
weights:

- ``mha, weights materialised``: ``mha.MultiHeadAttention`` with ``need_weights=True``
  (per-head weights): the ``(B, h, T, T)`` scores and weights are real tensors.
- ``mha.MultiHeadAttention``: ``need_weights=False``, the fused
  ``F.scaled_dot_product_attention`` (a flash-attention kernel on the CPU too).
- ``torch.nn.MultiheadAttention``: ``need_weights=False``, the reference.
- ``mha.blockwise (b=...)``: the same projections around
  ``mha.blockwise.blockwise_attention``, an online softmax over key blocks written in
  plain torch (a Python loop; it shows the memory, not a fast kernel).

Each round calls every layer once in a rotating order, under ``torch.inference_mode``;
the table gives the median and the minimum over rounds, the ratio of the medians to
PyTorch's, and the peak bytes of the tensors the call creates
(``mha.blockwise.tensor_memory``, exact and the same on every run; on a GPU
``torch.cuda.max_memory_allocated`` instead). ``nn.MultiheadAttention``'s inference
fast path is one operator, so on the CPU its tensors are not visible: n/a. The slope
of log(time) against log(T), fitted with ``np.polyfit``, says how the time grows: 1 is
linear, 2 quadratic.

    python benchmarks/bench_scaling.py              # T = 128 .. 4096, under a minute
    python benchmarks/bench_scaling.py --quick      # T = 128 .. 1024, a few seconds
    python benchmarks/bench_scaling.py --threads 1  # steadier on a busy machine

Times vary between machines and runs; nothing here is asserted. On a machine shared
with other work, two threads that wait for each other give erratic medians; one
thread gives clean slopes.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

import mha
from mha.blockwise import blockwise_attention, tensor_memory
from mha.utils import interleaved_times

GRID = [128, 256, 512, 1024, 2048, 4096]
QUICK_GRID = [128, 256, 512, 1024]
REFERENCE = "torch.nn.MultiheadAttention"

Layer = Callable[[torch.Tensor], object]


def make_layers(
    embed_dim: int, num_heads: int, block_size: int, device: torch.device
) -> dict[str, Layer]:
    """The contenders, functions of ``x (B, T, E)`` that share one set of weights."""
    ours = mha.MultiHeadAttention(embed_dim, num_heads, device=device).eval()
    theirs = ours.to_torch().eval()  # same weights, batch_first=True

    def blockwise(x: torch.Tensor) -> torch.Tensor:
        q, k, v = (
            mha.split_heads(proj(x), num_heads)  # (B, T, E) -> (B, h, T, d_k)
            for proj in (ours.q_proj, ours.k_proj, ours.v_proj)
        )
        out = blockwise_attention(q, k, v, block_size)  # (B, h, T, d_k)
        return ours.out_proj(mha.merge_heads(out))  # (B, h, T, d_k) -> (B, T, E)

    return {
        REFERENCE: lambda x: theirs(x, x, x, need_weights=False),
        "mha.MultiHeadAttention": lambda x: ours(x, x, x, need_weights=False),
        "mha, weights materialised": lambda x: ours(
            x, x, x, need_weights=True, average_attn_weights=False
        ),
        f"mha.blockwise (b={block_size})": blockwise,
    }


def time_layers(
    layers: dict[str, Layer], x: torch.Tensor, rounds: int, warmup: int
) -> dict[str, list[float]]:
    """Seconds per call of every layer, one per round; rounds interleave and rotate."""
    calls = {name: functools.partial(layer, x) for name, layer in layers.items()}
    sync = torch.cuda.synchronize if x.is_cuda else None
    with torch.inference_mode():
        return interleaved_times(calls, rounds, warmup, sync=sync)


def peak_bytes(name: str, layer: Layer, x: torch.Tensor) -> int | None:
    """Peak bytes of one call: the allocator's on a GPU, tensor_memory's on the CPU."""
    if x.is_cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        with torch.inference_mode():
            layer(x)
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() - base
    if name == REFERENCE:
        return None  # one fused operator: its tensors are invisible to the tracker
    return tensor_memory(lambda: layer(x)).peak_bytes


def slope(lengths: list[int], seconds: list[float]) -> float:
    """The exponent p in time ~ T^p: the slope of a line fitted on log-log axes."""
    return float(np.polyfit(np.log(lengths), np.log(seconds), 1)[0])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="T = 128 .. 1024 only")
    parser.add_argument("--batch", type=int, default=1, help="B")
    parser.add_argument("--embed-dim", type=int, default=128, help="E")
    parser.add_argument("--heads", type=int, default=2, help="h (d_k = E / h)")
    parser.add_argument("--block-size", type=int, default=128, help="blockwise b")
    parser.add_argument("--rounds", type=int, default=None, help="timed rounds")
    parser.add_argument("--warmup", type=int, default=2, help="untimed rounds first")
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    rounds = args.rounds or (5 if args.quick else 7)
    grid = QUICK_GRID if args.quick else GRID
    B, E, h = args.batch, args.embed_dim, args.heads
    device = mha.get_device()
    torch.manual_seed(0)
    layers = make_layers(E, h, args.block_size, device)
    threads = f"{torch.get_num_threads()} threads" if device.type == "cpu" else ""
    memory = "cuda.max_memory_allocated" if device.type == "cuda" else "tensor_memory"
    print(
        f"torch {torch.__version__}, {device} {threads}, float32, self-attention, "
        f"B={B}, E={E}, h={h}, d_k={E // h}; {rounds} interleaved rounds after "
        f"{args.warmup} warm-up. Peak memory: {memory}.\n"
        f"Multiply-accumulates: projections 4*B*T*E^2, QK^T and AV 2*B*T^2*E; the "
        f"second overtakes the first at T = 2E = {2 * E}.\n"
    )
    header = (
        "| T | attention share of MACs | layer | median ms | min ms | vs PyTorch "
        "(median) | peak MiB |"
    )
    print(header)
    print("|" + "---|" * header.count(" | ") + "---|")
    medians: dict[str, list[float]] = {name: [] for name in layers}
    minima: dict[str, list[float]] = {name: [] for name in layers}
    total = time.perf_counter()
    for T in grid:
        x = torch.randn(B, T, E, device=device)
        times = time_layers(layers, x, rounds, args.warmup)
        med = {name: statistics.median(ts) for name, ts in times.items()}
        share = T / (T + 2 * E)  # 2BT^2E / (4BTE^2 + 2BT^2E)
        for name, fn in layers.items():
            medians[name].append(med[name])
            minima[name].append(min(times[name]))
            peak = peak_bytes(name, fn, x)
            peak_text = "n/a" if peak is None else f"{peak / 2**20:.1f}"
            print(
                f"| {T} | {share:.0%} | {name} | {med[name] * 1e3:.2f} | "
                f"{min(times[name]) * 1e3:.2f} | {med[name] / med[REFERENCE]:.2f}x | "
                f"{peak_text} |"
            )
    weights = [B * h * T * T * 4 / 2**20 for T in grid]
    print(
        "\nOne (B, h, T, T) float32 weight tensor: "
        + ", ".join(f"T={T}: {w:.1f} MiB" for T, w in zip(grid, weights, strict=True))
    )
    upper = grid[-3:]
    print(
        f"\nFitted slopes of log(time) against log(T): medians over all T, medians "
        f"over T = {upper[0]} .. {upper[-1]}, minima over the same; then the median "
        f"time at T = {grid[-1]} against PyTorch's."
    )
    for name, ts in medians.items():
        print(
            f"  {name:28} {slope(grid, ts):5.2f}  {slope(upper, ts[-3:]):5.2f}  "
            f"{slope(upper, minima[name][-3:]):5.2f}   "
            f"{ts[-1] / medians[REFERENCE][-1]:.2f}x"
        )
    print(f"\ntotal {time.perf_counter() - total:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
