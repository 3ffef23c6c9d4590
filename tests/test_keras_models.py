"""Keras 3 models as the modules the harness trains (harness/runtime/keras_models.py), and the worker's side of Keras.

A Keras model comes out of ``as_module`` with every weight a parameter before the first step, its dropout switched
by ``train()``/``eval()`` as a torch model's is, built the same from the same seed, and trained by the harness's own
loop. In the worker, Keras runs on torch and keeps its files in the scratch folder, and a submission that does not
import keras never loads it. A submission importing keras where it is not installed is told what is missing, what
the grader runs and how the instructor adds it. The verdicts of a whole Keras submission are in tests/test_verdicts.py
(``submissions/keras``).
"""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from harness.runtime import keras_models, ops, training
from harness.runtime.config import Limits
from harness.runtime.contract import ContractError
from harness.sandbox.launcher import Sandbox
from harness.sandbox.program import Program

from test_sandbox import LIMITS, make_submission, value

HAS_KERAS = importlib.util.find_spec("keras") is not None
needs_keras = pytest.mark.skipif(not HAS_KERAS, reason="keras is not installed here: pip install 'harness[keras]' "
                                 "(the test extra installs it)")


@pytest.fixture(scope="module")
def keras():
    """Keras on the torch backend, on the CPU, as the worker sets it (harness/sandbox/bootstrap.py)."""
    if not HAS_KERAS:
        pytest.skip("keras is not installed here: pip install 'harness[keras]' (the test extra installs it)")
    if "keras" not in sys.modules:
        os.environ.setdefault("KERAS_BACKEND", "torch")
        os.environ.setdefault("KERAS_TORCH_DEVICE", "cpu")
    import keras

    if keras.backend.backend() != "torch":
        pytest.skip(f"keras was imported on the {keras.backend.backend()} backend before these tests")
    return keras


def classifier(keras, dropout: float = 0.0):
    """A Sequential without an Input: Keras creates most of its weights on the first call."""
    layers = keras.layers
    return keras.Sequential([layers.Embedding(30, 8), layers.GRU(12), layers.Dropout(dropout), layers.Dense(2)])


def ids(n: int = 64, t: int = 6, seed: int = 0) -> torch.Tensor:
    return torch.randint(1, 30, (n, t), generator=torch.Generator().manual_seed(seed))


# --------------------------------------------------------------------------- as_module


def test_a_torch_module_or_anything_else_is_returned_as_it_is():
    module = torch.nn.Linear(3, 2)
    assert keras_models.as_module(module, torch.zeros(1, 3)) is module
    assert keras_models.as_module("not a model") == "not a model"
    assert keras_models.source_module(module) == "torch.nn.modules.linear"


def test_every_weight_is_a_parameter_before_the_first_step(keras):
    model = classifier(keras)
    before = sum(p.numel() for p in model.parameters() if p.requires_grad)
    wrapped = keras_models.as_module(model, ids(4))
    trainable = sum(p.numel() for p in wrapped.parameters() if p.requires_grad)
    assert before < trainable == model.count_params()  # the GRU's and Dense's weights exist only after a call
    assert all(p.dtype == torch.float32 for p in wrapped.parameters() if p.requires_grad)
    dropped = keras_models.as_module(classifier(keras, dropout=0.5), ids(4))  # its seed state is an int parameter
    assert ops.OPS["count_parameters"](dropped) == dropped.keras_model.count_params()  # what model.summary() says
    out = wrapped(ids(3))
    assert isinstance(out, torch.Tensor) and out.shape == (3, 2) and out.device.type == "cpu"


def test_train_and_eval_switch_keras_dropout_as_a_torch_models(keras):
    wrapped = keras_models.as_module(classifier(keras, dropout=0.5), ids(4))
    x = ids(8)
    wrapped.train()
    assert not torch.equal(wrapped(x), wrapped(x))  # dropout draws a new mask on each call
    wrapped.eval()
    assert torch.equal(wrapped(x), wrapped(x))
    # called directly, a Keras model ignores torch's flag: what the wrapper is for
    inner = wrapped.keras_model
    inner.train()
    assert torch.equal(inner(x), inner(x))


def test_the_same_seed_builds_the_same_keras_model(keras):
    """The harness seeds before build_model (the op manual_seed): Keras draws its layers' seeds from Python's
    generator, which that op seeds too, so both sides of a grade train the same model."""
    def built(seed):
        ops.OPS["manual_seed"](seed)
        return keras_models.as_module(classifier(keras), ids(4))

    x = ids(5)
    assert torch.equal(built(7)(x), built(7)(x))
    assert not torch.equal(built(7)(x), built(8)(x))


def test_the_harness_recipe_trains_a_keras_model(keras):
    x = ids(128)
    y = (x[:, -1] > 15).long()  # the class is the last token's half: a GRU reading left to right can learn it
    ops.OPS["manual_seed"](3)
    model = keras_models.as_module(classifier(keras, dropout=0.2), x[:4])
    recipe = {"seed": 3, "lr": 0.02, "batch_size": 32, "epochs": 8, "clip": 1.0, "loss": "classes"}
    report = training.train(model, {"x": x, "y": y}, recipe)
    assert report["stopped"] == "completed" and report["epoch_losses"][-1] < 0.5 * report["epoch_losses"][0]
    accuracy = (training.predict(model, [x]).argmax(-1) == y).double().mean()
    assert accuracy > 0.9 and not model.training  # predict runs in eval mode: no dropout


def test_early_stopping_puts_a_keras_models_best_epoch_back(keras):
    """The recipe's RMSprop and early stopping (runtime/recipe.py) on a Keras model: the best epoch's weights, saved
    and loaded through the module's state_dict, are the Keras variables the model computes with."""
    x = ids(192)
    y = (x[:, -1] > 15).long()
    y[::3] = 1 - y[::3]  # noisy labels, so that a long training overfits the training rows
    ops.OPS["manual_seed"](4)
    model = keras_models.as_module(classifier(keras), x[:4])
    recipe = {"seed": 4, "lr": 0.05, "batch_size": 16, "epochs": 12, "clip": 1.0, "loss": "classes",
              "optimizer": {"kind": "rmsprop"}, "early_stopping": {"patience": 2}}
    valid = {"x": x[128:], "y": y[128:]}
    report = training.train(model, {"x": x[:128], "y": y[:128]}, recipe, valid)
    kept = report["epoch_kept"]
    assert report["stopped"] == "early stopping" and kept < report["epochs_done"]
    best = min(report["valid_losses"])
    assert report["valid_losses"][kept - 1] == best
    assert training.validation_loss(model, valid, "classes", 16) == pytest.approx(best, rel=1e-6)


def test_a_masked_keras_language_model_is_causal_and_trains_on_the_token_loss(keras):
    """Embedding(mask_zero=True), as course notebooks pad: the recurrent layer skips the padding (0, at the end)."""
    layers = keras.layers
    ops.OPS["manual_seed"](2)
    lm = keras.Sequential([layers.Embedding(30, 8, mask_zero=True), layers.GRU(12, return_sequences=True),
                           layers.Dense(30)])
    x = ids(96, 8)
    x[:, 6:] = 0
    model = keras_models.as_module(lm, x[:4])
    report = training.train(model, {"x": x[:, :-1], "y": x[:, 1:]},
                            {"seed": 2, "lr": 0.02, "batch_size": 32, "epochs": 2, "clip": 1.0, "loss": "tokens"})
    assert report["stopped"] == "completed" and report["epoch_losses"][-1] < report["epoch_losses"][0]
    changed = x[:4].clone()
    changed[:, 4:] = 5
    model.eval()
    with torch.no_grad():
        assert torch.allclose(model(x[:4])[:, :4], model(changed)[:, :4])  # position t reads tokens up to t only
        assert not torch.allclose(model(x[:4])[:, 4:6], model(changed)[:, 4:6])


def test_a_functional_model_of_two_inputs_takes_them_as_the_harness_passes_them(keras):
    layers = keras.layers
    src, tgt = keras.Input(shape=(None,), dtype="int64"), keras.Input(shape=(None,), dtype="int64")
    summary = layers.GlobalAveragePooling1D()(layers.Embedding(30, 8)(src))
    steps = layers.Embedding(30, 8)(tgt)
    logits = layers.Dense(30)(steps + layers.Reshape((1, 8))(summary))
    wrapped = keras_models.as_module(keras.Model([src, tgt], logits), ids(2, 5), ids(2, 4))
    assert wrapped(ids(3, 5), ids(3, 4)).shape == (3, 4, 30)  # model(src, tgt_in), as translation calls it


def test_a_subclassed_keras_model_keeps_its_attributes_and_its_file(keras):
    class Tagger(keras.Model):
        def __init__(self):
            super().__init__()
            self.embed, self.out = keras.layers.Embedding(30, 4), keras.layers.Dense(3)
            self.attention = None

        def call(self, x, training=False):
            h = self.embed(x)
            self.attention = h.sum(-1)
            return self.out(h)

    wrapped = keras_models.as_module(Tagger(), ids(2))
    wrapped(ids(3))
    assert wrapped.attention.shape == (3, 6)  # what the attention figure reads (training.attention_maps)
    assert keras_models.source_module(wrapped) == __name__  # errors are located in the student's file
    assert keras_models.source_module(keras_models.as_module(classifier(keras), ids(2))) == ""  # Keras's own class


def test_an_error_in_a_keras_layers_call_is_described_without_terminal_escapes(keras):
    """Keras re-raises an error of a layer's call with its message in bold escape sequences: the description the
    worker sends (runtime/failures.py) keeps the words and the student's line, not the escapes."""
    from harness.runtime.failures import describe_exception

    class Reshaper(keras.Model):
        def call(self, x, training=False):
            return x.reshape(7, -1)  # a fixed batch size

    try:
        keras_models.as_module(Reshaper(), ids(4))
    except Exception as exc:  # noqa: BLE001 - what the worker catches
        raw, info = str(exc), describe_exception(exc, os.path.dirname(__file__))
    assert "\x1b" in raw and "\x1b" not in info["message"]
    assert "shape '[7, -1]' is invalid for input of size 24" in info["message"]
    assert info["file"] == Path(__file__).name and info["code"].strip().startswith("return x.reshape(7, -1)")


def test_a_keras_model_of_another_backend_says_what_to_remove(keras, monkeypatch):
    model = classifier(keras)
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    with pytest.raises(ContractError, match=r"Keras model of the jax backend; .*do not set KERAS_BACKEND"):
        keras_models.as_module(model, ids(2))


# --------------------------------------------------------------------------- in the worker


TORCH_MODULE = '''
import sys
import torch

def build_model(vocab_size, num_classes):
    return torch.nn.Sequential(torch.nn.Embedding(vocab_size, 4), torch.nn.Flatten(), torch.nn.Linear(24, num_classes))

def keras_loaded():
    return sorted(name for name in sys.modules if name == "keras" or name.startswith("keras."))[:1]
'''

KERAS_MODULE = TORCH_MODULE + '''
import os
import keras

def build_keras(vocab_size, num_classes):
    return keras.Sequential([keras.layers.Embedding(vocab_size, 4), keras.layers.Flatten(), keras.layers.Dense(num_classes)])

def keras_setup():
    home = os.environ["KERAS_HOME"]
    return {"backend": keras.backend.backend(), "KERAS_HOME": home, "json": os.path.isfile(os.path.join(home, "keras.json")),
            "device": os.environ["KERAS_TORCH_DEVICE"]}
'''


def built_in_worker(tmp_path: Path, code: str, builder: str) -> tuple[dict, Path]:
    """Build ``cells.<builder>``'s model in a worker as a trained task's program does (seed, build, as_module), and
    return its parameter count and output with what keras the worker has loaded, and the scratch folder."""
    sub, scratch = make_submission(tmp_path, code)
    p = Program()
    p.op("manual_seed", 5)
    model = p.op("as_module", p.call(f"cells.{builder}", 30, 2), torch.ones(2, 6, dtype=torch.long))
    p.result({"parameters": p.op("count_parameters", model), "output": p.method(model, "__call__", ids(3)),
              "loaded": p.call("cells.keras_loaded")})
    with Sandbox(sub, scratch, Limits(**{**LIMITS, "load_timeout_s": 120, "timeout_s": 60})) as sb:
        assert sb.load("cells", "cells.py").header["ok"]
        got = value(sb.run(p.to_json(), p.inputs))
        if "keras_setup" in code:
            q = Program()
            q.result(q.call("cells.keras_setup"))
            got["setup"] = value(sb.run(q.to_json(), q.inputs))
    return got, scratch


@needs_keras
def test_an_answer_key_in_keras_is_imported_on_torch_in_the_judge(tmp_path):
    """The judge, started without KERAS_BACKEND, imports a task's answer key written in Keras on torch (Keras's
    own default is TensorFlow, which the harness does not install): the answer key builds a model the harness
    can train."""
    folder = tmp_path / "tasks" / "reviews"
    folder.mkdir(parents=True)
    (folder / "answer_key.py").write_text(
        "import keras\n\ndef build_model(vocab_size, num_classes):\n"
        "    return keras.Sequential([keras.layers.Embedding(vocab_size, 8), keras.layers.GRU(4),"
        " keras.layers.Dense(num_classes)])\n")
    script = ("import sys; from pathlib import Path; from harness.course import task_python\n"
              "from harness.runtime.keras_models import as_module\nimport torch\n"
              "key = task_python(Path(sys.argv[1]), 'answer_key.py')\n"
              "model = as_module(key.build_model(30, 2), torch.ones(2, 5, dtype=torch.long))\n"
              "print(key.keras.backend.backend(), tuple(model(torch.ones(3, 5, dtype=torch.long)).shape),"
              " isinstance(model, torch.nn.Module))\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KERAS_")}
    env["KERAS_HOME"] = str(tmp_path / "keras_home")
    done = subprocess.run([sys.executable, "-c", script, str(folder)], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split("\n")[-2] == "torch (3, 2) True"


def test_the_worker_never_loads_keras_for_a_torch_submission(tmp_path):
    got, _ = built_in_worker(tmp_path, TORCH_MODULE, "build_model")
    assert got["loaded"] == []
    assert got["parameters"] == 30 * 4 + 24 * 2 + 2 and tuple(got["output"].shape) == (3, 2)


@needs_keras
def test_in_the_worker_keras_runs_on_torch_with_its_files_in_the_scratch_folder(tmp_path):
    got, scratch = built_in_worker(tmp_path, KERAS_MODULE, "build_keras")
    assert got["loaded"] == ["keras"]  # the control: the probe sees keras when the submission imports it
    assert got["parameters"] == 30 * 4 + 24 * 2 + 2 and tuple(got["output"].shape) == (3, 2)
    setup = got["setup"]
    assert setup["backend"] == "torch" and setup["device"] == "cpu" and setup["json"]
    assert Path(setup["KERAS_HOME"]).resolve().is_relative_to(scratch.resolve())


# --------------------------------------------------------------------------- where keras is not installed


def test_a_keras_import_where_keras_is_missing_says_how_the_instructor_adds_it(monkeypatch):
    from harness import definitions
    from harness.submission import ModuleSource

    real = definitions.metadata.version

    def version(package):
        if package == "keras":
            raise definitions.metadata.PackageNotFoundError(package)
        return real(package)

    monkeypatch.setattr(definitions.metadata, "version", version)  # a grader without the extra
    source = ModuleSource(stem="sentiment", path=Path("sentiment.py"), kind="py")
    said = source.explain({"type": "ModuleNotFoundError", "message": "No module named 'keras'"})
    assert said.startswith("; keras is not installed where this is graded; the grader runs PyTorch ")
    assert "Keras" not in said and said.endswith("ask your instructor, who can add it to the grader with "
                                                  "pip install 'harness[keras]'")
    # tensorflow keeps issue 19's words: the harness offers no extra for it (docs/WRITING_TASKS.md says how to add it)
    said = source.explain({"type": "ModuleNotFoundError", "message": "No module named 'tensorflow.keras'"})
    assert said.endswith("code — ask your instructor") and "pip install" not in said


# --------------------------------------------------------------------------- graded: what the student reads


BLOCKS_KERAS = '''import importlib.abc
import sys


class NoKeras(importlib.abc.MetaPathFinder):
    """Stands for a grader without keras: its import fails as it does where keras is not installed."""

    def find_spec(self, name, path=None, target=None):
        if name == "keras" or name.startswith("keras."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, NoKeras())
'''

OTHER_BACKEND = '''import os

os.environ["KERAS_BACKEND"] = "jax"  # a notebook's choice of backend
'''


def graded_sentiment(tmp_path: Path, head: str):
    """submissions/keras/sentiment with ``head`` put before its code, graded live on the sentiment task."""
    from harness.grading import grade
    from test_verdicts import SUBMISSIONS, fast_specs, limits_of, overlay

    folder = overlay(SUBMISSIONS / "keras" / "sentiment", tmp_path / "submission")
    module = folder / "sentiment.py"
    module.write_text(head + module.read_text())
    return {c.id: c for c in grade(folder, fast_specs(["sentiment"], limits_of({"limits": {"load_timeout_s": 60}})))
            .checks}


def test_a_keras_import_where_keras_is_missing_is_told_so_on_every_check(tmp_path, monkeypatch):
    from harness import definitions

    real = definitions.metadata.version

    def version(package):
        if package == "keras":
            raise definitions.metadata.PackageNotFoundError(package)
        return real(package)

    monkeypatch.setattr(definitions.metadata, "version", version)  # the judge's side of a grader without keras
    checks = graded_sentiment(tmp_path, BLOCKS_KERAS)
    assert checks and all(c.status == "error" for c in checks.values())
    message = checks["sentiment.interface"].message
    assert "No module named 'keras'" in message and "sentiment.py, line " in message
    assert "keras is not installed where this is graded; the grader runs PyTorch" in message
    assert message.endswith("ask your instructor, who can add it to the grader with pip install 'harness[keras]'")


@needs_keras
def test_a_submission_choosing_another_keras_backend_is_told_what_the_grader_runs(tmp_path):
    """Keras imports the backend a notebook names; where it is not installed, that import fails and says what the
    grader runs (an installed backend other than torch is refused by as_module: the unit test above)."""
    checks = graded_sentiment(tmp_path, OTHER_BACKEND)
    assert checks and all(c.status == "error" for c in checks.values())
    message = checks["sentiment.interface"].message
    assert "No module named 'jax'" in message and "jax is not installed where this is graded" in message
    assert "Keras 3." in message  # the grader runs Keras (on torch): named beside PyTorch and numpy


FITS_ITSELF = '''
import numpy as np
import keras


def fit():
    """A notebook's own training: compile, fit with a callback on a validation split, as the course teaches."""
    x = np.random.default_rng(0).integers(1, 30, (320, 6))
    y = (x[:, -1] > 15).astype("int64")
    model = keras.Sequential([keras.layers.Embedding(30, 8), keras.layers.GRU(12), keras.layers.Dense(2)])
    model.compile(optimizer=keras.optimizers.RMSprop(0.01),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    history = model.fit(x[:256], y[:256], validation_data=(x[256:], y[256:]), epochs=12, batch_size=32,
                        callbacks=[stop], verbose=0)
    return model, len(history.history["loss"])
'''


@needs_keras
def test_a_model_trained_by_keras_fit_in_the_worker_is_run_by_the_harness(tmp_path):
    """What a student-trained task's fit does with Keras: model.fit with its callbacks in the worker, then the
    harness predicts with the model it returned, through the same as_module."""
    sub, scratch = make_submission(tmp_path, FITS_ITSELF)
    x = ids(200, seed=1)
    p = Program()
    p.op("manual_seed", 5)
    fitted = p.call("cells.fit")
    model = p.op("as_module", p.op("index", fitted, 0), x[:4])
    p.result({"epochs": p.op("index", fitted, 1), "logits": p.op("predict", model, [x])})
    with Sandbox(sub, scratch, Limits(**{**LIMITS, "load_timeout_s": 120, "timeout_s": 120})) as sb:
        assert sb.load("cells", "cells.py").header["ok"]
        got = value(sb.run(p.to_json(), p.inputs))
    assert 1 <= got["epochs"] <= 12
    accuracy = (got["logits"].argmax(-1) == (x[:, -1] > 15).long()).double().mean()
    assert got["logits"].shape == (200, 2) and accuracy > 0.9
