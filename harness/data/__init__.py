"""Data on the trusted side: datasets from a task's ``[dataset]`` table, tokenisers, vocabularies,
padding, series scaling and windows, seeded generators with a known optimum, real-data loaders.

The one entry point is ``build_dataset(table, spec_path)``; the dataclasses it returns are in
``harness.data.datasets``. Nothing here runs in the student's worker.
"""
from .build import DATA_VERSION, KINDS, build_dataset, fingerprint, resolve
from .datasets import (ClassificationData, ClassificationSplit, LanguageModelData, LanguageModelSplit, SeriesData,
                       TranslationData, TranslationSplit)
from .loaders import DataError
from .series import Scaler
from .vocab import BOS, EOS, PAD, SPECIALS, UNK, Vocabulary

__all__ = ["DATA_VERSION", "KINDS", "build_dataset", "fingerprint", "resolve", "ClassificationData",
           "ClassificationSplit", "LanguageModelData", "LanguageModelSplit", "SeriesData", "TranslationData",
           "TranslationSplit", "DataError", "Scaler", "Vocabulary", "PAD", "BOS", "EOS", "UNK", "SPECIALS"]
