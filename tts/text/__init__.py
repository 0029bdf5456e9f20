"""Multilingual text front end: normalisation, G2P, symbol inventory, sentence splitting.

from tts.text import TextFrontend
for chunk in TextFrontend(max_symbols=400).process("3時に会いましょう。", "ja"):
    print(chunk.text, chunk.symbols, chunk.ids)
"""

from tts.text.frontend import MAX_TEXT_CHARS, TextChunk, TextFrontend
from tts.text.g2p import phonemize, phonemize_many
from tts.text.inventory import SymbolInventory
from tts.text.normalize import normalize
from tts.text.sentences import split_sentences

__all__ = [
    "MAX_TEXT_CHARS",
    "SymbolInventory",
    "TextChunk",
    "TextFrontend",
    "normalize",
    "phonemize",
    "phonemize_many",
    "split_sentences",
]
