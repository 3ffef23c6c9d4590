"""The answer key of the sequences task: the default course's reference implementations (reference_models/sequences.py)."""
from reference_models.sequences import *  # noqa: F401,F403
