"""Fixtures shared across test folders."""

import pytest

from tts.synthesizer import Synthesizer, random_synthesizer


@pytest.fixture(scope="session")
def bundle_dir(tmp_path_factory):
    """A tiny random pipeline bundle (built once per session, only when a test asks)."""
    return random_synthesizer().save(tmp_path_factory.mktemp("bundle"))


@pytest.fixture(scope="session")
def synth(bundle_dir):
    return Synthesizer.from_pretrained(bundle_dir, device="cpu")
