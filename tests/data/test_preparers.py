"""Each corpus preparer on a tiny fake copy of its official layout."""

from __future__ import annotations

from pathlib import Path

import pytest
from datakit import load_recipe, write_tone

from tts.data import read_manifest
from tts.errors import ManifestError


def test_jsut(tmp_path: Path) -> None:
    base = tmp_path / "jsut_ver1.1"
    for subset, utts in (
        ("basic5000", ["BASIC5000_0001", "BASIC5000_0002"]),
        ("travel1000", ["TRAVEL1000_0001"]),
    ):
        for u in utts:
            write_tone(base / subset / "wav" / f"{u}.wav", 0.3, 48_000)
        lines = [f"{u}:文{i}です。" for i, u in enumerate(utts)] + ["BASIC5000_0099:音声がない行。"]
        (base / subset / "transcript_utf8.txt").write_text(
            "\n".join(lines) + "\n", encoding="utf-8"
        )
    jsut = load_recipe("jsut")
    out = tmp_path / "jsut.jsonl"
    jsut.main(["--root", str(tmp_path), "--out", str(out)])  # root above the top folder works
    entries = read_manifest(out, check_audio=True)
    assert len(entries) == 3  # the line without audio is skipped
    assert {e.speaker for e in entries} == {"jsut"} and entries[0].language == "ja"
    assert entries[0].text == "文0です。" and entries[0].duration == pytest.approx(0.3)
    assert [e.extra["subset"] for e in entries] == ["basic5000", "basic5000", "travel1000"]
    assert len(jsut.prepare(base, subsets=("travel1000",))) == 1
    with pytest.raises(ManifestError, match="unknown JSUT subset"):
        jsut.prepare(base, subsets=("basic9999",))


def test_jvs_maps_whisper_and_drops_falsetto(tmp_path: Path) -> None:
    base = tmp_path / "jvs_ver1"
    for spk in ("jvs001", "jvs002"):
        for subset, utt in (("parallel100", "VOICEACTRESS100_001"), ("nonpara30", "BASIC5000_0025"),
                            ("whisper10", "BASIC5000_0600"), ("falset10", "VOICEACTRESS100_010")):  # fmt: skip
            write_tone(base / spk / subset / "wav24kHz16bit" / f"{utt}.wav", 0.2, 24_000)
            (base / spk / subset / "transcripts_utf8.txt").write_text(
                f"{utt}:テキスト。\n", encoding="utf-8"
            )
    jvs = load_recipe("jvs")
    entries = jvs.prepare(tmp_path)
    assert len(entries) == 6
    assert {e.speaker for e in entries} == {"jvs-jvs001", "jvs-jvs002"}
    by_subset = {e.extra["subset"]: e for e in entries if e.speaker == "jvs-jvs001"}
    assert by_subset["whisper10"].emotion == "whisper" and by_subset["whisper10"].intensity == 1.0
    assert by_subset["parallel100"].emotion == "neutral"
    with_falsetto = jvs.prepare(tmp_path, include_falsetto=True)
    falsetto = [e for e in with_falsetto if e.extra["subset"] == "falset10"]
    assert len(falsetto) == 2 and falsetto[0].extra["style"] == "falsetto"


def test_jvnv_maps_emotions_and_drops_disgust_fear(tmp_path: Path) -> None:
    base = tmp_path / "jvnv_ver1" / "jvnv_v1"
    rows = []
    for emotion in ("anger", "disgust", "fear", "happy", "sad", "surprise"):
        rows.append(f"{emotion}_free_01|ふふ|ふふ、{emotion}の文です。")
        for spk in ("F1", "M2"):
            write_tone(base / spk / emotion / "free" / f"{spk}_{emotion}_free_01.wav", 0.2, 48_000)
    (base / "transcription.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (base / "nv_label" / "F1").mkdir(parents=True)
    entries = load_recipe("jvnv").prepare(tmp_path)
    assert len(entries) == 8  # 4 kept emotions x 2 speakers
    assert {e.emotion for e in entries} == {"angry", "happy", "sad", "surprised"}
    angry = next(
        e for e in entries if e.extra["source_emotion"] == "anger" and e.speaker == "jvnv-F1"
    )
    assert angry.text == "ふふ、angerの文です。" and angry.extra["nonverbal"] == "ふふ"
    assert angry.intensity == 1.0


def test_libritts_r_uses_normalized_text(tmp_path: Path) -> None:
    base = tmp_path / "LibriTTS_R" / "train-clean-100" / "19" / "198"
    write_tone(base / "19_198_000000_000000.wav", 0.4, 24_000)
    (base / "19_198_000000_000000.normalized.txt").write_text("Chapter one.\n")
    (base / "19_198_000000_000000.original.txt").write_text("CHAPTER I.\n")
    write_tone(base / "19_198_000001_000000.wav", 0.2, 24_000)  # no text: skipped
    libritts = load_recipe("libritts_r")
    entries = libritts.prepare(tmp_path, subsets=("train-clean-100", "dev-clean"))
    assert len(entries) == 1
    assert entries[0].text == "Chapter one." and entries[0].speaker == "libritts-19"
    assert entries[0].extra["chapter"] == "198" and entries[0].language == "en"


def test_vctk_one_mic_and_missing_text(tmp_path: Path) -> None:
    base = tmp_path / "VCTK-Corpus-0.92"
    for utt in ("p225_001", "p225_002"):
        for mic in ("mic1", "mic2"):
            write_tone(base / "wav48_silence_trimmed" / "p225" / f"{utt}_{mic}.flac", 0.3, 48_000)
    write_tone(base / "wav48_silence_trimmed" / "p315" / "p315_001_mic1.flac", 0.3, 48_000)
    (base / "txt" / "p225").mkdir(parents=True)
    (base / "txt" / "p225" / "p225_001.txt").write_text("Please call Stella.\n")
    (base / "txt" / "p225" / "p225_002.txt").write_text("Ask her to bring these things.\n")
    vctk = load_recipe("vctk")
    entries = vctk.prepare(tmp_path)
    assert [e.text for e in entries] == ["Please call Stella.", "Ask her to bring these things."]
    assert {e.speaker for e in entries} == {"vctk-p225"} and entries[0].audio.name.endswith(
        "_mic1.flac"
    )
    assert all(e.extra["mic"] == "mic2" for e in vctk.prepare(tmp_path, mic="mic2"))


def test_kss_picks_latest_transcript_and_expanded_text(tmp_path: Path) -> None:
    root = tmp_path / "kss"
    write_tone(root / "kss" / "1" / "1_0000.wav", 0.3, 44_100)
    write_tone(root / "kss" / "4" / "4_0001.wav", 0.3, 44_100)
    (root / "transcript.v.1.3.txt").write_text(
        "1/1_0000.wav|옛날|옛날|ㅇㅖㅅㄴㅏㄹ|0.3\n", encoding="utf-8"
    )
    (root / "transcript.v.1.4.txt").write_text(
        "1/1_0000.wav|3시에 만나요.|세 시에 만나요.|ㅅㅔ ㅅㅣㅇㅔ|0.3|See you at three.\n"
        "4/4_0001.wav|그는 웃었다.|그는 웃었다.|ㄱㅡㄴㅡㄴ|0.3|He laughed.\n"
        "4/4_0002.wav|파일 없음.|파일 없음.|ㅍㅏㅇㅣㄹ|0.3|No file.\n",
        encoding="utf-8",
    )
    entries = load_recipe("kss").prepare(root)
    assert [e.text for e in entries] == ["세 시에 만나요.", "그는 웃었다."]
    assert entries[0].extra["transcript"] == "transcript.v.1.4.txt"
    assert entries[0].speaker == "kss" and entries[0].language == "ko"


def test_vivos_lowercases_and_keeps_corpus_split(tmp_path: Path) -> None:
    base = tmp_path / "vivos"
    for part, spk, utt in (
        ("train", "VIVOSSPK01", "VIVOSSPK01_R001"),
        ("test", "VIVOSDEV01", "VIVOSDEV01_R002"),
    ):
        write_tone(base / part / "waves" / spk / f"{utt}.wav", 0.3, 16_000)
        (base / part / "prompts.txt").write_text(f"{utt} KHÁCH SẠN Ở ĐÂU\n", encoding="utf-8")
        (base / part / "genders.txt").write_text(f"{spk} f\n")
    entries = load_recipe("vivos").prepare(tmp_path)
    assert [e.text for e in entries] == ["khách sạn ở đâu", "khách sạn ở đâu"]
    assert [e.extra["corpus_split"] for e in entries] == ["train", "test"]
    assert entries[0].speaker == "vivos-VIVOSSPK01" and entries[0].extra["gender"] == "f"


def test_thorsten_neutral_and_emotional(tmp_path: Path) -> None:
    neutral = tmp_path / "thorsten-de"
    write_tone(neutral / "wavs" / "a1.wav", 0.3, 22_050)
    (neutral / "metadata.csv").write_text("a1|Hallo Welt.|Hallo Welt.\n", encoding="utf-8")
    emotional = tmp_path / "thorsten-emotional_v02"
    h = "0" * 31 + "a"
    lines = [f"{h}|Ein Satz mit Gefühl."]
    for style in (
        "amused",
        "angry",
        "disgusted",
        "drunk",
        "neutral",
        "sleepy",
        "surprised",
        "whisper",
    ):
        write_tone(emotional / style / f"{h}.wav", 0.2, 22_050)
    (emotional / "thorsten-emotional-metadata.csv").write_text(
        "\n".join(lines) + "\n", encoding="utf-8"
    )
    thorsten = load_recipe("thorsten")
    entries = thorsten.prepare(tmp_path)
    emotions = sorted(e.emotion for e in entries if e.extra["dataset"] == "emotional")
    assert emotions == ["angry", "calm", "happy", "neutral", "surprised", "whisper"]
    assert {e.speaker for e in entries} == {"thorsten"} and all(e.language == "de" for e in entries)
    assert [e.text for e in entries if e.extra["dataset"] == "neutral"] == ["Hallo Welt."]
    no_sleepy = thorsten.prepare(tmp_path, no_sleepy=True)
    assert "calm" not in {e.emotion for e in no_sleepy} and len(no_sleepy) == len(entries) - 1
    with pytest.raises(ManifestError, match="neither"):
        thorsten.prepare(tmp_path / "thorsten-de" / "wavs")


def test_preparer_cli_reports_missing_corpus(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="error: .*basic5000"):
        load_recipe("jsut").main(["--root", str(tmp_path), "--out", str(tmp_path / "x.jsonl")])
