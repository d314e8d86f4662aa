"""Time the head-count explorer: from a control change to the finished figure.

A slider move calls :func:`mha.explorer.show_explorer`: compute the weights, print the
cost line, build the figure, draw it once and encode the PNG that the notebook
shows. This script times that same call, end to end. A second column times the
figure saved the way Jupyter's inline backend would save it for ``plt.show()``
(``bbox_inches="tight"``, which draws it twice), the path show_explorer avoids. The
static page computes in the browser (:func:`mha.explorer.page_explorer`); the script
also times building that page block once.

    python benchmarks/bench_explorer.py              # 2 threads, 20 repeats
    python benchmarks/bench_explorer.py --repeats 40

Target: under 200 ms (median) for d_model 64, 12 tokens, 8 heads, no mask.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import statistics
import time
import warnings
from collections.abc import Callable

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from mha import explorer  # noqa: E402
from mha.utils import interleaved_times  # noqa: E402

TARGET_MS = 200.0
# (num_heads, seq_len, mask, temperature); the first is the target setting.
SETTINGS = [
    (8, 12, "none", 1.0),
    (1, 12, "none", 1.0),
    (4, 12, "causal", 0.5),
    (8, 12, "padding", 1.0),  # padded to 14 tokens
    (64, 12, "none", 1.0),
    (8, 4, "none", 2.0),
]
SENTENCE = explorer.SENTENCES[1]  # 12 tokens


def redraw(num_heads: int, seq_len: int, mask: str, temperature: float) -> None:
    """What one control change costs: the widget's callback, PNG included."""
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        explorer.show_explorer(num_heads, SENTENCE, seq_len, temperature, mask)


def redraw_png(num_heads: int, seq_len: int, mask: str, temperature: float) -> None:
    """The alternative: the figure saved as the inline backend saves it."""
    data = explorer.compute_view(
        explorer.View(num_heads, SENTENCE, seq_len, temperature, mask)
    )
    fig = explorer.draw_explorer(data)
    fig.savefig(io.BytesIO(), format="png", bbox_inches="tight")  # 2 draws + encode
    plt.close(fig)


def time_all(
    calls: dict[tuple, Callable[[], None]], repeats: int, warmup: int
) -> dict[tuple, list[float]]:
    """Milliseconds per call of every entry, one per round; rounds interleave them,
    so a slow spell of a shared machine hits every setting alike."""
    times = interleaved_times(calls, repeats, warmup)
    return {key: [t * 1e3 for t in ts] for key, ts in times.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20, help="timed calls")
    parser.add_argument("--warmup", type=int, default=3, help="untimed calls first")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    print(
        f"torch {torch.__version__}, matplotlib {matplotlib.__version__} (Agg), "
        f"{torch.get_num_threads()} torch threads, CPU; d_model {explorer.D_MODEL}; "
        f"median (min) of {args.repeats} calls after {args.warmup} warm-up calls, all "
        f"settings interleaved round by round.\n"
    )
    header = "| h | tokens | mask | τ | redraw ms | vs 200 ms | tight-bbox PNG ms |"
    print(header)
    print("|" + "---|" * header.count(" | ") + "---|")
    measures = {"redraw": redraw, "png": redraw_png}
    calls = {
        (setting, name): functools.partial(fn, *setting)
        for setting in SETTINGS
        for name, fn in measures.items()
    }
    times = time_all(calls, args.repeats, args.warmup)
    target = None
    for setting in SETTINGS:
        h, seq_len, mask, tau = setting
        tokens = len(explorer.prepare_tokens(SENTENCE, seq_len, mask)[0])
        med, low = (f(times[setting, "redraw"]) for f in (statistics.median, min))
        png, png_low = (f(times[setting, "png"]) for f in (statistics.median, min))
        print(
            f"| {h} | {tokens} | {mask} | {tau:g} | {med:.0f} ({low:.0f}) | "
            f"{med / TARGET_MS:.2f}x | {png:.0f} ({png_low:.0f}) |"
        )
        if setting == SETTINGS[0]:
            target = med
    start = time.perf_counter()
    block = explorer.page_explorer(explorer.View(8, SENTENCE, 12)).html()
    build = time.perf_counter() - start
    print(
        f"\npage_explorer block (data + script, {len(block) / 1e3:.0f} kB): "
        f"{build:.2f} s to build once"
    )
    if target is not None:
        verdict = "meets" if target <= TARGET_MS else "MISSES"
        print(
            f"redraw at h = 8, 12 tokens: {target:.0f} ms median, "
            f"{target / TARGET_MS:.2f}x the {TARGET_MS:.0f} ms target ({verdict} it)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
