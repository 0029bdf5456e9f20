import warnings

import pytest
import torch
from lm_testkit import CODEBOOK, random_cond, random_texts, tiny_config

from tts.alignment import GuidedAttention
from tts.conditioning import Conditioning
from tts.delay import apply_delay
from tts.errors import AudioInputError, ConfigError
from tts.generate import MaxLengthWarning, SamplingConfig, generate, pad_phonemes
from tts.model import CodecLM
from tts.training import (
    IGNORE_INDEX,
    ConditionDropout,
    LMBatch,
    build_lm_inputs,
    corrupt_inputs,
    cosine_lr,
    lm_loss,
    make_optimizer,
    own_sample_inputs,
    sample_condition_drop,
    train_step,
)


def make_batch(lengths: list[int], frames: list[int], seed: int = 0) -> LMBatch:
    g = torch.Generator().manual_seed(seed)
    ids, ph_lengths = pad_phonemes(random_texts(lengths, seed), 0)
    codes = torch.randint(0, CODEBOOK, (len(frames), 3, max(frames)), generator=g)
    return LMBatch(ids, ph_lengths, codes, torch.tensor(frames), random_cond(len(frames), seed))


def random_utterances(config, items: int, n_phonemes: int, n_frames: int) -> LMBatch:
    """`items` random texts of one length, each with its own random codes, in one voice."""
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(1, config.vocab_size, (items, n_phonemes), generator=g)
    shape = (items, config.n_codebooks, n_frames)
    codes = torch.randint(0, config.codebook_size, shape, generator=g)
    one = random_cond(1, seed=2)
    cond = Conditioning(
        **{
            k: None if v is None else v.repeat(items, *[1] * (v.dim() - 1))
            for k, v in vars(one).items()
        }
    )
    lengths = torch.tensor([n_phonemes] * items), torch.tensor([n_frames] * items)
    return LMBatch(ids, lengths[0], codes, lengths[1], cond)


def fit(model, batch: LMBatch, dropout: ConditionDropout, steps: int, generator=None) -> dict:
    """`steps` of AdamW at 3e-3 (warm-up 20, cosine) on one batch; the last step's stats."""
    opt = make_optimizer(model, lr=3e-3, weight_decay=0.0)
    for step in range(steps):
        lr = cosine_lr(step, 3e-3, 20, steps)
        stats = train_step(model, opt, batch, dropout, lr=lr, generator=generator)
    return stats


def test_inputs_are_shifted_delayed_frames_and_targets_skip_padding(model):
    batch = make_batch([4, 6], [7, 4])
    inputs, targets = build_lm_inputs(batch.codes, batch.code_lengths, model)
    special = model.config.special
    delayed = apply_delay(batch.codes, batch.code_lengths, special)
    assert (inputs[:, :, 0] == special.bos).all()
    assert torch.equal(inputs[:, :, 1:], delayed[:, :, :-1])
    # Each item has (frames + 1 EOS) targets per codebook; the rest is ignored.
    counted = (targets != IGNORE_INDEX).sum(dim=2)
    assert counted.tolist() == [[8, 8, 8], [5, 5, 5]]
    assert ((targets == special.eos).sum(dim=2) == 1).all()
    with pytest.raises(AudioInputError, match="code lengths"):
        build_lm_inputs(batch.codes, torch.tensor([0, 3]), model)
    with pytest.raises(AudioInputError, match="codes must lie"):
        build_lm_inputs(batch.codes + CODEBOOK, batch.code_lengths, model)


def test_loss_ignores_padding_and_reports_each_codebook(model):
    batch = make_batch([4, 6], [7, 4])
    out = lm_loss(model, batch)
    assert out.per_codebook.shape == (3,)
    torch.testing.assert_close(out.loss, out.per_codebook.mean())
    assert out.n_targets == (8 + 5) * 3
    assert (
        0.5 * torch.log(torch.tensor(CODEBOOK + 1.0))
        < out.loss
        < 2 * torch.log(torch.tensor(CODEBOOK + 1.0))
    )
    # Codes past an item's length are padding: changing them changes nothing.
    batch.codes[1, :, 4:] = (batch.codes[1, :, 4:] + 1) % CODEBOOK
    torch.testing.assert_close(lm_loss(model, batch).loss, out.loss)


def test_codebook_weights_weight_the_loss_not_the_report(model):
    batch = make_batch([4, 6], [7, 4])
    plain = lm_loss(model, batch)
    weighted = lm_loss(model, batch, codebook_weights=[3.0, 1.0, 0.0])
    torch.testing.assert_close(weighted.per_codebook, plain.per_codebook)
    expected = (3 * plain.per_codebook[0] + plain.per_codebook[1]) / 4
    torch.testing.assert_close(weighted.loss, expected)


def test_corrupt_inputs_replaces_real_codes_only_at_the_rate():
    special = tiny_config().special
    inputs = torch.randint(0, CODEBOOK, (8, 3, 500), generator=torch.Generator().manual_seed(0))
    inputs[:, :, 0] = special.bos
    inputs[:, :, -5:] = special.pad
    inputs[0, 0, 100] = special.eos
    assert corrupt_inputs(inputs, 0.0, CODEBOOK) is inputs
    g = torch.Generator().manual_seed(1)
    noisy = corrupt_inputs(inputs, 0.3, CODEBOOK, g)
    real = inputs < CODEBOOK
    assert torch.equal(noisy[~real], inputs[~real])  # BOS, EOS and PAD stay
    assert int(noisy[real].max()) < CODEBOOK  # replacements are real codes
    # A replacement draws any code, so 1 in CODEBOOK of them happens to keep the old one.
    changed = float((noisy != inputs)[real].float().mean())
    assert abs(changed - 0.3 * (1 - 1 / CODEBOOK)) < 0.01
    again = corrupt_inputs(inputs, 0.3, CODEBOOK, torch.Generator().manual_seed(1))
    assert torch.equal(noisy, again)  # reproducible from the step's generator
    for bad in (-0.1, 1.0):
        with pytest.raises(ConfigError, match="input noise"):
            corrupt_inputs(inputs, bad, CODEBOOK)


class PointingLM:
    """Stands in for an LM whose prediction at step t of codebook k is certainly code
    (7 t + k) % CODEBOOK, whatever its inputs."""

    def __init__(self, config):
        self.config = config

    def __call__(self, phonemes, phoneme_lengths, cond, frames, drop=None):
        batch, n_cb, steps = frames.shape
        t = torch.arange(steps)[None, :]
        k = torch.arange(n_cb)[:, None]
        target = (7 * t + k) % CODEBOOK  # [K, T]
        logits = torch.full((batch, n_cb, steps, CODEBOOK + 1), -30.0)
        logits.scatter_(-1, target.expand(batch, -1, -1)[..., None], 30.0)
        logits[..., CODEBOOK] = 50.0  # EOS most likely of all: it must never be drawn
        return logits


def test_own_sample_inputs_are_the_models_draws_one_step_right():
    config = tiny_config()
    batch = make_batch([4, 6], [9, 5])
    inputs, _ = build_lm_inputs(batch.codes, batch.code_lengths, PointingLM(config))
    own = own_sample_inputs(PointingLM(config), batch, inputs, 1.0, torch.Generator())
    real = inputs < CODEBOOK
    assert torch.equal(own[~real], inputs[~real])  # BOS, EOS and PAD stay
    t = torch.arange(inputs.shape[2])[None, None, :]
    k = torch.arange(inputs.shape[1])[None, :, None]
    expected = ((7 * (t - 1) + k) % CODEBOOK).expand_as(inputs)  # what step t - 1 predicted
    assert torch.equal(own[real], expected[real])
    # At a rate, that share of the real codes; the same generator seed, the same draws.
    noisy = own_sample_inputs(
        PointingLM(config), batch, inputs, 0.5, torch.Generator().manual_seed(3)
    )
    moved = (noisy != inputs)[real].float().mean()
    assert 0.3 < float(moved) < 0.7
    again = own_sample_inputs(
        PointingLM(config), batch, inputs, 0.5, torch.Generator().manual_seed(3)
    )
    assert torch.equal(noisy, again)
    assert (noisy[real] < CODEBOOK).all()  # never EOS, though the model likes it best
    assert own_sample_inputs(PointingLM(config), batch, inputs, 0.0) is inputs
    for bad in (-0.1, 1.5):
        with pytest.raises(ConfigError, match="self input"):
            own_sample_inputs(PointingLM(config), batch, inputs, bad)


@pytest.mark.parametrize("noise", [{"input_noise": 0.5}, {"self_input": 1.0}])
def test_input_noise_changes_the_training_loss_not_the_targets_or_evaluation(model, noise):
    """Uniform noise and the LM's own draws alike: only training inputs change."""
    batch = make_batch([4, 6], [12, 9])
    model.eval()
    clean = lm_loss(model, batch)
    torch.testing.assert_close(lm_loss(model, batch, **noise).loss, clean.loss)
    model.train()
    off = ConditionDropout.off()
    with torch.random.fork_rng():  # model dropout is 0 in the tiny config; be sure anyway
        plain = lm_loss(model, batch, off, torch.Generator().manual_seed(0))
        noisy = lm_loss(model, batch, off, torch.Generator().manual_seed(0), **noise)
    assert noisy.n_targets == plain.n_targets == clean.n_targets  # the same targets
    assert not torch.allclose(noisy.loss, plain.loss)
    model.eval()


def test_condition_dropout(model):
    assert not sample_condition_drop(100, ConditionDropout.off()).speaker.any()
    every = sample_condition_drop(100, ConditionDropout(0, 0, 0, all=1.0))
    assert every.speaker.all() and every.style.all() and every.emotion.all()
    g = torch.Generator().manual_seed(0)
    half = sample_condition_drop(4000, ConditionDropout(0.5, 0.2, 0.0, 0.0), generator=g)
    assert abs(half.speaker.float().mean() - 0.5) < 0.03
    assert abs(half.style.float().mean() - 0.2) < 0.03
    assert not half.emotion.any()
    with pytest.raises(ConfigError):
        ConditionDropout(speaker=1.5)
    # Training with everything dropped: speaker, style and emotion no longer affect the loss.
    model.train()
    batch = make_batch([5], [6])
    other = make_batch([5], [6], seed=1).cond
    other.language = batch.cond.language
    drop_all = ConditionDropout(0, 0, 0, all=1.0)
    a = lm_loss(model, batch, drop_all).loss
    batch.cond = other
    torch.testing.assert_close(lm_loss(model, batch, drop_all).loss, a)
    assert not torch.allclose(lm_loss(model, batch, ConditionDropout.off()).loss, a)


def test_text_dropout_only_for_null_text_lms_and_with_all():
    g = torch.Generator().manual_seed(0)
    plain = sample_condition_drop(4000, ConditionDropout(0.3, 0.2, 0.1, 0.1, text=0.5), generator=g)
    assert not plain.text.any()  # an LM without a null text never drops it
    g = torch.Generator().manual_seed(0)
    drop = sample_condition_drop(
        4000, ConditionDropout(0.3, 0.2, 0.1, 0.1, text=0.5), generator=g, text=True
    )
    # The other flags are drawn as before; the text is dropped alone or with all the others.
    for name in ("speaker", "style", "emotion"):
        assert torch.equal(getattr(drop, name), getattr(plain, name))
    every = drop.speaker & drop.style & drop.emotion
    assert drop.text[every].float().mean() > 0.9
    assert abs(drop.text[~every].float().mean() - 0.5) < 0.05
    with pytest.raises(ConfigError):
        ConditionDropout(text=-0.1)


def test_text_dropped_items_leave_the_guided_penalty_and_the_text():
    torch.manual_seed(0)
    model = CodecLM(tiny_config(null_text=True)).train()
    guided = GuidedAttention(weight=1.0, layers=[1, 2], heads=2, sigma=0.2)
    batch = make_batch([5, 7], [10, 8])
    out = lm_loss(model, batch, ConditionDropout(0, 0, 0, all=1.0), guided=guided)
    assert torch.isfinite(out.loss) and out.guided == 0  # no item has text to align to
    aligned = lm_loss(model, batch, ConditionDropout.off(), guided=guided)
    assert aligned.guided > 0
    # With the text dropped the loss no longer depends on which text it was (the tiny LM has
    # no dropout, so training-mode losses are deterministic).
    swapped = make_batch([5, 7], [10, 8])
    swapped.phonemes = torch.randint(1, 40, batch.phonemes.shape)
    a = lm_loss(model, batch, ConditionDropout(0, 0, 0, all=1.0)).loss
    b = lm_loss(model, swapped, ConditionDropout(0, 0, 0, all=1.0)).loss
    torch.testing.assert_close(a, b)


def test_train_step_lowers_the_loss_and_schedule():
    torch.manual_seed(0)
    model = CodecLM(tiny_config())
    batch = make_batch([5, 8], [10, 6])
    opt = make_optimizer(model, lr=2e-3)
    first = train_step(model, opt, batch)
    for _ in range(15):
        last = train_step(model, opt, batch)
    assert {"loss", "grad_norm", "loss_cb0", "loss_cb1", "loss_cb2"} <= set(first)
    assert last["loss"] < first["loss"] - 0.5
    assert cosine_lr(0, 1.0, 10, 100) == pytest.approx(0.1)
    assert cosine_lr(10, 1.0, 10, 100) == pytest.approx(1.0)
    assert cosine_lr(100, 1.0, 10, 100) == pytest.approx(0.1)


def test_overfit_one_utterance_then_reproduce_it_greedily():
    """The key proof: learn one utterance, then greedy generation gives back its exact codes
    and stops (EOS) exactly after its last frame."""
    torch.manual_seed(0)
    config = tiny_config(n_codebooks=4, codebook_size=64)
    model = CodecLM(config)
    n_frames = 32
    batch = random_utterances(config, items=1, n_phonemes=12, n_frames=n_frames)
    stats = fit(model, batch, ConditionDropout.off(), steps=250)
    assert stats["loss"] < 0.01, stats
    result = generate(model, [batch.phonemes[0]], batch.cond, SamplingConfig(temperature=0))[0]
    assert result.stopped
    assert result.n_frames == n_frames
    assert torch.equal(result.codes, batch.codes[0])


def test_text_guidance_after_training_with_text_dropout():
    """Two texts of one voice, each with its own codes; a null-text LM trained with the text
    dropped half the time. Its unconditional pass (cfg_scale 0) no longer knows the text, so
    both texts give the same codes; conditioned and guided (scale 2), each text gives back
    its own codes."""
    torch.manual_seed(0)
    config = tiny_config(n_codebooks=3, codebook_size=64, null_text=True)
    model = CodecLM(config)
    n_frames = 16
    batch = random_utterances(config, items=2, n_phonemes=10, n_frames=n_frames)
    ids, codes, cond = batch.phonemes, batch.codes, batch.cond
    gen = torch.Generator().manual_seed(3)
    fit(model, batch, ConditionDropout(0, 0, 0, all=0.5), steps=300, generator=gen)
    model.eval()
    texts = [ids[0], ids[1]]

    def run(scale: float) -> list[torch.Tensor]:
        sampling = SamplingConfig(temperature=0, cfg_scale=scale)
        with warnings.catch_warnings():  # the unconditional pass alone may run to the cap
            warnings.simplefilter("ignore", MaxLengthWarning)
            out = generate(model, texts, cond, sampling, max_frames=n_frames + 8)
        return [r.codes if r.stopped else None for r in out]

    conditioned, guided, unconditional = run(1.0), run(2.0), run(0.0)
    for i in range(2):
        assert torch.equal(conditioned[i], codes[i]) and torch.equal(guided[i], codes[i])
    assert unconditional[0] is not None and torch.equal(unconditional[0], unconditional[1])
