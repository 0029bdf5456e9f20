import codecs
import subprocess
import sys
from pathlib import Path

import tts
import tts.codecs
import tts.speakers
from tts.cli import main

REPO = Path(__file__).resolve().parents[2]


def test_codecs_folder_is_tts_codecs_not_the_stdlib():
    assert Path(tts.codecs.__file__).parent == REPO / "codecs"
    assert Path(tts.speakers.__file__).parent == REPO / "speakers"
    # the standard library's codecs module must stay intact
    assert hasattr(codecs, "lookup") and "python3" in codecs.__file__


def test_stdlib_codecs_wins_even_from_repo_root():
    code = "import codecs, tts.codecs; print(codecs.__file__); print(tts.codecs.__file__)"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert "python3" in out[0] and out[1].endswith("codecs/__init__.py")


def test_console_script_help(capsys):
    assert main([]) == 0
    help_text = capsys.readouterr().out
    for command in ("synthesize", "serve", "demo", "train", "eval", "text", "doctor"):
        assert command in help_text


def test_doctor_reports_every_component_ok(capsys):
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "FAIL" not in out and "espeak-ng" in out and "encodec" in out


def test_version_exported():
    assert tts.__version__


def test_pass_through_commands_reach_their_own_parsers(capsys):
    for command, expected in [
        ("train", "--config"),
        ("tokenize", "--manifest"),
        ("finetune", "--bundle"),
        ("train-codec", "--preset"),
        ("serve", "--data-dir"),
        ("demo", "--share"),
        ("eval", "--manifest"),
    ]:
        try:
            code = main([command, "--help"])
        except SystemExit as done:  # argparse's own --help exit
            code = done.code
        assert code == 0
        assert expected in capsys.readouterr().out


def test_typed_errors_from_pass_through_commands_are_reported(tmp_path, capsys):
    missing = tmp_path / "no-model"
    assert main(["eval", "--model", str(missing), "--manifest", str(tmp_path / "m.jsonl")]) == 1
    assert "error:" in capsys.readouterr().err
