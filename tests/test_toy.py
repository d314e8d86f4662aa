"""mha.toy: the repeat task's data, head masking against the layer, the model's two
paths, deterministic training, and the measurements the chapter quotes."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.testing import assert_close

import mha
from mha import toy

TASK = toy.RepeatTask()


@pytest.fixture(scope="module")
def trained() -> tuple[toy.TinyTransformer, list[float]]:
    """The chapter's model: h = 4, the default budget."""
    return toy.train_toy(4)


@pytest.fixture(scope="module")
def eval_batch() -> toy.RepeatBatch:
    return TASK.sample(500, seed=1234)


# --- letters -------------------------------------------------------------------


def test_encode_decode_round_trip():
    tokens = toy.encode("XQJ HEADS heads")
    assert tokens.dtype == torch.long and tokens.shape == (13,)
    assert "".join(toy.decode(tokens)) == "XQJHEADSHEADS"
    assert toy.decode([0, 25, 26]) == ["A", "Z", "<26>"]


@pytest.mark.parametrize(
    "action, error, phrase",
    [
        (lambda: toy.encode("AB1"), ValueError, "A-Z only"),
        (lambda: toy.encode(3), TypeError, "expects a string"),
        (lambda: toy.decode(torch.zeros(2, 3, dtype=torch.long)), ValueError, "batch"),
    ],
)
def test_letter_errors(action, error, phrase):
    with pytest.raises(error, match=phrase):
        action()


# --- the task --------------------------------------------------------------------


def test_batch_shapes_and_dtypes():
    batch = TASK.sample(7, seed=0)
    assert batch.tokens.shape == (7, TASK.seq_len) and batch.tokens.dtype == torch.long
    assert batch.scored.shape == (7, TASK.seq_len - 1)
    assert batch.scored.dtype == torch.bool
    assert batch.inputs.shape == batch.targets.shape == (7, TASK.seq_len - 1)
    assert_close(batch.targets[:, :-1], batch.inputs[:, 1:])


def test_segment_is_repeated_right_after_itself_and_nothing_else_repeats():
    batch = TASK.sample(300, seed=1)
    for tokens, start, n in zip(
        batch.tokens, batch.start.tolist(), batch.length.tolist(), strict=True
    ):
        assert TASK.min_len <= n <= TASK.max_len
        assert 0 <= start <= TASK.seq_len - 2 * n
        segment = tokens[start : start + n]
        assert torch.equal(tokens[start + n : start + 2 * n], segment)
        # every other letter appears once: T - n distinct letters in all
        assert len(set(tokens.tolist())) == TASK.seq_len - n
        assert len(set(segment.tolist())) == n


def test_scored_positions_are_exactly_the_predictable_ones():
    batch = TASK.sample(300, seed=2)
    assert torch.equal(batch.scored.sum(dim=1), batch.length - 1)
    for b in range(300):
        inputs, targets = batch.inputs[b].tolist(), batch.targets[b].tolist()
        for t in range(TASK.seq_len - 1):
            earlier = [j for j in range(t) if inputs[j] == inputs[t]]
            # predictable: the letter occurred before and what followed it returns
            predictable = bool(earlier) and targets[earlier[0]] == targets[t]
            assert bool(batch.scored[b, t]) == predictable, (b, t)


def test_sampling_is_reproducible_and_seeds_differ():
    a, b, c = TASK.sample(5, seed=3), TASK.sample(5, seed=3), TASK.sample(5, seed=4)
    assert torch.equal(a.tokens, b.tokens) and torch.equal(a.scored, b.scored)
    assert not torch.equal(a.tokens, c.tokens)
    g1, g2 = torch.Generator().manual_seed(9), torch.Generator().manual_seed(9)
    assert torch.equal(
        TASK.sample(4, generator=g1).tokens, TASK.sample(4, generator=g2).tokens
    )
    assert not torch.equal(  # the stream moves on
        TASK.sample(4, generator=g1).tokens, TASK.sample(4, generator=g1).tokens
    )


@pytest.mark.parametrize(
    "kwargs, phrase",
    [
        ({"min_len": 1}, "at least 2"),
        ({"min_len": 6, "max_len": 5}, "must not exceed"),
        ({"max_len": 11}, "2 * max_len = 22 > seq_len = 20"),
        ({"vocab_size": 10}, "vocab_size=10 is too small"),
        ({"seq_len": 0}, "positive int"),
    ],
)
def test_task_rejects_impossible_settings(kwargs, phrase):
    with pytest.raises(ValueError, match=phrase.replace("*", r"\*")):
        toy.RepeatTask(**kwargs)


def test_sample_rejects_bad_arguments():
    with pytest.raises(ValueError, match="not both"):
        TASK.sample(2, seed=0, generator=torch.Generator())
    with pytest.raises(ValueError, match="positive"):
        TASK.sample(0)


# --- head masking ------------------------------------------------------------------


def test_mask_heads_gates_the_head_axis_only():
    heads = torch.randn(2, 4, 4, 4)  # (B, h, T, d_k) with h == T == d_k
    gates = torch.tensor([1.0, 0.0, 0.5, 2.0])
    out = toy.mask_heads(heads, gates)
    for i in range(4):
        assert_close(out[:, i], heads[:, i] * gates[i])
    per_sequence = torch.tensor([[1.0, 0.0, 1.0, 1.0], [0.0, 1.0, 1.0, 1.0]])
    out = toy.mask_heads(heads, per_sequence)
    assert_close(out[0, 1], torch.zeros(4, 4))
    assert_close(out[1, 0], torch.zeros(4, 4))
    assert_close(out[1, 1], heads[1, 1])
    assert_close(toy.mask_heads(heads, torch.ones(4)), heads)


@pytest.mark.parametrize(
    "mask, error, phrase",
    [
        (torch.ones(4, dtype=torch.bool), TypeError, "keep.float()"),
        (torch.ones(3), ValueError, "(h,) = (4,)"),
        (torch.ones(3, 4), ValueError, "(B, h) = (2, 4)"),
        ([1.0, 1.0, 1.0, 1.0], TypeError, "torch.Tensor"),
    ],
)
def test_mask_heads_errors(mask, error, phrase):
    with pytest.raises(error) as info:
        toy.mask_heads(torch.randn(2, 4, 3, 5), mask)
    assert phrase in str(info.value)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_masked_self_attention_with_ones_equals_the_layer(dtype):
    torch.manual_seed(0)
    layer = mha.MultiHeadAttention(16, 4, dtype=dtype)
    x = torch.randn(3, 7, 16, dtype=dtype)
    expected, weights = layer(x, x, x, is_causal=True, average_attn_weights=False)
    for gates in (None, torch.ones(4, dtype=dtype), torch.ones(3, 4, dtype=dtype)):
        out, w = toy.masked_self_attention(layer, x, gates)
        assert_close(out, expected)
        assert_close(w, weights)
    # ... and both equal PyTorch's layer with the same weights
    torch_out, _ = layer.to_torch()(
        x, x, x, attn_mask=mha.causal_mask(7), need_weights=False
    )
    assert_close(out, torch_out)


def test_removing_a_head_removes_its_term_of_w_o():
    torch.manual_seed(1)
    E, h = 12, 3
    d_k = E // h
    layer = mha.MultiHeadAttention(E, h)
    x = torch.randn(2, 5, E)
    full, _ = toy.masked_self_attention(layer, x)
    q = mha.split_heads(layer.q_proj(x), h)
    k = mha.split_heads(layer.k_proj(x), h)
    v = mha.split_heads(layer.v_proj(x), h)
    heads, _ = mha.scaled_dot_product_attention(q, k, v, is_causal=True)
    for i in range(h):
        gates = torch.ones(h)
        gates[i] = 0.0
        out, _ = toy.masked_self_attention(layer, x, gates)
        w_o_i = layer.out_proj.weight[:, i * d_k : (i + 1) * d_k]  # (E, d_k)
        assert_close(out, full - heads[:, i] @ w_o_i.T)
    nothing, _ = toy.masked_self_attention(layer, x, torch.zeros(h))
    assert_close(nothing, layer.out_proj.bias.expand(2, 5, E))  # the bias stays


def test_masked_self_attention_errors():
    layer = mha.MultiHeadAttention(8, 2)
    with pytest.raises(TypeError, match="from_torch"):
        toy.masked_self_attention(nn.MultiheadAttention(8, 2), torch.randn(1, 3, 8))
    with pytest.raises(ValueError, match="batch_first"):
        toy.masked_self_attention(
            mha.MultiHeadAttention(8, 2, batch_first=False), torch.randn(1, 3, 8)
        )
    with pytest.raises(ValueError, match=r"E = 8"):
        toy.masked_self_attention(layer, torch.randn(1, 3, 6))
    with pytest.raises(ValueError, match="3-D"):
        toy.masked_self_attention(layer, torch.randn(3, 8))


# --- the model ---------------------------------------------------------------------


def test_model_paths_agree_and_weights_have_the_documented_shape():
    torch.manual_seed(2)
    model = toy.TinyTransformer(num_heads=4).eval()
    tokens = TASK.sample(3, seed=5).inputs
    fast = model(tokens)
    masked, weights = model(tokens, torch.ones(2, 4), need_weights=True)
    assert fast.shape == (3, TASK.seq_len - 1, TASK.vocab_size)
    assert weights.shape == (2, 3, 4, TASK.seq_len - 1, TASK.seq_len - 1)
    assert_close(masked, fast)
    assert_close(weights.sum(dim=-1), torch.ones(2, 3, 4, TASK.seq_len - 1))
    assert (weights.triu(1) == 0).all()  # causal: nothing from the future


def test_model_is_causal():
    torch.manual_seed(3)
    model = toy.TinyTransformer().eval()
    tokens = TASK.sample(2, seed=6).inputs
    changed = tokens.clone()
    changed[:, 10:] = (changed[:, 10:] + 1) % TASK.vocab_size
    assert_close(model(tokens)[:, :10], model(changed)[:, :10])
    assert not torch.allclose(model(tokens)[:, 10:], model(changed)[:, 10:])


def test_all_heads_masked_leaves_only_embeddings():
    torch.manual_seed(4)
    model = toy.TinyTransformer().eval()
    tokens = TASK.sample(2, seed=7).inputs
    logits = model(tokens, torch.zeros(2, 4))
    # without heads, each position sees only its own token and position (and biases)
    z = model.tok(tokens) + model.pos(torch.arange(tokens.shape[1]))
    for attn in model.attn:
        z = z + attn.out_proj.bias
    assert_close(logits, model.out(model.norm_out(z)))


@pytest.mark.parametrize(
    "call, error, phrase",
    [
        (lambda m: m(torch.zeros(5, dtype=torch.long)), ValueError, "tokens[None]"),
        (lambda m: m(torch.zeros(1, 3)), TypeError, "integer ids"),
        (lambda m: m(torch.zeros(1, 21, dtype=torch.long)), ValueError, "max_len = 20"),
        (lambda m: m(torch.full((1, 3), 26)), ValueError, "[0, 26)"),
        (
            lambda m: m(torch.zeros(1, 3, dtype=torch.long), torch.ones(4)),
            ValueError,
            "(L, h) = (2, 4)",
        ),
    ],
)
def test_model_errors(call, error, phrase):
    with pytest.raises(error) as info:
        call(toy.TinyTransformer())
    assert phrase in str(info.value)


def test_model_rejects_a_head_count_that_does_not_divide():
    with pytest.raises(ValueError, match="Valid num_heads"):
        toy.TinyTransformer(d_model=32, num_heads=3)


# --- training and measurements -----------------------------------------------------


def test_training_is_deterministic_and_leaves_global_state_alone():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    threads = torch.get_num_threads()
    _, a = toy.train_toy(2, steps=30)
    _, b = toy.train_toy(2, steps=30)
    _, c = toy.train_toy(2, steps=30, seed=1)
    assert a == b and len(a) == 30
    assert a != c
    assert torch.equal(torch.rand(1), before)  # the caller's random stream
    assert torch.get_num_threads() == threads
    assert not torch.are_deterministic_algorithms_enabled()


def test_a_shorter_run_is_a_prefix_of_a_longer_one(trained):
    _, losses = trained
    _, short = toy.train_toy(4, steps=25)
    assert short == losses[:25]


def test_train_toy_errors():
    with pytest.raises(ValueError, match="positive"):
        toy.train_toy(steps=0)
    with pytest.raises(ValueError, match="lr must be positive"):
        toy.train_toy(lr=0.0)
    with pytest.raises(ValueError, match="seed"):
        toy.train_toy(seed=-1)
    with pytest.raises(TypeError, match="RepeatTask"):
        toy.train_toy(task="repeat")


def test_the_chapter_model_learns_the_task_and_finds_the_circuit(trained, eval_batch):
    model, losses = trained
    assert not model.training
    assert losses[-1] < 0.2 < losses[0]
    assert toy.accuracy(model, eval_batch) > 0.95
    _, weights = model(eval_batch.inputs, need_weights=True)
    previous, induction = toy.pattern_scores(weights, eval_batch)
    assert previous.shape == induction.shape == (2, 4)
    assert previous[0].max() > 0.6  # a previous-token head in layer 0
    assert induction[1].min() > 0.6  # induction heads in layer 1
    ablated = toy.ablate_each_head(model, eval_batch)
    assert ablated.shape == (2, 4)
    # Removing every layer-0 head with a clear previous-token pattern breaks it.
    mask = torch.ones(2, 4)
    mask[0] = (previous[0] <= 0.3).float()
    assert 0 < mask[0].sum() < 4
    assert toy.accuracy(model, eval_batch, mask) < 0.5


def test_accuracy_counts_scored_positions_only(trained):
    model, _ = trained
    batch = TASK.sample(50, seed=8)
    gates = torch.ones(2, 4)
    gates[1, 0] = 0.0
    for head_mask in (None, gates):
        with torch.no_grad():
            predicted = model(batch.inputs, head_mask).argmax(dim=-1)  # (B, T - 1)
        right = [
            int(predicted[b, t] == batch.targets[b, t])
            for b, t in batch.scored.nonzero().tolist()
        ]
        assert toy.accuracy(model, batch, head_mask) == pytest.approx(
            sum(right) / len(right)
        )


def test_pattern_scores_on_hand_made_maps():
    batch = TASK.sample(4, seed=9)
    T = TASK.seq_len - 1
    previous = torch.zeros(T, T)
    previous[0, 0] = 1.0
    previous[torch.arange(1, T), torch.arange(T - 1)] = 1.0  # t -> t - 1
    weights = torch.stack([previous.expand(4, 1, T, T), previous.expand(4, 1, T, T)])
    prev, ind = toy.pattern_scores(weights, batch)  # (L=2, h=1)
    assert_close(prev, torch.ones(2, 1))
    # an induction map: scored t -> t - n + 1
    induction = torch.zeros(4, 1, T, T)
    for b in range(4):
        n = int(batch.length[b])
        for t in batch.scored[b].nonzero()[:, 0].tolist():
            induction[b, 0, t, t - n + 1] = 1.0
    prev, ind = toy.pattern_scores(torch.stack([weights[0], induction]), batch)
    assert_close(ind, torch.tensor([[0.0], [1.0]]))
    with pytest.raises(ValueError, match="do not fit"):
        toy.pattern_scores(weights[:, :2], batch)


def test_per_sequence_gates_match_one_sequence_at_a_time():
    torch.manual_seed(5)
    model = toy.TinyTransformer().eval()
    batch = TASK.sample(3, seed=10)
    gates = torch.rand(2, 3, 4)  # (L, B, h)
    together = model(batch.inputs, gates)
    for b in range(3):
        alone = model(batch.inputs[b : b + 1], gates[:, b])
        assert_close(together[b : b + 1], alone)
    with pytest.raises(ValueError, match=r"\(L, B, h\) = \(2, 3, 4\)"):
        model(batch.inputs, torch.ones(2, 2, 4))


# --- mean ablation -----------------------------------------------------------------


def test_mask_heads_with_a_baseline_interpolates_between_head_and_baseline():
    heads = torch.randn(2, 3, 4, 5)  # (B, h, T, d_k)
    baseline = torch.randn(3, 4, 5)  # (h, T, d_k): one mean per head and position
    gates = torch.tensor([1.0, 0.0, 0.25])
    out = toy.mask_heads(heads, gates, baseline)
    assert_close(out[:, 0], heads[:, 0])  # kept
    assert_close(out[:, 1], baseline[1].expand(2, 4, 5))  # replaced by its baseline
    assert_close(out[:, 2], 0.25 * heads[:, 2] + 0.75 * baseline[2])
    zero = toy.mask_heads(heads, gates, torch.zeros(3, 4, 5))
    assert_close(zero, toy.mask_heads(heads, gates))  # a zero baseline: zero ablation
    with pytest.raises(ValueError, match=r"\(h, T, d_k\) = \(3, 4, 5\)"):
        toy.mask_heads(heads, gates, torch.randn(4, 4, 5))


def test_head_means_average_each_heads_output_over_the_batch():
    torch.manual_seed(2)
    model = toy.TinyTransformer(num_heads=2).eval()
    batch = TASK.sample(7, seed=11)
    means = toy.head_means(model, batch)  # (L, h, T, d_k)
    assert means.shape == (2, 2, TASK.seq_len - 1, 16)
    # by hand, layer 0: the heads of the first attention layer
    with torch.no_grad():
        z = model.tok(batch.inputs) + model.pos(torch.arange(TASK.seq_len - 1))
        y = model.norms[0](z)
        attn = model.attn[0]
        q, k, v = (
            mha.split_heads(p(y), 2) for p in (attn.q_proj, attn.k_proj, attn.v_proj)
        )
        heads, _ = mha.scaled_dot_product_attention(q, k, v, is_causal=True)
    assert_close(means[0], heads.mean(dim=0))


def test_mean_ablation_changes_nothing_when_every_sequence_is_the_same():
    # The mean of identical sequences is each one's own output: replacing a head by
    # its mean must give back the unablated model; replacing it by zeros must not.
    torch.manual_seed(3)
    model = toy.TinyTransformer().eval()
    one = TASK.sample(1, seed=12)
    same = toy.RepeatBatch(*(t.expand(5, *t.shape[1:]) for t in one))
    means = toy.head_means(model, same)
    mask = torch.ones(2, 4)
    mask[0, 1] = mask[1, 2] = 0.0
    with torch.no_grad():
        full = model(same.inputs)
        assert_close(model(same.inputs, mask, head_baseline=means), full)
        assert not torch.allclose(model(same.inputs, mask), full)


def test_head_baseline_needs_a_mask_and_the_right_shape():
    model = toy.TinyTransformer().eval()
    tokens = TASK.sample(2, seed=13).inputs
    with pytest.raises(ValueError, match="needs a head_mask"):
        model(tokens, head_baseline=torch.zeros(2, 4, 19, 8))
    with pytest.raises(ValueError, match=r"\(L, h, T, d_k\) = \(2, 4, 19, 8\)"):
        model(tokens, torch.ones(2, 4), head_baseline=torch.zeros(4, 19, 8))


# --- several seeds at once -----------------------------------------------------------


def _models(n: int, **kwargs) -> list[toy.TinyTransformer]:
    models = []
    for seed in range(n):
        torch.manual_seed(seed)
        models.append(toy.TinyTransformer(**kwargs).eval())
    return models


@pytest.mark.parametrize("num_heads", [1, 4])
def test_ensemble_computes_what_its_members_compute(num_heads):
    models = _models(3, num_heads=num_heads)
    ensemble = toy.ToyEnsemble(models)
    batches = [TASK.sample(6, seed=20 + i) for i in range(3)]
    tokens = torch.stack([b.inputs for b in batches])  # (n, B, T)
    gates = torch.rand(3, 2, num_heads)  # (n, L, h)
    per_sequence = torch.rand(3, 2, 6, num_heads)  # (n, L, B, h)
    means = torch.stack(
        [toy.head_means(m, b) for m, b in zip(models, batches, strict=True)]
    )
    with torch.no_grad():
        logits = ensemble(tokens)
        gated, maps = ensemble(tokens, gates, need_weights=True)
        by_sequence = ensemble(tokens, per_sequence)
        replaced = ensemble(tokens, gates, head_baseline=means)
        for i, (model, batch) in enumerate(zip(models, batches, strict=True)):
            assert_close(logits[i], model(batch.inputs))
            expected, expected_maps = model(batch.inputs, gates[i], need_weights=True)
            assert_close(gated[i], expected)
            assert_close(maps[i], expected_maps)
            assert_close(by_sequence[i], model(batch.inputs, per_sequence[i]))
            assert_close(
                replaced[i], model(batch.inputs, gates[i], head_baseline=means[i])
            )
            member = ensemble.member(i)
            assert isinstance(member, toy.TinyTransformer) and not member.training
            assert_close(member(batch.inputs), model(batch.inputs))


def test_ensemble_measurements_equal_the_per_model_ones():
    models = _models(2)
    ensemble = toy.ToyEnsemble(models)
    batch = TASK.sample(40, seed=30)
    mask = torch.ones(2, 2, 4)
    mask[0, 0, 1] = mask[1, 1, 3] = 0.0
    accs = ensemble.accuracy(batch, mask)
    means = ensemble.head_means(batch)
    weights = ensemble.weights(batch)
    assert accs.shape == (2,) and weights.shape == (2, 2, 40, 4, 19, 19)
    for i, model in enumerate(models):
        assert accs[i].item() == pytest.approx(toy.accuracy(model, batch, mask[i]))
        assert_close(means[i], toy.head_means(model, batch))
        assert_close(weights[i], model(batch.inputs, need_weights=True)[1])


def test_ensemble_errors():
    a, b = toy.TinyTransformer(num_heads=2), toy.TinyTransformer(num_heads=4)
    with pytest.raises(ValueError, match="same shape"):
        toy.ToyEnsemble([a, b])
    with pytest.raises(TypeError, match="non-empty sequence of TinyTransformer"):
        toy.ToyEnsemble([])
    ensemble = toy.ToyEnsemble([a, a])
    tokens = TASK.sample(2, seed=0).inputs
    with pytest.raises(ValueError, match=r"n = 2 models"):
        ensemble(tokens[None])
    with pytest.raises(ValueError, match=r"\(n, L, h\) = \(2, 2, 2\)"):
        ensemble(torch.stack([tokens, tokens]), torch.ones(2, 2))
    with pytest.raises(ValueError, match="needs a head_mask"):
        ensemble(
            torch.stack([tokens, tokens]), head_baseline=torch.zeros(2, 2, 2, 19, 16)
        )
    with pytest.raises(ValueError, match="member index"):
        ensemble.member(2)


def test_seeds_trained_together_are_the_seeds_trained_alone():
    models, losses = toy.train_toy_seeds(2, [0, 3, 5], steps=20, workers=2)
    again, losses_again = toy.train_toy_seeds(2, [0, 3, 5], steps=20, workers=2)
    assert losses == losses_again  # reproducible, bit for bit
    batch = TASK.sample(20, seed=40)
    for i, seed in enumerate([0, 3, 5]):
        alone, curve = toy.train_toy(2, steps=20, seed=seed)
        # the same model up to the rounding of sums done in another order
        assert_close(torch.tensor(losses[i]), torch.tensor(curve), rtol=1e-4, atol=1e-5)
        with torch.no_grad():
            assert_close(
                models[i](batch.inputs), alone(batch.inputs), rtol=1e-3, atol=1e-4
            )
    assert losses[0] != losses[1]  # and seeds differ


def test_train_toy_seeds_errors():
    with pytest.raises(ValueError, match="distinct"):
        toy.train_toy_seeds(2, [1, 1], steps=1)
    with pytest.raises(ValueError, match="distinct"):
        toy.train_toy_seeds(2, [], steps=1)
    with pytest.raises(ValueError, match="seed must be an int >= 0"):
        toy.train_toy_seeds(2, [-1], steps=1)
    with pytest.raises(ValueError, match="positive"):
        toy.train_toy_seeds(2, [0], steps=1, workers=0)
