"""The unit reader (tts.reader): what it must hear, that it learns to read units, how it scores
takes, its checkpoint, and the synthesizer keeping the best of several takes."""

from __future__ import annotations

import math
import random
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from tts.checkpoint import save_checkpoint
from tts.conditioning import Conditioning
from tts.errors import CheckpointError, ConfigError
from tts.generate import MaxLengthWarning, SamplingConfig, generate
from tts.labels import LANGUAGES
from tts.model import CodecLM
from tts.reader import (
    SILENT_SYMBOLS,
    ReaderConfig,
    UnitReader,
    edit_distance,
    frames_batch,
    greedy_read,
    read_ids,
)
from tts.synthesizer import (
    TAKE_SEED_STRIDE,
    Synthesizer,
    pick_take,
    random_synthesizer,
    takes_within,
)
from tts.text import SymbolInventory, TextFrontend


def test_the_reader_hears_segments_not_prosody_marks() -> None:
    frontend = TextFrontend()
    inventory = frontend.inventory
    for text, lang in [("今日は、いい天気ですね。", "ja"), ("Is it going to snow tomorrow?", "en")]:
        ids = [i for chunk in frontend.process(text, lang) for i in chunk.ids]
        kept = read_ids(ids, inventory)
        symbols = inventory.decode(ids)
        assert kept == [i for i, s in zip(ids, symbols, strict=True) if s not in SILENT_SYMBOLS]
        assert 0 < len(kept) < len(ids)  # marks were there and went; segments stayed
        assert not set(inventory.decode(kept)) & SILENT_SYMBOLS
    # "t e ɴ k i" keeps every segment of 天気 in order
    assert inventory.decode(read_ids(inventory.encode(["[", "t", "e", "]", "ɴ", "#", "k", "i"]),
                                     inventory)) == ["t", "e", "ɴ", "k", "i"]  # fmt: skip


def test_best_path_decoding_and_edit_distance() -> None:
    log_probs = torch.full((7, 4), -10.0)
    for t, token in enumerate([1, 1, 0, 1, 2, 2, 0]):  # repeats merge unless a blank splits them
        log_probs[t, token] = 0.0
    assert greedy_read(log_probs, 7) == [1, 1, 2]
    assert greedy_read(log_probs, 2) == [1]
    assert edit_distance([1, 2, 3], [1, 3]) == 1
    assert edit_distance([], [4, 5]) == 2
    assert edit_distance([1, 2], [2, 1]) == 2


def _toy_corpus(rng: random.Random, n: int, phones: list[int], unit_of: dict[int, int]):
    """Utterances whose units say their phones: each phone is 1-3 frames of its own unit, with
    one frame in ten replaced by a random unit."""
    items = []
    for _ in range(n):
        said = [rng.choice(phones)]
        while len(said) < rng.randint(4, 10):  # no phone twice in a row: its frames would merge
            said.append(rng.choice([p for p in phones if p != said[-1]]))
        units = [unit_of[p] for p in said for _ in range(rng.randint(1, 3))]
        units = [rng.randrange(40) if rng.random() < 0.1 else u for u in units]
        items.append((torch.tensor(units), torch.tensor(said)))
    return items


def _fit(model: UnitReader, draw, steps: int) -> None:  # type: ignore[no-untyped-def]
    """Train a toy reader for `steps` batches of draw() -> [(frames [F] or [S, F], said)]
    (language 0), then leave it in eval mode."""
    optim = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(steps):
        batch = draw()
        lengths = torch.tensor([f.shape[-1] for f, _ in batch])
        frames = frames_batch([f.reshape(-1, f.shape[-1]) for f, _ in batch], model.config)
        loss = model.ctc_losses(frames, lengths, torch.zeros(len(batch), dtype=torch.long),
                                [p for _, p in batch]).mean()  # fmt: skip
        optim.zero_grad()
        loss.backward()
        optim.step()
    model.eval()


def test_the_reader_learns_to_read_units_and_ranks_the_right_text_first() -> None:
    torch.manual_seed(0)
    rng = random.Random(0)
    inventory = SymbolInventory.default()
    phones = inventory.encode(["a", "i", "k", "s", "t", "n", "m", "o", "ɾ", "e"])
    unit_of = dict(zip(phones, rng.sample(range(40), len(phones)), strict=True))
    config = ReaderConfig(n_units=40, vocab_size=len(inventory), d_model=48, n_layer=1, n_head=2,
                          dropout=0.0)  # fmt: skip
    model = UnitReader(config)
    _fit(model, lambda: _toy_corpus(rng, 16, phones, unit_of), 250)
    test = _toy_corpus(random.Random(1), 40, phones, unit_of)
    errors = total = right_first = 0
    for units, said in test:
        log_probs, out_len = model(units[None], torch.tensor([len(units)]), torch.tensor([0]))
        errors += edit_distance(greedy_read(log_probs[0], int(out_len[0])), said.tolist())
        total += len(said)
        other = said.roll(1).tolist() if len(set(said.tolist())) > 1 else [phones[0]] * len(said)
        right, wrong = model.score([units], said.tolist(), 0)[0], model.score([units], other, 0)[0]
        right_first += right < wrong
    assert errors / total < 0.1  # untrained, it reads nothing (PER ~1)
    assert right_first >= 36  # of 40
    # a take too short to say its text cannot win
    assert model.score([torch.tensor([unit_of[phones[0]]])], phones[:5], 0) == [math.inf]


def test_config_and_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="heads"):
        ReaderConfig(d_model=50, n_head=4)
    with pytest.raises(ConfigError, match="blank_id"):
        ReaderConfig(vocab_size=10, blank_id=10)
    with pytest.raises(ConfigError, match="odd kernel"):
        ReaderConfig(kernel=4)
    model = UnitReader(ReaderConfig(n_units=20, vocab_size=30, d_model=32, n_layer=1, n_head=2))
    model.save(tmp_path / "r", step=3)
    again = UnitReader.load(tmp_path / "r")
    units = torch.randint(0, 21, (2, 9))
    args = (units, torch.tensor([9, 5]), torch.tensor([1, 3]))
    model.eval()
    assert torch.equal(model(*args)[0], again(*args)[0])
    save_checkpoint(tmp_path / "other", {}, "semantic_tokenizer", {})
    with pytest.raises(CheckpointError, match="unit_reader"):
        UnitReader.load(tmp_path / "other")
    with pytest.raises(CheckpointError, match="does not exist"):
        UnitReader.load(tmp_path / "missing")


def test_candidates_setting_is_checked() -> None:
    for bad in (0, 17, 2.5, True):
        with pytest.raises(ConfigError, match="candidates"):
            SamplingConfig(candidates=bad)
    assert SamplingConfig(candidates=4).candidates == 4
    for bad in (-0.1, math.nan, math.inf, True, "0.2"):
        with pytest.raises(ConfigError, match="voice_margin"):
            SamplingConfig(voice_margin=bad)
    assert SamplingConfig(voice_margin=0.2).voice_margin == 0.2


def test_the_voice_chooses_only_among_takes_the_reader_scores_alike() -> None:
    scores, stopped = [0.5, 0.3, 0.45, 0.9], [True] * 4
    assert pick_take(scores, stopped) == 1
    assert takes_within(scores, stopped, 0.0) == [1]  # off: the reader's pick alone
    assert takes_within(scores, stopped, 0.2) == [1, 0, 2]  # 0.9 reads too much worse
    assert takes_within(scores, stopped, 10.0) == [1, 0, 2, 3]
    # a take cut at its frame cap never joins one that stopped, however well it reads
    capped = [True, False, True, True]
    assert takes_within(scores, capped, 0.1) == [2, 0]
    assert takes_within(scores, [False] * 4, 0.2) == [1, 0, 2]  # all capped: as the reader


@pytest.fixture(scope="module")
def unit_synth() -> Synthesizer:
    """A random pipeline whose LM predicts a unit stream first, with a random unit reader."""
    base = random_synthesizer(style_encoder=False, seed=2)
    config = replace(base.lm.config, n_codebooks=base.lm.config.n_codebooks + 1, n_semantic=1)
    reader = UnitReader(ReaderConfig(n_units=config.codebook_size,
                                     vocab_size=len(base.frontend.inventory), d_model=32,
                                     n_layer=1, n_head=2))  # fmt: skip
    return Synthesizer(
        CodecLM(config), base.codec, base.frontend, base.speaker_encoder, None, base.voices,
        base.config, None, reader,
    )  # fmt: skip


def _units_takes(synth: Synthesizer, text: str, seed: int, sampling: SamplingConfig):  # type: ignore[no-untyped-def]
    """The takes of an English one-chunk text drawn again as the synthesizer draws them, and
    the units reader's scores of them: (takes, scores)."""
    (chunk,) = synth.frontend.process(text, "en")
    n = sampling.candidates
    cond = synth.conditioning(None, "en", None, None, None)
    takes = generate(
        synth.lm, [torch.tensor(chunk.ids)] * n, Conditioning.cat([cond] * n), sampling,
        seed=[seed + c * TAKE_SEED_STRIDE for c in range(n)],
    )  # fmt: skip
    scores = synth.reader.score(
        [t.codes[0] for t in takes], read_ids(chunk.ids, synth.frontend.inventory),
        LANGUAGES.index("en"),
    )  # fmt: skip
    return takes, scores


def test_synthesis_keeps_the_take_the_reader_scores_best(unit_synth: Synthesizer) -> None:
    text, seed = "Good morning to you.", 11
    sampling = replace(unit_synth.config.sampling, candidates=3)
    with pytest.warns(MaxLengthWarning, match="in all 3 takes") as caught:  # a random LM
        audio = unit_synth.synthesize(text, language="en", seed=seed, sampling=sampling,
                                      watermark=False)  # fmt: skip
    assert len(caught) == 1  # one for the kept take, none for the dropped ones
    (segment,) = audio.segments
    takes, scores = _units_takes(unit_synth, text, seed, sampling)
    best = min(range(3), key=lambda i: (not takes[i].stopped, scores[i]))
    assert segment.takes == 3 and segment.reader_score == pytest.approx(scores[best])
    assert segment.n_frames == takes[best].n_frames
    assert audio.wav.size == takes[best].n_frames * unit_synth.codec.samples_per_frame
    # one take: no reader pass, and the first take's seed
    one = unit_synth.synthesize(text, language="en", seed=seed, watermark=False)
    assert one.segments[0].takes == 1 and one.segments[0].reader_score is None
    assert one.segments[0].n_frames == takes[0].n_frames


def test_with_a_voice_margin_the_kept_take_is_the_closest_voice(unit_synth: Synthesizer) -> None:
    """voice_margin: among the takes the reader scores within the margin of its best, the one
    whose decoded audio the speaker encoder finds closest to the voice is kept."""
    text, seed = "Good morning to you.", 13
    plain = replace(unit_synth.config.sampling, candidates=3)
    with pytest.warns(MaxLengthWarning):  # a random LM
        by_reader = unit_synth.synthesize(text, language="en", seed=seed, sampling=plain,
                                          watermark=False)  # fmt: skip
        by_voice = unit_synth.synthesize(text, language="en", seed=seed, watermark=False,
                                         sampling=replace(plain, voice_margin=1e9))  # fmt: skip
    takes, scores = _units_takes(unit_synth, text, seed, plain)
    wavs = [unit_synth._decode(unit_synth._codec_codes(t.codes)[None], 1.0) for t in takes]
    voice = torch.nn.functional.normalize(unit_synth.voices["default"].float(), dim=0)
    embedded = unit_synth.speaker_encoder.embed_batch(wavs, unit_synth.sample_rate)
    cosines = (torch.nn.functional.normalize(embedded.float(), dim=-1) @ voice).tolist()
    stopped = [t.stopped for t in takes]
    # a huge margin lets every take that ended as the reader's pick did compete
    close = [i for i in range(3) if stopped[i] == stopped[pick_take(scores, stopped)]]
    closest = max(close, key=lambda i: cosines[i])
    (segment,) = by_voice.segments
    assert segment.voice_similarity == pytest.approx(cosines[closest], abs=1e-5)
    assert segment.reader_score == pytest.approx(scores[closest])
    assert segment.n_frames == takes[closest].n_frames
    np.testing.assert_allclose(by_voice.wav, wavs[closest], atol=1e-6)
    # here the voice overrules the reader, so the setting changed what was kept
    assert closest != pick_take(scores, stopped) and len(set(cosines)) == 3
    assert by_reader.segments[0].voice_similarity is None
    assert by_reader.segments[0].n_frames == takes[pick_take(scores, stopped)].n_frames


def test_a_take_that_stopped_beats_a_capped_one(unit_synth: Synthesizer) -> None:
    (chunk,) = unit_synth.frontend.process("Good morning.", "en")
    cond = unit_synth.conditioning(None, "en", None, None, None)
    takes = generate(unit_synth.lm, [torch.tensor(chunk.ids)] * 2, Conditioning.cat([cond] * 2),
                     unit_synth.config.sampling, seed=[1, 2])  # fmt: skip
    scores = unit_synth.reader.score(
        [t.codes[0] for t in takes], read_ids(chunk.ids, unit_synth.frontend.inventory), 1
    )
    better, worse = sorted(range(2), key=lambda i: scores[i])
    takes[better] = replace(takes[better], stopped=False)
    takes[worse] = replace(takes[worse], stopped=True)
    decoded = []
    kept = unit_synth._best_take(chunk, takes, lambda t: decoded.append(t) or t.codes)
    assert kept.result is takes[worse] and kept.reader_score == pytest.approx(scores[worse])
    assert decoded == [kept.result] and kept.audio is kept.result.codes  # the kept take only
    assert kept.voice_similarity is None


def test_bundle_round_trip_keeps_the_reader(unit_synth: Synthesizer, tmp_path: Path) -> None:
    unit_synth.save(tmp_path / "bundle")
    again = Synthesizer.from_pretrained(tmp_path / "bundle", device="cpu")
    assert again.config.reader == "reader" and again.reader is not None
    for a, b in zip(unit_synth.reader.state_dict().values(), again.reader.state_dict().values(),
                    strict=True):  # fmt: skip
        assert torch.equal(a, b)
    base = random_synthesizer(style_encoder=False)
    with pytest.raises(CheckpointError, match="units reader needs an LM"):
        Synthesizer(base.lm, base.codec, base.frontend, base.speaker_encoder,
                    reader=unit_synth.reader)  # fmt: skip


def _three_takes(make_reader):  # type: ignore[no-untyped-def]
    """A random synthesizer with the reader make_reader(synth) keeping the best of 3 takes of a
    sentence: (synth, its audio, the chunk, the takes drawn again, their decoded audio)."""
    synth = random_synthesizer(style_encoder=False, seed=3)
    synth = Synthesizer(synth.lm, synth.codec, synth.frontend, synth.speaker_encoder, None,
                        synth.voices, synth.config, None, make_reader(synth))  # fmt: skip
    text, seed = "Good morning to you.", 5
    sampling = replace(synth.config.sampling, candidates=3)
    audio = synth.synthesize(text, language="en", seed=seed, sampling=sampling, watermark=False)
    (chunk,) = synth.frontend.process(text, "en")
    cond = synth.conditioning(None, "en", None, None, None)
    takes = generate(synth.lm, [torch.tensor(chunk.ids)] * 3, Conditioning.cat([cond] * 3),
                     sampling, seed=[seed + c * TAKE_SEED_STRIDE for c in range(3)])  # fmt: skip
    wavs = [synth._decode(synth._codec_codes(t.codes)[None], 1.0) for t in takes]
    return synth, audio, chunk, takes, wavs


def _kept_the_best(synth, audio, chunk, takes, heard) -> None:  # type: ignore[no-untyped-def]
    """The kept take is the one the reader scores best of what it heard, and the takes differ
    (so the choice means something)."""
    scores = synth.reader.score(heard, read_ids(chunk.ids, synth.frontend.inventory), 1)
    best = min(range(3), key=lambda i: (not takes[i].stopped, scores[i]))
    assert audio.segments[0].reader_score == pytest.approx(scores[best], rel=1e-5)
    assert len(set(scores)) == 3


def test_a_codes_reader_hears_each_takes_decoded_audio() -> None:
    """source="codes": every take is decoded, re-encoded by the codec and read; the kept
    take's audio is the one that was heard (not decoded again)."""

    def codes_reader(synth: Synthesizer) -> UnitReader:
        return UnitReader(ReaderConfig(source="codes", n_streams=synth.codec.n_codebooks,
                                       n_units=synth.codec.codebook_size,
                                       vocab_size=len(synth.frontend.inventory), d_model=32,
                                       n_layer=1, n_head=2))  # fmt: skip

    synth, audio, chunk, takes, wavs = _three_takes(codes_reader)
    codec, config = synth.codec, synth.reader.config
    heard = codec.encode_list(wavs, synth.sample_rate)
    assert heard[0].shape[0] == codec.n_codebooks
    _kept_the_best(synth, audio, chunk, takes, heard)
    # a codes reader must match the codec's codebooks
    wrong = UnitReader(replace(config, n_streams=codec.n_codebooks + 1))
    with pytest.raises(CheckpointError, match="codes reader reads"):
        Synthesizer(synth.lm, codec, synth.frontend, synth.speaker_encoder, reader=wrong)
    with pytest.raises(ConfigError, match="source"):
        ReaderConfig(source="mels")


def _tone_corpus(rng: random.Random, n: int, phones: list[int], reader: UnitReader):
    """Utterances at 16 kHz whose phones are tones of their own pitch, 60-120 ms each (no
    phone twice in a row), with a little noise: (log-mels [n_mels, F], phones)."""
    sr = 16000
    pitch = {p: 300.0 * 1.25**i for i, p in enumerate(phones)}
    items = []
    for _ in range(n):
        said = [rng.choice(phones)]
        while len(said) < rng.randint(3, 7):
            said.append(rng.choice([p for p in phones if p != said[-1]]))
        pieces = []
        for p in said:
            t = np.arange(int(sr * rng.uniform(0.06, 0.12))) / sr
            pieces.append(0.3 * np.sin(2 * np.pi * pitch[p] * t))
        wav = np.concatenate(pieces) + 0.01 * np.random.default_rng(
            rng.randrange(999)
        ).standard_normal(sum(len(x) for x in pieces))
        items.append((reader.log_mel(wav.astype(np.float32), sr), torch.tensor(said)))
    return items


def test_a_mel_reader_learns_to_read_audio_and_ranks_the_right_text_first() -> None:
    torch.manual_seed(0)
    rng = random.Random(0)
    inventory = SymbolInventory.default()
    phones = inventory.encode(["a", "i", "k", "s", "t", "n"])
    config = ReaderConfig(source="mel", vocab_size=len(inventory), d_model=48, n_layer=1,
                          n_head=2, upsample=1, n_mels=32, dropout=0.0)  # fmt: skip
    model = UnitReader(config)
    pool = _tone_corpus(rng, 96, phones, model)
    # 50 frames a second, whatever the clip's rate (resampled to the reader's 24 kHz)
    assert pool[0][0].shape[0] == 32
    _fit(model, lambda: rng.sample(pool, 16), 150)
    errors = total = right_first = 0
    for mel, said in _tone_corpus(random.Random(1), 30, phones, model):
        log_probs, n = model(mel[None], torch.tensor([mel.shape[-1]]), torch.tensor([0]))
        errors += edit_distance(greedy_read(log_probs[0], int(n[0])), said.tolist())
        total += len(said)
        right, wrong = (
            model.score([mel], ids, 0)[0] for ids in (said.tolist(), said.roll(1).tolist())
        )
        right_first += right < wrong
    assert errors / total < 0.15  # untrained, it reads nothing (PER ~1)
    assert right_first >= 27  # of 30


def test_mel_reader_config_inputs_and_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="mel reader needs"):
        ReaderConfig(source="mel", hop_length=2048, n_fft=1024)
    with pytest.raises(ConfigError, match="mel reader needs"):
        ReaderConfig(source="mel", f_max=20000.0)
    with pytest.raises(ConfigError, match="reads no spectrogram"):
        UnitReader(ReaderConfig(source="codes", n_streams=2, n_units=8)).log_mel(
            np.zeros(100), 24000
        )
    config = ReaderConfig(source="mel", vocab_size=30, d_model=32, n_layer=1, n_head=2, upsample=1)
    model = UnitReader(config).eval()
    with pytest.raises(ConfigError, match="log-mels"):
        model(torch.zeros(1, 40, 10), torch.tensor([10]), torch.tensor([0]))
    mel = model.log_mel(np.random.default_rng(0).standard_normal(24000).astype(np.float32), 24000)
    assert mel.shape == (80, 51) and torch.isfinite(mel).all()
    model.save(tmp_path / "r")
    again = UnitReader.load(tmp_path / "r")
    assert again.config.source == "mel" and "mel_filters" not in again.state_dict()
    args = (torch.stack([mel, mel]), torch.tensor([51, 30]), torch.tensor([1, 3]))
    assert torch.equal(model(*args)[0], again(*args)[0])


def test_a_mel_reader_hears_each_takes_decoded_audio() -> None:
    """source="mel": every take is decoded and its log-mels read, with no codec encoding."""

    def mel_reader(synth: Synthesizer) -> UnitReader:
        return UnitReader(ReaderConfig(source="mel", vocab_size=len(synth.frontend.inventory),
                                       d_model=32, n_layer=1, n_head=2, upsample=1))  # fmt: skip

    synth, audio, chunk, takes, wavs = _three_takes(mel_reader)
    heard = [synth.reader.log_mel(w, synth.sample_rate) for w in wavs]
    _kept_the_best(synth, audio, chunk, takes, heard)
