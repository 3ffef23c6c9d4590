"""Seeded generators whose true distribution is known, so the best achievable figure is known too.

Each ``generate(...)`` returns its train/valid/test splits and an ``optimum`` dict computed exactly
from the generator. Examples are drawn i.i.d. from the generator (a test example may also occur
in training, as it would in a natural corpus); the same seed gives the same splits.
"""
