"""Benchmark of Keras 3 submissions: what importing keras costs a worker, and what training a Keras model costs
beside the torch equivalent.

1. Import: a fresh worker (the sandbox, cold start, the worker's environment: KERAS_BACKEND=torch, one thread)
   imports keras inside a call, ``--repeats`` times; prints the seconds and the resident memory it adds, beside a
   worker that does not import it (what a torch submission pays: nothing, runtime/keras_models.py never imports
   keras).
2. Training: the sentiment task's data and recipe (6 epochs, Adam, lr 0.005, batch 64, clip 1), trained by the
   harness's own loop (runtime/training.train) in this process on one thread, for the same architecture twice:
   submissions/reference/sentiment.py's torch model (Embedding 32, LSTM 64, Linear) and
   submissions/keras/sentiment/sentiment.py's Keras one (Embedding 32, LSTM 64, Dense). Prints wall and CPU
   seconds and the test accuracy of each. (torch's LSTM has two bias vectors per gate where Keras's has one: 256
   parameters more, the same model otherwise.)
3. The student's own training (the sentiment_fit task, ``[training] by = "student"``): the fit of
   submissions/reference/sentiment_fit.py (a torch loop: DataLoader, Adam, 6 epochs) and that of
   submissions/keras/sentiment_fit/sentiment_fit.py (compile and ``model.fit`` with early stopping, at most 8 epochs),
   the same architecture, each called in this process as the worker calls it (harness/runtime/fitting.py, a budget
   without a limit) on one thread. Prints wall and CPU seconds, the epochs each trained, the CPU seconds per epoch,
   and the accuracy of its predictor on the public test split.

    python bench/bench_keras.py [--repeats 3]
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.update({"KERAS_BACKEND": "torch", "KERAS_TORCH_DEVICE": "cpu"})  # as the worker's environment

import torch  # noqa: E402

from harness.checks.trained import family_of  # noqa: E402
from harness.runtime import fitting, keras_models, ops, randomness, training  # noqa: E402
from harness.runtime.config import Limits  # noqa: E402
from harness.sandbox.launcher import Sandbox  # noqa: E402
from harness.sandbox.program import Program  # noqa: E402
from harness.spec import load_tasks  # noqa: E402

PROBE = '''
import sys, time

def rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")

def import_keras(really):
    before, start = rss_mb(), time.perf_counter()
    if really:
        import keras
    return {"seconds": time.perf_counter() - start, "added_mb": rss_mb() - before,
            "loaded": "keras" in sys.modules}
'''


def import_cost(really: bool, repeats: int) -> list[dict]:
    """``import keras`` (or nothing) timed inside a fresh worker, ``repeats`` times."""
    runs = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(prefix="harness-bench-keras-") as tmp:
            sub, scratch = Path(tmp) / "submission", Path(tmp) / "scratch"
            sub.mkdir()
            scratch.mkdir()
            (sub / "probe.py").write_text(textwrap.dedent(PROBE))
            with Sandbox(sub, scratch, Limits(timeout_s=120, load_timeout_s=120)) as sb:
                assert sb.load("probe", "probe.py").header["ok"]
                p = Program()
                p.result(p.call("probe.import_keras", really))
                reply = sb.run(p.to_json(), p.inputs)
                assert reply.header["ok"], reply.header
                runs.append(reply.value)
    return runs


def load_module(path: Path):
    """A submission's module, its own folder first on the path as in the worker (sentiment_fit.py imports its
    sentiment.py, not another submission's)."""
    for sibling in path.parent.glob("*.py"):
        sys.modules.pop(sibling.stem, None)
    sys.path.insert(0, str(path.parent))
    try:
        spec = importlib.util.spec_from_file_location(f"bench_{path.parent.name}_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    return module


def train_one(build_model, spec, data) -> dict:
    """The harness's recipe of ``spec`` on ``build_model``'s model: wall and CPU seconds, test accuracy."""
    fam = family_of(spec)
    recipe = {k: v for k, v in spec.training.items() if k not in ("bounds", "cpu_budget_s")}
    ops.OPS["manual_seed"](spec.seed)
    model = keras_models.as_module(build_model(*fam.build_args(data)), *fam.probe_inputs(data))
    report = training.train(model, fam.training_data(data), {**recipe, "loss": fam.loss, "seed": spec.seed})
    logits = training.predict(model, [data.test.ids])
    accuracy = float((logits.argmax(-1) == data.test.labels).double().mean())
    return {"seconds": report["seconds"], "cpu_seconds": report["cpu_seconds"], "epochs": report["epochs_done"],
            "accuracy": accuracy, "parameters": sum(p.numel() for p in model.parameters() if p.requires_grad)}


def fit_one(fit, spec, data) -> dict:
    """A student's ``fit`` called as the worker calls it (seeded generators, a budget without a limit): wall and CPU
    seconds, the epochs it trained, the accuracy of its predictor on the test split."""
    from harness.checks.fitted import fit_splits, output_template

    fam = family_of(spec)
    train, valid = fit_splits(fam, data)
    randomness.OPS["seed_globals"](spec.seed)
    name = f"bench:{spec.name}"
    record = fitting.fit(fit, train, valid, name)
    predictor = fitting.KEPT.pop(name)["predictor"]
    history = getattr(predictor, "history", None)  # a Keras model trained by model.fit keeps its History
    epochs = len(history.epoch) if history is not None else None
    with torch.no_grad():  # as the op kept calls it
        logits = training.predict(fitting.Predictor(predictor, output_template(fam, data), fam.output), [data.test.ids])
    accuracy = float((logits.argmax(-1) == data.test.labels).double().mean())
    return {"seconds": record["seconds"], "cpu_seconds": record["cpu_seconds"], "epochs": epochs,
            "accuracy": accuracy}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)  # as the worker (OMP_NUM_THREADS=1)

    print(f"keras import in a fresh worker (cold start), {args.repeats} workers each:")
    for really, label in ((False, "torch submission (keras not imported)"), (True, "import keras")):
        runs = import_cost(really, args.repeats)
        assert all(r["loaded"] == really for r in runs), runs
        seconds = [r["seconds"] for r in runs]
        added = [r["added_mb"] for r in runs]
        print(f"  {label:40s} {statistics.median(seconds):6.2f} s (min {min(seconds):.2f}, max {max(seconds):.2f})"
              f"   +{statistics.median(added):5.0f} MB resident")

    spec = load_tasks(names=["sentiment"])[0]
    data = spec.data_for("public")
    print(f"\ntraining on the sentiment task's data ({data.train.ids.shape[0]} reviews), its recipe "
          f"({spec.training['epochs']} epochs, lr {spec.training['lr']}, batch {spec.training['batch_size']}), "
          "the harness's loop, one thread:")
    models = {"torch (submissions/reference)": ROOT / "submissions" / "reference" / "sentiment.py",
              "keras (submissions/keras)": ROOT / "submissions" / "keras" / "sentiment" / "sentiment.py"}
    for label, path in models.items():
        got = train_one(load_module(path).build_model, spec, data)
        print(f"  {label:32s} {got['seconds']:6.1f} s wall, {got['cpu_seconds']:6.1f} s CPU, {got['epochs']} epochs, "
              f"{got['parameters']:,} parameters, test accuracy {got['accuracy']:.3f}")

    spec = load_tasks(names=["sentiment_fit"])[0]
    data = spec.data_for("public")
    print(f"\nthe student's own fit on the sentiment_fit task's data ({data.train.ids.shape[0]} reviews), called as the "
          "worker calls it, one thread:")
    fits = {"torch loop (submissions/reference)": ROOT / "submissions" / "reference" / "sentiment_fit.py",
            "keras model.fit (submissions/keras)": ROOT / "submissions" / "keras" / "sentiment_fit" / "sentiment_fit.py"}
    for label, path in fits.items():
        got = fit_one(load_module(path).fit, spec, data)
        epochs = got["epochs"] if got["epochs"] is not None else 6  # the torch loop's own epochs (its default)
        print(f"  {label:36s} {got['seconds']:6.1f} s wall, {got['cpu_seconds']:6.1f} s CPU, {epochs} epochs "
              f"({got['cpu_seconds'] / epochs:.2f} s CPU each), test accuracy {got['accuracy']:.3f}")


if __name__ == "__main__":
    main()
