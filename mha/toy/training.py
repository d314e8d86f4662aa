"""Training the toy models: :func:`train_toy_seeds` (one model per seed, at once)
and :func:`train_toy` (one seed).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import torch

from .._validate import (
    check_int,
    check_positive_int,
)
from .ensemble import ToyEnsemble, _reproducible
from .model import TinyTransformer
from .task import RepeatTask

# Training batches are drawn this many steps at a time, so that drawing them costs
# one call per chunk; a run of any length uses the same first batches.
_CHUNK_STEPS = 50


def _check_seed(seed: object) -> int:
    hint = "seeds are 0, 1, 2, ..."
    return check_int("seed", seed, minimum=0, hint=hint)


def train_toy_seeds(
    num_heads: int = 4,
    seeds: Sequence[int] = range(6),
    *,
    d_model: int = 32,
    num_layers: int = 2,
    steps: int = 300,
    batch_size: int = 64,
    lr: float = 1e-2,
    task: RepeatTask | None = None,
    device: torch.device | str = "cpu",
    num_threads: int | None = 1,
    workers: int = 1,
) -> tuple[list[TinyTransformer], list[list[float]]]:
    """Train one :class:`TinyTransformer` per seed, all at once; return them and
    their losses, ``models[i]`` and ``losses[i]`` for ``seeds[i]``.

    Seed ``s`` decides the model's initial weights (``torch.manual_seed(s)`` before
    it is built, without touching the caller's random state) and its stream of
    training batches (a generator seeded with ``s + 1``). Every model then gets Adam
    at a constant ``lr`` on ``steps`` fresh batches of ``task`` (default
    :class:`RepeatTask()`), cross-entropy on the scored positions only. The models
    are trained side by side as a :class:`ToyEnsemble`, which is much faster than
    one after the other and computes the same thing up to float rounding.

    ``workers > 1`` splits the seeds into that many groups, each trained as its own
    ensemble in its own thread: PyTorch's operators release Python's lock while
    they compute, so on a machine with that many free cores the groups run at the
    same time. The run is reproducible bit for bit with the same arguments, device
    and ``num_threads`` (deterministic kernels; the thread count of each operator
    changes the order of floating-point sums; ``None`` keeps the current count).
    The models are returned in eval mode.
    """
    task = RepeatTask() if task is None else task
    if not isinstance(task, RepeatTask):
        raise TypeError(f"task must be a RepeatTask; got {type(task).__name__}.")
    check_positive_int("steps", steps)
    check_positive_int("batch_size", batch_size)
    check_positive_int("workers", workers)
    seeds = [_check_seed(s) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(
            f"seeds must be one or more distinct ints; got {seeds}. Hint: "
            f"seeds=range(6) trains six models."
        )
    if not lr > 0:
        raise ValueError(f"lr must be positive; got lr={lr}.")
    # Contiguous groups, as even as possible: 6 seeds, 2 workers -> 3 and 3
    size, extra = divmod(len(seeds), min(workers, len(seeds)))
    groups, start = [], 0
    for g in range(min(workers, len(seeds))):
        stop = start + size + (g < extra)
        groups.append(seeds[start:stop])
        start = stop
    with _reproducible(num_threads), torch.random.fork_rng(devices=[]):
        jobs = []
        for group in groups:
            models = []
            for seed in group:
                torch.manual_seed(seed)
                models.append(
                    TinyTransformer(
                        task.vocab_size, task.seq_len, d_model, num_heads, num_layers
                    )
                )
            jobs.append((ToyEnsemble(models).to(device), group))

        def train(job: tuple[ToyEnsemble, list[int]]) -> list[list[float]]:
            ensemble, group = job
            return _train_ensemble(ensemble, group, task, steps, batch_size, lr)

        if len(jobs) == 1:
            results = [train(jobs[0])]
        else:
            with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
                results = list(pool.map(train, jobs))
        trained = [e.member(i) for e, _ in jobs for i in range(len(e))]
    return trained, [curve for result in results for curve in result]


def _train_ensemble(
    ensemble: ToyEnsemble,
    seeds: Sequence[int],
    task: RepeatTask,
    steps: int,
    batch_size: int,
    lr: float,
) -> list[list[float]]:
    """Adam on every model of ``ensemble``; the loss of each model at each step."""
    device = ensemble.tok.device
    losses: list[list[float]] = [[] for _ in seeds]
    streams = [torch.Generator().manual_seed(s + 1) for s in seeds]
    optimizer = torch.optim.Adam(ensemble.parameters(), lr=lr)
    ensemble.train()
    for step in range(steps):
        if step % _CHUNK_STEPS == 0:  # draw the next chunk of batches per seed
            chunk = [
                task.sample(_CHUNK_STEPS * batch_size, generator=g) for g in streams
            ]
            tokens = torch.stack([c.tokens for c in chunk]).to(device)  # (n, ., T)
            scored = torch.stack([c.scored for c in chunk]).to(device)
        at = (step % _CHUNK_STEPS) * batch_size
        batch_tokens = tokens[:, at : at + batch_size]  # (n, B, T)
        batch_scored = scored[:, at : at + batch_size]  # (n, B, T - 1)
        logits = ensemble(batch_tokens[..., :-1])  # (n, B, T - 1, vocab)
        log_p = logits.log_softmax(dim=-1)  # (n, B, T - 1, vocab)
        targets = batch_tokens[..., 1:, None]  # (n, B, T - 1, 1)
        nll = -log_p.gather(-1, targets)[..., 0]  # (n, B, T - 1)
        weight = batch_scored.to(nll.dtype)  # (n, B, T - 1): 1 where scored
        per_model = (nll * weight).sum(dim=(1, 2)) / weight.sum(dim=(1, 2))  # (n,)
        optimizer.zero_grad(set_to_none=True)
        per_model.sum().backward()
        optimizer.step()
        for i, value in enumerate(per_model.tolist()):
            losses[i].append(value)
    ensemble.eval()
    return losses


def train_toy(
    num_heads: int = 4,
    *,
    d_model: int = 32,
    num_layers: int = 2,
    steps: int = 300,
    batch_size: int = 64,
    lr: float = 1e-2,
    seed: int = 0,
    task: RepeatTask | None = None,
    device: torch.device | str = "cpu",
    num_threads: int | None = 1,
) -> tuple[TinyTransformer, list[float]]:
    """Train one :class:`TinyTransformer` on ``task``; return it and its loss per step.

    :func:`train_toy_seeds` with the single seed ``seed``: the same initial weights,
    batches and optimiser, reproducible bit for bit (see there). The model is
    returned in eval mode.
    """
    models, losses = train_toy_seeds(
        num_heads,
        [_check_seed(seed)],
        d_model=d_model,
        num_layers=num_layers,
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        task=task,
        device=device,
        num_threads=num_threads,
    )
    return models[0], losses[0]
