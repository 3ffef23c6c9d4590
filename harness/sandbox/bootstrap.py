"""What a worker process starts from, cold or forked: its runtime copy, its environment, the installed packages on
its path. Imports nothing heavy (no torch), so that a fork server can be started before the judge imports torch,
and warm up while the judge does."""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

# What runs in the worker: this folder, copied whole next to the submission as the package RUNTIME_PACKAGE
# (its modules import only the standard library, torch, numpy, safetensors and each other), never
# imported from the checkout.
RUNTIME_DIR = Path(__file__).resolve().parents[1] / "runtime"
RUNTIME_PACKAGE = "_harness_runtime"


def _package_root() -> Path:
    return Path(__file__).resolve().parents[2]


def installed_paths() -> list[str]:
    """The entries of the judge's sys.path that hold installed packages: never its script directory or checkout."""
    import site

    root = str(_package_root())
    prefixes = {os.path.realpath(p) for p in (sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix)}
    site_dirs = set(site.getsitepackages()) | {site.getusersitepackages()}
    extra = []
    for entry in sys.path:
        real = os.path.realpath(entry) if entry else ""
        installed = (entry in site_dirs or os.path.basename(real) in ("site-packages", "dist-packages")
                     or any(real.startswith(p + os.sep) for p in prefixes))
        if installed and os.path.isdir(real) and not real.startswith(root + os.sep):
            extra.append(real)
    return extra


def install_runtime(root: Path, source: Path = RUNTIME_DIR) -> Path:
    """Copy the runtime folder ``source`` into ``root/RUNTIME_PACKAGE``, always fresh: the worker runs exactly the
    judge's version, and nothing a previous worker left there. Returns ``root``, the folder to put on sys.path."""
    if root.is_symlink():
        root.unlink()
    elif root.exists():
        shutil.rmtree(root)
    shutil.copytree(source, root / RUNTIME_PACKAGE, ignore=shutil.ignore_patterns("__pycache__"))
    for path in (root, *root.rglob("*")):  # readable by the worker's uid
        path.chmod(0o755 if path.is_dir() else 0o644)
    return root


#: What the judge's environment says that the worker must agree with: the instruction set torch's kernels use
#: (an instructor reproducing an older machine's figures sets ATEN_CPU_CAPABILITY=default; judge and worker then
#: round alike). Nothing else of the judge's environment reaches the worker.
CARRIED = ("ATEN_CPU_CAPABILITY",)


def worker_environment(home: Path) -> dict:
    """The whole environment a worker (or the fork server that forks workers) gets: nothing of the judge's. Keras,
    should the submission import it, runs on torch, on the CPU, and keeps its keras.json in the scratch home
    (runtime/keras_models.py); setting these costs nothing to a submission that does not."""
    return {"KERAS_BACKEND": "torch", "KERAS_TORCH_DEVICE": "cpu", "KERAS_HOME": str(home / ".keras"),
            "PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "TMPDIR": str(home),
            "LANG": "C.UTF-8", "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1",
            "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
            "CUBLAS_WORKSPACE_CONFIG": ":4096:8", "MPLBACKEND": "Agg", "TORCHINDUCTOR_DETERMINISTIC": "1",
            **{name: os.environ[name] for name in CARRIED if name in os.environ}}
