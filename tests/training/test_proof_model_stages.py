"""recipes/proof_model.sh: every stage its comments tell people to run can be run."""

from __future__ import annotations

import re
import subprocess

from trainkit import REPO

SCRIPT = REPO / "recipes" / "proof_model.sh"


def test_every_stage_named_in_the_script_is_dispatched():
    text = SCRIPT.read_text()
    named = set(re.findall(r"proof_model\.sh ([a-z_0-9]+)", text))
    case = text[text.rindex('\ncase "') :]
    dispatched = set(re.findall(r"^\s+([a-z_0-9]+)\) ", case, flags=re.MULTILINE))
    assert len(named) > 30 and "kokoro_en" in named
    assert named <= dispatched, sorted(named - dispatched)


def test_an_unknown_stage_prints_the_stages_and_fails():
    done = subprocess.run(["bash", str(SCRIPT), "no_such_stage"], capture_output=True, text=True)
    assert done.returncode != 0 and "proof_model.sh kokoro_en" in done.stdout + done.stderr
