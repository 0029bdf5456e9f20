import contextlib
import os

import pytest
import torch
from lm_testkit import CODEBOOK, VOCAB, random_cond, random_texts, select, tiny_config

import tts.generate
from tts.checkpoint import CONFIG_NAME, WEIGHTS_NAME, save_checkpoint
from tts.config import config_to_dict, load_config, save_config
from tts.errors import CheckpointError, ConfigError, TextError
from tts.generate import MaxLengthWarning, SamplingConfig, generate, pad_phonemes
from tts.model import CodecLM, ConditionDrop, ConditioningError, LMConfig
from tts.training import build_lm_inputs


def test_presets_have_the_documented_sizes():
    expected = {
        "tiny": (1e6, 3e6),
        "small": (20e6, 40e6),
        "base": (250e6, 350e6),
        "large": (0.9e9, 1.2e9),
    }
    for name, (low, high) in expected.items():
        with torch.device("meta"):  # no memory for the big ones
            n = CodecLM(LMConfig.preset(name)).num_params()
        assert low <= n <= high, (name, n)
    assert LMConfig.preset("tiny", n_codebooks=8).n_codebooks == 8
    with pytest.raises(ConfigError, match="unknown LM preset"):
        LMConfig.preset("huge")
    with pytest.raises(ConfigError, match="invalid override"):
        LMConfig.preset("tiny", n_layers=3)
    with pytest.raises(ConfigError, match="heads"):
        LMConfig(d_model=100, n_head=3)


def test_forward_shapes_and_max_frames_rule(model):
    texts = random_texts([5, 9])
    ids, lengths = pad_phonemes(texts, 0)
    codes = torch.randint(0, CODEBOOK, (2, 3, 11))
    inputs, targets = build_lm_inputs(codes, torch.tensor([11, 7]), model)
    logits = model(ids, lengths, random_cond(2), inputs)
    assert inputs.shape == targets.shape == (2, 3, 11 + 3)
    assert logits.shape == (2, 3, 14, CODEBOOK + 1)
    assert torch.isfinite(logits).all()
    c = model.config
    assert c.max_frames(20) == int(c.max_frames_per_phoneme * 20 + c.max_frames_offset)


@pytest.mark.parametrize("fixed_shape", [False, True])
def test_kv_cache_decoding_matches_full_forward(model, fixed_shape):
    # Different text lengths (left padding at decode time) and different audio lengths; the
    # cache is larger than needed, its unwritten tail either skipped or masked (fixed_shape).
    texts = random_texts([4, 11, 7], seed=1)
    ids, lengths = pad_phonemes(texts, 0)
    cond = random_cond(3, seed=1)
    codes = torch.randint(0, CODEBOOK, (3, 3, 9))
    inputs, _ = build_lm_inputs(codes, torch.tensor([9, 5, 7]), model)
    with torch.no_grad():
        full = model(ids, lengths, cond, inputs)
        n_steps = inputs.shape[2]
        n_prefix = ids.shape[1] + 4
        model.setup_cache(3, n_prefix + n_steps + 17, fixed_shape=fixed_shape)
        cached = [model.prefill(ids, lengths, cond)]
        for t in range(1, n_steps):
            cached.append(model.decode_step(inputs[:, :, t], torch.tensor([n_prefix + t])))
        model.clear_cache()
    cached = torch.stack(cached, dim=2)
    assert cached.shape == full.shape
    torch.testing.assert_close(cached, full, atol=2e-5, rtol=1e-4)
    # The item alone (no padding at all) gives the same logits as inside the batch.
    with torch.no_grad():
        alone = model(ids[1:2, :11], lengths[1:2], select(cond, 1), inputs[1:2])
    torch.testing.assert_close(alone, full[1:2], atol=2e-5, rtol=1e-4)


def test_intensity_zero_is_neutral_and_drops_use_null_embeddings(model):
    cond = random_cond(2)
    cond.emotion = torch.tensor([2, 0])  # sad, neutral
    cond.intensity = torch.tensor([0.0, 1.0])
    tokens = model.condition_tokens(cond, None)
    torch.testing.assert_close(tokens[0, 2], tokens[1, 2])  # sad at intensity 0 == neutral
    cond.intensity = torch.tensor([2.0, 1.0])
    double = model.condition_tokens(cond, None)[0, 2]
    neutral, sad = model.emotion_emb.weight[0], model.emotion_emb.weight[2]
    torch.testing.assert_close(double, neutral + 2 * (sad - neutral))
    dropped = model.condition_tokens(cond, ConditionDrop.all(2))
    torch.testing.assert_close(dropped[:, 0], model.null_speaker.expand(2, -1))
    torch.testing.assert_close(dropped[:, 1], model.no_style.expand(2, -1))
    torch.testing.assert_close(dropped[:, 2], model.null_emotion.expand(2, -1))
    torch.testing.assert_close(dropped[:, 3], tokens[:, 3])  # language is never dropped
    no_style = model.condition_tokens(random_cond(2, style=False), None)
    torch.testing.assert_close(no_style[:, 1], model.no_style.expand(2, -1))


def test_text_drop_replaces_every_phoneme_with_the_null_text():
    torch.manual_seed(0)
    model = CodecLM(tiny_config(null_text=True)).eval()
    ids, lengths = pad_phonemes(random_texts([5, 7]), 0)
    cond = random_cond(2)
    plain, _ = model.prefix(ids, lengths, cond)
    drop = ConditionDrop.none(2)
    drop.text = torch.tensor([True, False])
    dropped, dropped_len = model.prefix(ids, lengths, cond, drop)
    torch.testing.assert_close(dropped_len, lengths + 4)  # length and positions stay
    torch.testing.assert_close(dropped[0, 4:], model.null_text.expand(7, -1))
    torch.testing.assert_close(dropped[0, :4], plain[0, :4])  # conditions untouched
    torch.testing.assert_close(dropped[1], plain[1])  # the other item untouched
    assert not ConditionDrop.all(2).text.any() and ConditionDrop.all(2, text=True).text.all()
    only = ConditionDrop.only(2, "cpu", "text", "speaker")
    assert only.text.all() and only.speaker.all()
    assert not only.style.any() and not only.emotion.any()
    with pytest.raises(TypeError):
        ConditionDrop.only(2, "cpu", "voice")  # no such condition
    # Two different texts read the same once dropped.
    other = pad_phonemes(random_texts([5, 7], seed=9), 0)[0]
    every = ConditionDrop.all(2, text=True)
    torch.testing.assert_close(
        model.prefix(other, lengths, cond, every)[0], model.prefix(ids, lengths, cond, every)[0]
    )
    # A model built without a null text cannot drop it, and says so.
    with pytest.raises(ConfigError, match="null_text"):
        CodecLM(tiny_config()).prefix(ids, lengths, cond, drop)


def test_bad_inputs_raise_typed_errors(model):
    ids, lengths = pad_phonemes(random_texts([4]), 0)
    cond = random_cond(1)
    with pytest.raises(TextError, match="phoneme ids"):
        model.prefix(torch.full((1, 4), VOCAB), lengths, cond)
    with pytest.raises(TextError, match="at least one phoneme"):
        model.prefix(ids, torch.tensor([0]), cond)
    with pytest.raises(ConditioningError, match="speaker"):
        model.prefix(ids, lengths, random_cond(2))
    bad = random_cond(1)
    bad.language = torch.tensor([9])
    with pytest.raises(ConditioningError, match="language"):
        model.prefix(ids, lengths, bad)
    with pytest.raises(TextError, match="non-empty"):
        pad_phonemes([torch.tensor([], dtype=torch.long)], 0)


def test_save_load_round_trip(model, tmp_path):
    path = model.save(tmp_path / "lm", step=123)
    assert (path / WEIGHTS_NAME).is_file() and (path / CONFIG_NAME).is_file()
    loaded = CodecLM.load(path)
    assert loaded.config == model.config
    pairs = zip(model.state_dict().items(), loaded.state_dict().items(), strict=True)
    for (name, a), (_, b) in pairs:
        assert torch.equal(a, b), name
    texts, cond = random_texts([6]), random_cond(1)
    greedy = SamplingConfig(temperature=0)
    with pytest.warns(MaxLengthWarning):
        a = generate(model, texts, cond, greedy, max_frames=8, min_frames=8)[0].codes
    with pytest.warns(MaxLengthWarning):
        b = generate(loaded, texts, cond, greedy, max_frames=8, min_frames=8)[0].codes
    assert torch.equal(a, b)
    # A checkpoint of another kind, or with missing weights, is refused by name.
    save_checkpoint(tmp_path / "other", {"w": torch.zeros(1)}, "codec", {})
    with pytest.raises(CheckpointError, match="codec_lm"):
        CodecLM.load(tmp_path / "other")
    config = config_to_dict(model.config)
    save_checkpoint(tmp_path / "partial", {"w": torch.zeros(1)}, "codec_lm", config)
    with pytest.raises(CheckpointError, match="does not match"):
        CodecLM.load(tmp_path / "partial")


def test_config_round_trips_through_json(tmp_path):
    config = tiny_config(n_codebooks=5, max_frames_per_phoneme=30.0)
    save_config(config, tmp_path / "lm.json")
    assert load_config(LMConfig, tmp_path / "lm.json") == config


def test_linear_fast_path_matches_f_linear_and_follows_weight_changes():
    from tts.model import Linear

    torch.manual_seed(0)
    layer = Linear(16, 24)
    x = torch.randn(4, 1, 16)
    with torch.inference_mode():  # the decoding path: x @ a kept transposed weight
        torch.testing.assert_close(layer(x), torch.nn.functional.linear(x, layer.weight))
    # An in-place update (an optimizer step, load_state_dict) must not leave a stale copy.
    with torch.no_grad():
        layer.weight.mul_(2.0)
        torch.testing.assert_close(layer(x), torch.nn.functional.linear(x, layer.weight))
    layer.load_state_dict({"weight": torch.zeros(24, 16)})
    with torch.inference_mode():
        assert torch.count_nonzero(layer(x)) == 0
    # Training: the ordinary path, with gradients to the weight.
    layer(x).sum().backward()
    assert layer.weight.grad is not None and layer.weight.grad.abs().sum() > 0
    assert layer.state_dict().keys() == {"weight"}  # checkpoints keep the nn.Linear layout
    # A layer made under inference_mode has no version counter: it multiplies plainly.
    with torch.inference_mode():
        made_there = Linear(16, 24)
        torch.testing.assert_close(made_there(x), torch.nn.functional.linear(x, made_there.weight))


def test_frozen_copies_skip_the_checks_inside_and_restore_them_after(model, monkeypatch):
    """`frozen_copies`: inside the block every Linear multiplies by the copy it had on entry
    (a weight changed inside is not seen: the block promises no change), and afterwards the
    layers check again and follow the change; generation holds the block, with the codes of
    the checked path."""
    from tts.model import Linear, frozen_copies

    layer = model.heads[0]
    x = torch.randn(3, layer.in_features)
    exact = torch.nn.functional.linear(x, layer.weight)
    with torch.no_grad(), frozen_copies(model):
        assert all(m._frozen is not None for m in model.modules() if isinstance(m, Linear))
        torch.testing.assert_close(layer(x), exact)
        layer.weight.mul_(2.0)  # breaks the promise, to show that nothing is checked
        torch.testing.assert_close(layer(x), exact)
    assert all(m._frozen is None for m in model.modules() if isinstance(m, Linear))
    with torch.no_grad():
        torch.testing.assert_close(layer(x), 2 * exact)  # checked again: a new copy
        layer.weight.div_(2.0)
    # Entered with autograd on (trainable weights): the layers keep F.linear and gradients;
    # entered for inference, a call with autograd on (training while a stream is left open)
    # still gets F.linear and gradients.
    with frozen_copies(model):
        assert layer._frozen is None
        layer(x).sum().backward()
    assert layer.weight.grad is not None
    layer.weight.grad = None
    with torch.no_grad():
        block = frozen_copies(model)
        block.__enter__()
    try:
        assert layer._frozen is not None
        layer(x).sum().backward()
        assert layer.weight.grad is not None
    finally:
        block.__exit__(None, None, None)
    # Generation inside the block gives the codes it gives outside it.
    texts, cond = random_texts([6, 9], seed=3), random_cond(2, seed=3)
    sampling = SamplingConfig(temperature=0.8, top_k=20)
    inside = generate(model, texts, cond, sampling, seed=5, max_frames=12)
    assert all(m._frozen is None for m in model.modules() if isinstance(m, Linear))
    # the same generation with the block made a no-op
    monkeypatch.setattr(tts.generate, "frozen_copies", lambda module: contextlib.nullcontext())
    outside = generate(model, texts, cond, sampling, seed=5, max_frames=12)
    for a, b in zip(inside, outside, strict=True):
        assert torch.equal(a.codes, b.codes)


def test_rms_norm_takes_its_weight_in_the_fused_op_for_float32_only():
    """float32 input: one fused op with the weight, equal to the written-out formula;
    bfloat16 input: normalised in float32, cast back, then scaled (as before)."""
    from tts.model import RMSNorm

    norm = RMSNorm(8, 1e-5)
    with torch.no_grad():
        norm.weight.copy_(torch.linspace(0.5, 2.0, 8))
    x = torch.randn(4, 8)
    expected = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * norm.weight
    torch.testing.assert_close(norm(x), expected)
    half = norm(x.bfloat16())
    assert half.dtype == torch.float32  # bfloat16 times the float32 weight, as before
    torch.testing.assert_close(half, expected, rtol=2e-2, atol=2e-2)


def test_the_parsers_list_every_matmul_dtype_the_model_knows():
    """The command lines offer `tts.config.LM_MATMUL_DTYPES` (named without torch); the model
    must know exactly those."""
    from tts.config import LM_MATMUL_DTYPES
    from tts.model import MATMUL_DTYPES

    assert tuple(MATMUL_DTYPES) == LM_MATMUL_DTYPES


def test_linear_can_multiply_in_bfloat16_at_inference(model):
    """`set_matmul_dtype`: at inference every Linear of the LM multiplies by a bfloat16 copy
    of its weight and hands back float32, close to the float32 product; training keeps
    float32, and "float32" (or None) restores the exact product."""
    from tts.errors import ConfigError
    from tts.model import Linear, set_matmul_dtype

    layers = [m for m in model.modules() if isinstance(m, Linear)]
    assert set_matmul_dtype(model, "bfloat16") == len(layers) > 0
    layer = layers[0]
    torch.manual_seed(0)
    x = torch.randn(3, 1, layer.in_features)
    exact = torch.nn.functional.linear(x, layer.weight)
    with torch.inference_mode():
        fast = layer(x)
    assert fast.dtype == torch.float32 and layer._transposed.dtype == torch.bfloat16
    assert not torch.equal(fast, exact)  # rounded weights: another product ...
    torch.testing.assert_close(fast, exact, rtol=0.05, atol=0.02 * float(exact.abs().max()))
    layer.weight.requires_grad_(True)
    torch.testing.assert_close(layer(x), exact)  # ... but training multiplies in float32
    assert set_matmul_dtype(model, "float32") == len(layers)
    with torch.inference_mode():
        torch.testing.assert_close(layer(x), exact)
    with pytest.raises(ConfigError, match="lm_matmul_dtype"):
        set_matmul_dtype(model, "float16")


@pytest.mark.parametrize("native_bf16", [True, False], ids=["bf16-cpu", "no-bf16"])
def test_int8_leaves_the_down_projections_to_bfloat16_or_float32(model, monkeypatch, native_bf16):
    """Under "int8" the MLPs' down projections (outlier inputs) multiply by a bfloat16 copy
    of their weight where the CPU has bfloat16 instructions, else exactly in float32; the
    other layers by packed int8 copies."""
    import tts.model as model_module
    from tts.int8 import int8_available
    from tts.model import Linear, set_matmul_dtype

    if not int8_available():
        pytest.skip("this PyTorch build has no fbgemm int8 kernel")
    monkeypatch.setattr(model_module, "bfloat16_native", lambda: native_bf16)
    layers = [m for m in model.modules() if isinstance(m, Linear)]
    assert set_matmul_dtype(model, "int8") == len(layers)
    down = model.blocks[0].mlp.proj
    x = torch.randn(6, down.in_features)
    exact = torch.nn.functional.linear(x, down.weight)
    with torch.no_grad():
        out, other = down(x), model.blocks[0].mlp.up(torch.randn(6, down.out_features))
    assert out.dtype == other.dtype == torch.float32
    assert not isinstance(model.blocks[0].mlp.up._transposed, torch.Tensor)  # packed int8
    if native_bf16:
        assert down._transposed.dtype == torch.bfloat16
        assert not torch.equal(out, exact)
        assert float((out - exact).norm() / exact.norm()) < 0.01  # bfloat16: ~0.3%
    else:
        assert down._transposed.dtype == torch.float32
        torch.testing.assert_close(out, exact)
    set_matmul_dtype(model, None)


def test_linear_can_multiply_by_int8_weights_at_inference(model):
    """`set_matmul_dtype(..., "int8")`: at inference every Linear but the MLPs' down
    projections (outlier inputs: bfloat16 or float32, above) multiplies by a packed int8 copy
    of its weight (one scale per output channel), close to the float32 product, for rows and
    for [batch, length, in] inputs; the float weight, the training path and the checkpoint
    layout stay as they were, and a changed weight is packed again."""
    from tts.int8 import int8_available
    from tts.model import Linear, set_matmul_dtype

    if not int8_available():
        pytest.skip("this PyTorch build has no fbgemm int8 kernel")
    layers = [m for m in model.modules() if isinstance(m, Linear)]
    assert set_matmul_dtype(model, "int8") == len(layers) > 0
    assert {m.matmul_dtype for m in layers} == {torch.int8}
    layer = layers[0]
    weight = layer.weight.detach().clone()
    torch.manual_seed(0)
    for x in (torch.randn(6, layer.in_features), torch.randn(2, 5, layer.in_features)):
        exact = torch.nn.functional.linear(x, layer.weight)
        with torch.no_grad():
            fast = layer(x)
        assert fast.shape == exact.shape and fast.dtype == torch.float32
        assert not isinstance(layer._transposed, torch.Tensor)  # the packed copy
        assert not torch.equal(fast, exact)
        assert float((fast - exact).norm() / exact.norm()) < 0.03  # measured: ~0.01
    assert torch.equal(layer.weight, weight) and layer.state_dict().keys() == {"weight"}
    layer.weight.requires_grad_(True)
    torch.testing.assert_close(layer(x), exact)  # training multiplies in float32
    with torch.no_grad():
        layer.weight.mul_(2)  # an in-place update (optimizer step, load_state_dict)
        torch.testing.assert_close(
            layer(x), 2 * exact, rtol=0.05, atol=0.03 * float(exact.abs().max())
        )
        layer.weight.div_(2)
    set_matmul_dtype(model, None)


def test_int8_falls_back_to_float32_where_the_kernel_is_missing(model, monkeypatch):
    """Without fbgemm (an ARM build) "int8" multiplies in the weight's own dtype: the exact
    float32 product, no error. (A weight off the CPU takes the same branch.)"""
    import tts.model as model_module
    from tts.model import Linear, set_matmul_dtype

    layer = next(m for m in model.modules() if isinstance(m, Linear))
    set_matmul_dtype(model, "int8")
    monkeypatch.setattr(model_module, "int8_available", lambda: False)
    x = torch.randn(3, layer.in_features)
    with torch.no_grad():
        torch.testing.assert_close(layer(x), torch.nn.functional.linear(x, layer.weight))
    assert isinstance(layer._transposed, torch.Tensor)
    set_matmul_dtype(model, None)


def test_int8_product_matches_int8_linear_for_any_input_layout():
    """`int8_product` (what an int8 Linear multiplies with) gives `int8_linear`'s result for
    contiguous float32 rows, for a strided view, and for bfloat16 input (in bfloat16)."""
    from tts.int8 import int8_available, int8_linear, int8_product

    if not int8_available():
        pytest.skip("this PyTorch build has no fbgemm int8 kernel")
    torch.manual_seed(0)
    w = torch.randn(24, 16)
    packed, product = int8_product(w)
    x = torch.randn(5, 16)
    assert torch.equal(product(x), int8_linear(x, packed))
    strided = torch.randn(16, 5).t()  # not contiguous
    assert torch.equal(product(strided), int8_linear(strided.contiguous(), packed))
    half = product(x.bfloat16())
    assert half.dtype == torch.bfloat16
    assert torch.equal(half, int8_linear(x.bfloat16(), packed).bfloat16())


def test_pack_int8_quantizes_each_row_to_its_own_scale():
    """Each output row keeps its own scale: a row 1000x larger than another does not wipe the
    small row out; an all-zero row multiplies to zeros; non-2-D weights are refused."""
    from tts.int8 import int8_available, int8_linear, pack_int8

    if not int8_available():
        pytest.skip("this PyTorch build has no fbgemm int8 kernel")
    torch.manual_seed(0)
    w = torch.randn(3, 64)
    w[1] *= 1000
    w[2] = 0
    x = torch.randn(4, 64)
    out = int8_linear(x, pack_int8(w))
    exact = x @ w.t()
    for row in (0, 1):
        rel = (out[:, row] - exact[:, row]).norm() / exact[:, row].norm()
        assert float(rel) < 0.03
    assert torch.equal(out[:, 2], torch.zeros(4))
    with pytest.raises(ValueError, match="2-D"):
        pack_int8(torch.randn(2, 3, 4))


def test_packing_from_several_threads_leaves_the_quantized_engine_as_it_was():
    """Packing switches PyTorch's process-wide quantized engine for a moment; the server's
    replicas pack their layers on their first requests, possibly at once. Each packed weight
    still multiplies right, and the engine ends as it began."""
    import threading

    from tts.int8 import int8_available, int8_linear, pack_int8

    if not int8_available():
        pytest.skip("this PyTorch build has no fbgemm int8 kernel")
    before = torch.backends.quantized.engine
    torch.manual_seed(0)
    weights = [torch.randn(64, 96) for _ in range(8)]
    x = torch.randn(4, 96)
    errors: list[float] = []

    def pack_and_multiply(w: torch.Tensor) -> None:
        for _ in range(20):
            out = int8_linear(x, pack_int8(w))
        exact = x @ w.t()
        errors.append(float((out - exact).norm() / exact.norm()))

    threads = [threading.Thread(target=pack_and_multiply, args=(w,)) for w in weights]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(errors) == 8 and max(errors) < 0.03
    assert torch.backends.quantized.engine == before


@pytest.mark.parametrize("instructions", ["AVX2", "AVX512_E1"])
def test_int8_products_do_not_saturate_on_cpus_without_vnni(instructions):
    """fbgemm without VNNI (forced here with FBGEMM_ENABLE_INSTRUCTIONS=AVX2) adds pairs of
    8-bit products in 16 bits: ones times ones over 64 inputs came out 32.4 with full-range
    inputs. The kernel check notices and quantizes inputs to 7 bits there; with VNNI
    (AVX512_E1, where the CPU has it) it keeps 8 bits. Either way the product is right."""
    import subprocess
    import sys

    from tts.int8 import int8_available

    if not int8_available():
        pytest.skip("this PyTorch build has no fbgemm int8 kernel")
    code = (
        "import torch; from tts.int8 import int8_linear, pack_int8, _full_range_inputs;"
        "print(float(int8_linear(torch.ones(2, 64), pack_int8(torch.ones(3, 64)))[1, 2]),"
        " _full_range_inputs())"
    )
    env = {**os.environ, "FBGEMM_ENABLE_INSTRUCTIONS": instructions}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert abs(float(out[0]) - 64.0) < 0.5
    if instructions == "AVX2":
        assert out[1] == "False"  # 7-bit inputs chosen
