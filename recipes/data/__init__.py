"""Corpus preparers (one CLI per corpus) and the offline synthetic corpus builder.

    python -m recipes.data.jsut --root /data/jsut_ver1.1 --out manifests/jsut.jsonl
    python recipes/data/vctk.py --root /data/VCTK-Corpus-0.92 --out manifests/vctk.jsonl
    python recipes/data/synthetic.py --out data/synthetic --hours 2

Each preparer writes the canonical JSONL manifest of `tts.data.manifest`.
"""
