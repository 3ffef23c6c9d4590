__version__ = "0.1.0"


def __getattr__(name: str):
    """``harness.check`` (see harness/notebook.py), imported on first use so that ``import harness`` stays light."""
    if name == "check":
        from .notebook import check

        return check
    raise AttributeError(f"module 'harness' has no attribute {name!r}")
