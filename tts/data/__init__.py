"""Training data: the JSONL manifest format, corpus importers, splits and statistics.

    from tts.data import read_manifest, write_manifest, ManifestEntry, split_manifest

The offline synthetic-corpus machinery (speech engines in `tts.data.engines`, emotional
prosody transforms in `tts.data.prosody`) is imported on demand, not here, because it pulls in
pyworld and the engines' packages.
"""

from tts.data.importers import audio_duration, import_kaldi_dir, import_ljspeech
from tts.data.manifest import (
    ManifestEntry,
    default_intensity,
    entry_from_dict,
    merge_manifests,
    read_manifest,
    write_manifest,
)
from tts.data.splits import filter_by_duration, split_manifest
from tts.data.stats import format_summary, plot_summary, summarize

__all__ = [
    "ManifestEntry",
    "audio_duration",
    "default_intensity",
    "entry_from_dict",
    "filter_by_duration",
    "format_summary",
    "import_kaldi_dir",
    "import_ljspeech",
    "merge_manifests",
    "plot_summary",
    "read_manifest",
    "split_manifest",
    "summarize",
    "write_manifest",
]
