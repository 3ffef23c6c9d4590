"""What ``build_dataset`` returns: one dataclass per task family, tensors ready for the trainer.

Conventions (CONTRACT.md): batch_first; ids 0 <pad>, 1 <bos>, 2 <eos>, 3 <unk>. Every dataset has
``kind`` (the spec's ``[dataset].kind``), ``optimum`` (the best achievable figures where the
generator's distribution is known, else ``{}``), ``fingerprint`` (sha256 of the canonical
``[dataset]`` table, the data file's checksum and ``DATA_VERSION``: a cache key for baselines),
and ``preprocessing`` (the resolved preprocessing options, defaults filled in). The test split is
trusted-side data: hand a worker inputs only, never ``labels``/``targets``/``tgt_out``/``holdout``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from torch import Tensor

from .series import Scaler
from .vocab import PAD, Vocabulary

SPLITS = ("train", "valid", "test")


class _Splits:
    @property
    def splits(self) -> dict:
        return {name: getattr(self, name) for name in SPLITS}


@dataclass
class ClassificationSplit:
    ids: Tensor  # (N, T) long, padded with 0 as preprocessing.padding says ("pre" by default);
    # T = preprocessing.maxlen, or this split's longest text when maxlen is unset
    labels: Tensor  # (N,) long, index into class_names
    texts: list[str]  # the raw texts, for reports


@dataclass
class ClassificationData(_Splits):
    kind: str
    vocab: Vocabulary
    class_names: list[str]
    train: ClassificationSplit
    valid: ClassificationSplit
    test: ClassificationSplit
    optimum: dict
    fingerprint: str
    preprocessing: dict = field(default_factory=dict)
    family: str = "classification"


@dataclass
class LanguageModelSplit:
    """Layout "sentences": a row per sentence. Layout "windows" (harness.data.corpus): a row per window of the
    running text — inputs w_s … w_{s+T−1}, targets w_{s+1} … w_{s+T}, no <bos> or <eos>; a block's last window is
    post-padded — ``sentences`` holds one list, the block's tokens, and ``span`` the block's token range in the file."""

    inputs: Tensor  # (N, T) long: <bos> w1 … wn, post-padded with 0
    targets: Tensor  # (N, T) long: w1 … wn <eos>, post-padded with 0; a target of 0 is never scored
    sentences: list[list[str]]  # the tokens of each sentence (before the vocabulary), for reports
    span: tuple[int, int] | None = None  # layout "windows": [start, end) of the block's tokens in the whole text

    @property
    def n_tokens(self) -> int:
        """Scored tokens: every non-padding target (``<eos>`` and ``<unk>`` included)."""
        return int((self.targets != PAD).sum())


@dataclass
class LanguageModelData(_Splits):
    kind: str
    vocab: Vocabulary
    train: LanguageModelSplit
    valid: LanguageModelSplit
    test: LanguageModelSplit
    optimum: dict
    fingerprint: str
    preprocessing: dict = field(default_factory=dict)
    layout: str = "sentences"  # or "windows": fixed-length windows of running text (harness.data.corpus)
    family: str = "language_model"


@dataclass
class TranslationSplit:
    src: Tensor  # (N, S) long: source ids then <eos>, post-padded with 0
    tgt_in: Tensor  # (N, T) long: <bos> y1 … ym, post-padded (teacher forcing input)
    tgt_out: Tensor  # (N, T) long: y1 … ym <eos>, post-padded (what the decoder must predict)
    pairs: list[tuple[str, str]]  # raw (source, target) strings; targets are BLEU's references


@dataclass
class TranslationData(_Splits):
    kind: str
    src_vocab: Vocabulary
    tgt_vocab: Vocabulary
    train: TranslationSplit
    valid: TranslationSplit
    test: TranslationSplit
    optimum: dict
    fingerprint: str
    preprocessing: dict = field(default_factory=dict)
    family: str = "translation"


@dataclass
class SeriesData:
    kind: str
    months: list[str]  # "YYYY-MM" of every value
    values: np.ndarray  # (L,) float64, the whole series in original units
    train: np.ndarray  # (L − holdout,) original units
    holdout: np.ndarray  # (holdout,) original units: what forecasts are scored against
    scaler: Scaler  # fitted on ``train`` only
    window: int
    horizon: int
    X: Tensor  # (N, window, 1) float32: scaled training windows
    Y: Tensor  # (N, horizon) float32: the scaled values that follow each window
    forecast_input: Tensor  # (1, window, 1) float32: the last scaled training window
    optimum: dict
    fingerprint: str
    preprocessing: dict = field(default_factory=dict)
    season_length: int = 12
    signal: np.ndarray | None = None  # (L,) the noise-free signal of a synthetic series
    family: str = "series"

    @property
    def holdout_months(self) -> list[str]:
        return self.months[len(self.train):]
