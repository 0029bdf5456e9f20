"""`SymbolInventory`: the map between phoneme symbols and token ids, saved with checkpoints."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tts.errors import ConfigError, UnknownSymbolError
from tts.labels import check_emotion, check_language
from tts.text import symbols as S


class SymbolInventory:
    """An ordered, versioned list of symbols; a symbol's id is its position.

    There is deliberately no "unknown" symbol: a symbol the model has never seen raises
    `UnknownSymbolError` instead of turning silently into noise.
    """

    def __init__(self, symbols: Sequence[str], version: int | str = S.INVENTORY_VERSION) -> None:
        symbols = tuple(symbols)
        duplicates = sorted(s for s, n in Counter(symbols).items() if n > 1)
        if duplicates:
            raise ConfigError(f"symbol inventory lists {duplicates} more than once")
        for special in S.SPECIAL_SYMBOLS:
            if special not in symbols:
                raise ConfigError(f"symbol inventory lacks the special symbol {special!r}")
        self.symbols: tuple[str, ...] = symbols
        self.version = version
        self._ids: dict[str, int] = {s: i for i, s in enumerate(symbols)}

    @classmethod
    def default(cls) -> SymbolInventory:
        """The inventory of this version of the front end (`tts.text.symbols.ALL_SYMBOLS`)."""
        return cls(S.ALL_SYMBOLS, S.INVENTORY_VERSION)

    def __len__(self) -> int:
        return len(self.symbols)

    def __contains__(self, symbol: object) -> bool:
        return symbol in self._ids

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SymbolInventory):
            return NotImplemented
        return self.symbols == other.symbols and self.version == other.version

    def __hash__(self) -> int:
        return hash((self.symbols, self.version))

    def __repr__(self) -> str:
        return f"SymbolInventory(version={self.version!r}, size={len(self)})"

    @property
    def pad_id(self) -> int:
        return self._ids[S.PAD]

    @property
    def bos_id(self) -> int:
        return self._ids[S.BOS]

    @property
    def eos_id(self) -> int:
        return self._ids[S.EOS]

    def id_of(self, symbol: str) -> int:
        try:
            return self._ids[symbol]
        except KeyError:
            raise UnknownSymbolError([symbol]) from None

    def encode(self, symbols: Iterable[str], context: str = "") -> list[int]:
        """Symbols to ids; every unknown symbol is reported at once, none is dropped."""
        symbols = list(symbols)
        ids = [self._ids.get(s, -1) for s in symbols]
        if -1 in ids:
            raise UnknownSymbolError(
                [s for s, i in zip(symbols, ids, strict=True) if i < 0], context
            )
        return ids

    def decode(self, ids: Iterable[int]) -> list[str]:
        ids = list(ids)
        bad = [i for i in ids if not (isinstance(i, int) and 0 <= i < len(self.symbols))]
        if bad:
            raise UnknownSymbolError(
                [f"<id {i}>" for i in bad], f"ids outside 0..{len(self.symbols) - 1}"
            )
        return [self.symbols[i] for i in ids]

    def language_token(self, language: str) -> str:
        return f"<lang:{check_language(language)}>"

    def emotion_token(self, emotion: str) -> str:
        return f"<emo:{check_emotion(emotion)}>"

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "symbols": list(self.symbols)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SymbolInventory:
        if not isinstance(data, Mapping) or "symbols" not in data or "version" not in data:
            raise ConfigError("a symbol inventory dict needs 'version' and 'symbols'")
        symbols = data["symbols"]
        if not isinstance(symbols, list) or not all(isinstance(s, str) for s in symbols):
            raise ConfigError("'symbols' of a symbol inventory must be a list of strings")
        return cls(symbols, data["version"])

    def save(self, path: str | Path) -> None:
        text = json.dumps(self.to_dict(), ensure_ascii=False, indent=1)
        Path(path).write_text(text + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> SymbolInventory:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
