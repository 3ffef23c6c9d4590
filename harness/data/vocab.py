"""Vocabulary: tokens to ids and back, with the contract's special ids.

Ids 0–3 are always ``<pad>``, ``<bos>``, ``<eos>``, ``<unk>`` (CONTRACT.md; said once, in
``harness/runtime/tokens.py``). The other tokens come from the training split only, most frequent
first; ties are broken by the token's text (Unicode order), so the same training tokens always give
the same ids.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ..runtime.tokens import BOS, EOS, PAD, SPECIALS, UNK

__all__ = ["Vocabulary", "PAD", "BOS", "EOS", "UNK", "SPECIALS"]


@dataclass
class Vocabulary:
    """``tokens[i]`` is the token with id ``i``; ``tokens[:4]`` are the specials."""

    tokens: list[str]
    index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self):
        if tuple(self.tokens[:4]) != SPECIALS:
            raise ValueError(f"a vocabulary starts with {SPECIALS}, not {tuple(self.tokens[:4])}")
        if len(set(self.tokens)) != len(self.tokens):
            raise ValueError("a vocabulary lists each token once")
        self.index = {t: i for i, t in enumerate(self.tokens)}

    @classmethod
    def build(cls, sequences: Iterable[Sequence[str]], max_size: int | None = None,
              min_count: int = 1) -> "Vocabulary":
        """From the training split's token sequences.

        ``max_size`` counts the four specials (it is the ``vocab_size`` a model is built with);
        ``None`` keeps every token seen at least ``min_count`` times.
        """
        if max_size is not None and max_size < len(SPECIALS):
            raise ValueError(f"max_size must be at least {len(SPECIALS)} (the specials), not {max_size}")
        if min_count < 1:
            raise ValueError(f"min_count must be >= 1, not {min_count}")
        counts = Counter(t for seq in sequences for t in seq if t not in SPECIALS)
        ranked = sorted((item for item in counts.items() if item[1] >= min_count),
                        key=lambda item: (-item[1], item[0]))
        if max_size is not None:
            ranked = ranked[: max_size - len(SPECIALS)]
        return cls(list(SPECIALS) + [t for t, _ in ranked])

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: str) -> bool:
        return token in self.index

    def id(self, token: str) -> int:
        return self.index.get(token, UNK)

    def encode(self, tokens: Sequence[str], bos: bool = False, eos: bool = False) -> list[int]:
        """Ids of ``tokens``, unknown ones as ``<unk>``; optionally framed by ``<bos>``/``<eos>``."""
        ids = [self.index.get(t, UNK) for t in tokens]
        return ([BOS] if bos else []) + ids + ([EOS] if eos else [])

    def decode(self, ids: Iterable[int], stop_at_eos: bool = True, keep_special: bool = False) -> list[str]:
        """Tokens of ``ids``: padding and ``<bos>`` dropped, cut at the first ``<eos>`` by default.

        ``<unk>`` is kept (it is a prediction like any other); ``keep_special=True`` keeps everything.
        """
        out = []
        for i in ids:
            i = int(i)
            if stop_at_eos and i == EOS:
                break
            if not keep_special and i in (PAD, BOS, EOS):
                continue
            out.append(self.tokens[i] if 0 <= i < len(self.tokens) else SPECIALS[UNK])
        return out

    def to_dict(self) -> dict:
        return {"tokens": list(self.tokens)}

    @classmethod
    def from_dict(cls, data: dict) -> "Vocabulary":
        return cls(list(data["tokens"]))
