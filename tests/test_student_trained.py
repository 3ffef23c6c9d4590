"""Student-trained tasks ([training] by = "student"): the student's fit(train, valid, budget) trains in the worker,
its predictor is called on the test inputs only after fit has returned, and the judge computes every figure.

Each submission below is a fixture with the verdict it deserves beside it. Only the budget cases depend on time,
and they loop forever, so the budget always ends them however busy the machine is.
"""
from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from harness.grading import grade
from harness.spec import SpecError, load_spec

SPEC = """\
figures = ["reviews.confusion", "reviews.accuracy"]

[task]
name = "reviews"
title = "Reviews, trained by the student"
module = "reviews"
seed = 11

[interface]
names = ["fit"]

[interface.conventions]
fit = '''train and valid are dicts of torch tensors: x int64 (N, T) ids padded with 0 at the front, y int64 (N,)
class indices; train also holds vocab_size and num_classes. Return a predictor: called on ids (B, T), it returns
(B, num_classes) float logits, as a torch tensor or a numpy array.'''

[dataset]
kind = "synthetic-sentiment"
seed = 11
noise = 0.05
train_size = 400
valid_size = 100
test_size = 200

[training]
by = "student"
cpu_budget_s = {budget}

[limits]
cpu_s = {cpu_s}

[checks."reviews.fit"]
points = 1
[checks."reviews.learns"]
points = 1
[checks."reviews.accuracy"]
points = 4
"""

HIDDEN = """\
seed = 61403
[checks."reviews.accuracy"]
points = 4
"""

# the answer key's fit, and the model the good submissions share
MODEL = """\
import torch
from torch import nn


class Classifier(nn.Module):
    def __init__(self, vocab_size, num_classes, cell=nn.LSTM):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, 32, padding_idx=0)
        self.rnn = cell(32, 64, batch_first=True)
        self.out = nn.Linear(64, num_classes)

    def forward(self, ids):
        outputs, _ = self.rnn(self.embed(ids))
        return self.out(outputs[:, -1])


def train_epoch(model, opt, x, y):
    for i in range(0, len(x), 32):
        loss = nn.functional.cross_entropy(model(x[i:i + 32]), y[i:i + 32])
        opt.zero_grad()
        loss.backward()
        opt.step()
"""

ANSWER_KEY = MODEL + """

def fit(train, valid, budget):
    model = Classifier(train["vocab_size"], train["num_classes"])
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    for epoch in range(8):
        train_epoch(model, opt, train["x"], train["y"])
    return model
"""


def write_task(root: Path, budget: float, cpu_s: int = 600) -> Path:
    folder = root / "tasks" / "reviews"
    folder.mkdir(parents=True)
    (folder / "task.toml").write_text(SPEC.format(budget=budget, cpu_s=cpu_s))
    (folder / "hidden.toml").write_text(HIDDEN)
    (folder / "answer_key.py").write_text(ANSWER_KEY)
    return folder / "task.toml"


@pytest.fixture(scope="module")
def task(tmp_path_factory):
    return load_spec(write_task(tmp_path_factory.mktemp("roomy"), budget=120))


@pytest.fixture(scope="module")
def tight(tmp_path_factory):
    """A budget of 2 CPU seconds, and a worker whose hard CPU limit is 8 s (for a fit that silences the timer)."""
    return load_spec(write_task(tmp_path_factory.mktemp("tight"), budget=2, cpu_s=8))


def graded(spec, tmp_path: Path, code: str, visibility=("public",), module: str = "reviews",
           drawn: bool = False) -> dict:
    """The checks of ``code`` graded as the task's module, by id; ``drawn``: every figure drawn, none in error."""
    folder = tmp_path / "submission"
    folder.mkdir()
    (folder / f"{module}.py").write_text(code)
    results = grade(folder, [spec], visibility=visibility)
    if drawn:
        assert [f["id"] for f in results.figures] == spec.figures
        assert not [f for f in results.figures if "error" in (f.get("data") or {})], results.figures
    return {c.id: c for c in results.checks}


# --------------------------------------------------------------------------- what deserves to pass


def test_the_answer_keys_fit_passes_on_both_splits(task, tmp_path):
    checks = graded(task, tmp_path, ANSWER_KEY, visibility=("public", "after_due_date"), drawn=True)
    assert all(c.status == "passed" for c in checks.values()), {k: c.message for k, c in checks.items()}
    assert checks["reviews.fit"].message.startswith("fit returned a predictor after ")
    # the same code and seed as the reference: the same figures, on the public split and on the hidden one
    for view in ("reviews.accuracy", "reviews.accuracy.hidden"):
        numbers = checks[view].numbers
        assert numbers["accuracy"] == numbers["reference_model"] > 0.7, numbers


def test_a_gru_returned_as_a_numpy_function_passes(task, tmp_path):
    """Another architecture, trained otherwise, and a predictor that is a function returning numpy arrays."""
    code = MODEL + textwrap.dedent("""
    def fit(train, valid, budget):
        model = Classifier(train["vocab_size"], train["num_classes"], cell=nn.GRU)
        opt = torch.optim.RMSprop(model.parameters(), lr=0.003)
        x, y = train["x"].numpy(), train["y"].numpy()      # plain numpy works as well
        best, best_acc = None, -1.0
        for epoch in range(10):
            train_epoch(model, opt, torch.from_numpy(x), torch.from_numpy(y))
            with torch.no_grad():
                acc = (model(valid["x"]).argmax(-1) == valid["y"]).float().mean().item()
            if acc > best_acc:
                best_acc = acc
                budget.keep(model)
                best = budget.kept

        def predict(ids):
            with torch.no_grad():
                return best(ids).numpy()
        return predict
    """)
    checks = graded(task, tmp_path, code, drawn=True)
    assert {k: c.status for k, c in checks.items()} == dict.fromkeys(checks, "passed"), \
        {k: c.message for k, c in checks.items()}
    assert checks["reviews.accuracy"].numbers["accuracy"] > 0.7


def test_an_untrained_model_scores_low(task, tmp_path):
    code = MODEL + textwrap.dedent("""
    def fit(train, valid, budget):
        return Classifier(train["vocab_size"], train["num_classes"])
    """)
    checks = graded(task, tmp_path, code)
    assert checks["reviews.fit"].status == "passed"
    assert checks["reviews.learns"].status == "failed"
    assert "at the level of always predicting the majority class" in checks["reviews.learns"].message
    assert checks["reviews.accuracy"].points < 1.0
    assert "train longer in your fit" in checks["reviews.accuracy"].hint


def test_a_predictor_that_learned_its_training_rows_by_heart_is_told_it_overfits(task, tmp_path):
    """Perfect on the rows fit trained on, a coin toss elsewhere: training longer would not help, and the hint says
    what would (the training split's figure is in the numbers). An untrained model is still told to train longer."""
    code = textwrap.dedent("""
    import torch


    def fit(train, valid, budget):
        seen = {tuple(row.tolist()): int(label) for row, label in zip(train["x"], train["y"])}

        def predict(ids):
            logits = torch.zeros(len(ids), 2)
            for i, row in enumerate(ids):
                if tuple(row.tolist()) in seen:
                    logits[i, seen[tuple(row.tolist())]] = 10.0
            return logits
        return predict
    """)
    accuracy = graded(task, tmp_path, code)["reviews.accuracy"]
    assert accuracy.numbers["training_split"] == 1.0 and accuracy.numbers["accuracy"] < 0.7, accuracy.numbers
    assert accuracy.hint.startswith("on the training split fit was given, your model's accuracy is 1.000 (100% of the "
                                    "way): it has learned its training data rather than the task (it overfits)"), \
        accuracy.hint
    assert "train longer" not in accuracy.hint


def test_a_predictor_that_cannot_run_on_the_training_split_is_graded_on_the_test_split_alone(task, tmp_path):
    """The training split is scored only to word a hint, in a program of its own: a predictor that raises there (one
    sized to the validation rows' length, say) keeps every figure it earns on the test split, and only the hint
    about overfitting is lost."""
    code = textwrap.dedent("""
    import torch


    def fit(train, valid, budget):
        trained_on = {tuple(row.tolist()) for row in train["x"]}

        def predict(ids):
            if any(tuple(row.tolist()) in trained_on for row in ids):
                raise ValueError("this predictor was never meant for the training rows")
            return torch.zeros(len(ids), 2)
        return predict
    """)
    checks = graded(task, tmp_path, code)
    assert not [c for c in checks.values() if c.status == "error"], {k: c.message for k, c in checks.items()}
    assert checks["reviews.fit"].status == "passed"
    accuracy = checks["reviews.accuracy"]
    assert accuracy.status == "failed" and "training_split" not in accuracy.numbers
    assert "train longer in your fit" in accuracy.hint


# --------------------------------------------------------------------------- what fit returns


BAD_PREDICTORS = {
    "none": ("return None", "fit returned None; it must return the trained predictor"),
    "not callable": ("return {'model': 1}", "fit returned a dict; it must return the trained predictor"),
    "wrong shape": ("return lambda ids: torch.zeros(len(ids))",
                    "your predictor returned shape ({n},) for inputs ({n}, {t}); expected ({n}, 2)"),
    "class ids": ("return lambda ids: torch.zeros(len(ids), 2, dtype=torch.long)",
                  "your predictor returned int64 values; it must return floats"),
    "object array": ("return lambda ids: np.array([[None, 1.0]] * len(ids), dtype=object)",
                     "your predictor returned a numpy array of dtype object; it must return floats"),
    "huge": ("return lambda ids: torch.zeros(1, 1).expand(len(ids), 10**9)",
             "your predictor returned shape ({n}, 1000000000) for inputs ({n}, {t}); expected ({n}, 2)"),
}


@pytest.mark.parametrize("case", list(BAD_PREDICTORS))
def test_a_predictor_the_contract_does_not_allow_is_refused_saying_what_it_was(task, tmp_path, case):
    body, words = BAD_PREDICTORS[case]
    checks = graded(task, tmp_path, f"import numpy as np\nimport torch\n\n\ndef fit(train, valid, budget):\n    {body}\n")
    shape = tuple(task.data.test.ids.shape)
    words = words.format(n=shape[0], t=shape[1])
    assert checks["reviews.fit"].status == "failed", checks["reviews.fit"].message
    assert words in checks["reviews.fit"].message, checks["reviews.fit"].message
    assert checks["reviews.accuracy"].points == 0 and words in checks["reviews.accuracy"].message


def test_nan_logits_cost_the_figures_saying_how_many(task, tmp_path):
    checks = graded(task, tmp_path, textwrap.dedent("""\
        import torch


        def fit(train, valid, budget):
            return lambda ids: torch.full((len(ids), 2), float("nan"))
        """))
    assert checks["reviews.fit"].status == "passed"  # the outputs have the contract's shape and type
    assert checks["reviews.accuracy"].status == "failed"
    assert f"test logits: {2 * len(task.data.test.labels)} values are NaN or infinite" in checks["reviews.accuracy"].message


def test_a_fit_that_raises_is_reported_with_its_error(task, tmp_path):
    checks = graded(task, tmp_path, textwrap.dedent("""\
        def fit(train, valid, budget):
            return train["labels"]
        """))
    assert checks["reviews.fit"].status == "error"
    assert "KeyError: 'labels'" in checks["reviews.fit"].message


# --------------------------------------------------------------------------- the budget

FOREVER = MODEL + """
def fit(train, valid, budget):
    model = Classifier(train["vocab_size"], train["num_classes"])
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    while True:                      # never stops by itself: the budget ends it
        try:
            train_epoch(model, opt, train["x"], train["y"])
        except Exception:            # does not catch the budget's stop
            pass
        KEEP
"""


def test_a_fit_past_its_budget_is_graded_on_the_predictor_it_kept(tight, tmp_path):
    checks = graded(tight, tmp_path, FOREVER.replace("KEEP", "budget.keep(model)"))
    fit = checks["reviews.fit"]
    assert fit.status == "failed"
    assert fit.message.startswith("fit used its budget of 2 CPU seconds and was stopped; graded the predictor it "
                                  "kept at "), fit.message
    assert fit.numbers["graded"] == "kept" and fit.numbers["keeps"] >= 1
    accuracy = checks["reviews.accuracy"]
    assert accuracy.status in ("passed", "failed") and accuracy.numbers["accuracy"] > 0  # scored


def test_a_fit_past_its_budget_that_kept_nothing_gets_nothing_and_is_told_how_to_keep(tight, tmp_path):
    checks = graded(tight, tmp_path, FOREVER.replace("KEEP", "pass"))
    fit = checks["reviews.fit"]
    assert fit.status == "failed" and fit.points == 0
    assert fit.message == ("fit used its budget of 2 CPU seconds and was stopped; it kept no predictor, so nothing is "
                           "graded")
    assert "budget.keep(model)" in fit.hint
    for check in ("reviews.learns", "reviews.accuracy"):
        assert checks[check].points == 0 and checks[check].message.startswith("not scored: fit used its budget")


def test_a_fit_that_catches_the_budgets_stop_only_meets_the_hard_limit(tight, tmp_path):
    checks = graded(tight, tmp_path, textwrap.dedent("""\
        def fit(train, valid, budget):
            while True:
                try:
                    while True:
                        pass
                except BaseException:
                    budget.keep(lambda ids: None)
        """))
    fit = checks["reviews.fit"]
    assert fit.status == "error" and fit.points == 0
    # the hard limit that ends it: the process's own (SIGXCPU) or the worker tree's CPU budget, whichever the
    # machine's load lets come first
    assert re.search(r"CPU time limit|used more than 8 s of CPU time \(the task's limit", fit.message), fit.message
    assert "a fit that catches BudgetSpent" in fit.message, fit.message


# --------------------------------------------------------------------------- the spec


@pytest.mark.parametrize("training, words", [
    ('by = "students"', "[training].by: must be one of 'harness', 'student', got 'students'"),
    ('by = "student"\nepochs = 3', "[training].epochs: is the harness's recipe"),
    ('by = "student"\ncpu_budget_s = nan', "[training].cpu_budget_s: must be a finite number of CPU seconds, got nan"),
    ('by = "student"\ncpu_budget_s = 600', "[training].cpu_budget_s: is 600 CPU seconds, and the worker's hard limit "
                                           "([limits] cpu_s) is 600"),
])
def test_the_training_table_of_a_student_trained_task_is_checked(tmp_path, training, words):
    path = write_task(tmp_path, 60)
    text = path.read_text().replace('by = "student"\ncpu_budget_s = 60', training)
    path.write_text(text)
    with pytest.raises(SpecError) as refused:
        load_spec(path)
    assert words in str(refused.value)


def test_build_models_checks_are_refused_in_a_student_trained_task_and_fit_in_a_harness_trained_one(tmp_path):
    path = write_task(tmp_path, 60)
    text = path.read_text()
    path.write_text(text + '[checks."reviews.training"]\npoints = 1\n')
    with pytest.raises(SpecError, match=r'reviews.training.*does not have.*use \[checks."reviews.fit"\]'):
        load_spec(path)
    path.write_text(text.replace('figures = ["reviews.confusion"', 'figures = ["reviews.training"'))
    with pytest.raises(SpecError, match="figures: 'reviews.training' draws the loss of the harness's training"):
        load_spec(path)
    path.write_text(text.replace('by = "student"\n', "").replace("cpu_budget_s = 60\n", ""))
    with pytest.raises(SpecError, match=r'\[checks."reviews.fit"\]: unknown check id'):
        load_spec(path)


# --------------------------------------------------------------------------- cheats the hidden split and the probe defeat


def reviews_file_task(root: Path) -> Path:
    """The task on a data file: its public checks score the file's valid split (what fit is given as valid), its
    hidden ones the file's test split."""
    import csv

    from harness.data.synthetic.sentiment import generate

    corpus = generate(5, 500, 0, 0, noise=0.05)
    path = write_task(root, budget=120)
    with open(path.parent / "reviews.csv", "w", newline="") as out:
        rows = csv.writer(out)
        rows.writerow(["text", "label"])
        rows.writerows(zip(corpus.train.texts, corpus.train.labels.tolist()))
    table = 'kind = "csv-classification"\npath = "reviews.csv"\nseed = 3\n'
    text = path.read_text()
    start = text.index('kind = "synthetic-sentiment"')
    path.write_text(text[:start] + table + text[text.index("\n[training]"):])
    (path.parent / "hidden.toml").write_text(HIDDEN.replace("seed = 61403", "seed = 1"))
    return path


def test_a_fit_that_answers_the_validation_labels_it_was_given_is_found_out_by_the_hidden_split(tmp_path):
    """fit keeps valid's labels and returns them for any row it has seen there: on the public split of a data file,
    the valid split fit was given, it looks perfect; on the hidden split it has only its untrained model."""
    code = MODEL + textwrap.dedent("""
    def fit(train, valid, budget):
        model = Classifier(train["vocab_size"], train["num_classes"])
        seen = {tuple(row.tolist()): int(label) for row, label in zip(valid["x"], valid["y"])}

        def predict(ids):
            with torch.no_grad():
                logits = model(ids)
            for i, row in enumerate(ids):
                if tuple(row.tolist()) in seen:
                    logits[i] = torch.nn.functional.one_hot(torch.tensor(seen[tuple(row.tolist())]), 2) * 10.0
            return logits
        return predict
    """)
    spec = load_spec(reviews_file_task(tmp_path / "file"))
    checks = graded(spec, tmp_path, code, visibility=("public", "after_due_date"))
    assert checks["reviews.accuracy"].numbers["accuracy"] == 1.0
    assert checks["reviews.accuracy.hidden"].numbers["accuracy"] < 0.7
    assert checks["reviews.accuracy.hidden"].points < checks["reviews.accuracy.hidden"].max_points / 2


LM_SPEC = """\
figures = ["words.perplexity", "words.samples"]

[task]
name = "words"
title = "Next word, trained by the student"
module = "words"
seed = 12

[interface]
names = ["fit"]

[dataset]
kind = "synthetic-grammar"
seed = 12
train_size = 300
valid_size = 60
test_size = 100

[training]
by = "student"
cpu_budget_s = 120

[checks."words.fit"]
points = 1
[checks."words.causal"]
points = 2
[checks."words.perplexity"]
points = 5
"""

LM_KEY = """\
import torch
from torch import nn


class WordLM(nn.Module):
    def __init__(self, vocab_size):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, 32, padding_idx=0)
        self.rnn = nn.GRU(32, 64, batch_first=True)
        self.out = nn.Linear(64, vocab_size)

    def forward(self, ids):
        return self.out(self.rnn(self.embed(ids))[0])


def fit(train, valid, budget):
    model = WordLM(train["vocab_size"])
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    x, y = train["x"], train["y"]
    for epoch in range(6):
        for i in range(0, len(x), 32):
            logits = model(x[i:i + 32])
            loss = nn.functional.cross_entropy(logits.flatten(0, 1), y[i:i + 32].flatten(), ignore_index=0)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model
"""


@pytest.fixture(scope="module")
def words(tmp_path_factory):
    folder = tmp_path_factory.mktemp("words") / "tasks" / "words"
    folder.mkdir(parents=True)
    (folder / "task.toml").write_text(LM_SPEC)
    (folder / "answer_key.py").write_text(LM_KEY)
    return load_spec(folder / "task.toml")


def graded_lm(spec, tmp_path: Path, code: str, drawn: bool = False) -> dict:
    return graded(spec, tmp_path, code, module="words", drawn=drawn)


def test_a_student_trained_language_model_is_causal_and_scored(words, tmp_path):
    checks = graded_lm(words, tmp_path, LM_KEY, drawn=True)
    assert {k: c.status for k, c in checks.items()} == dict.fromkeys(checks, "passed"), \
        {k: c.message for k, c in checks.items()}
    assert checks["words.perplexity"].numbers["perplexity"] == checks["words.perplexity"].numbers["reference_model"]


def test_a_predictor_that_reads_the_next_token_fails_causal_and_earns_no_perplexity(words, tmp_path):
    """Near-perfect perplexity from the input itself: logits that point at the token after each position."""
    code = textwrap.dedent("""
    import torch


    def fit(train, valid, budget):
        vocab = train["vocab_size"]

        def predict(ids):
            following = torch.cat([ids[:, 1:], torch.zeros_like(ids[:, :1])], dim=1)
            following[following == 0] = 2  # after the last word: <eos>
            return torch.nn.functional.one_hot(following, vocab).float() * 20.0
        return predict
    """)
    checks = graded_lm(words, tmp_path, code)
    assert checks["words.fit"].status == "passed"
    assert checks["words.causal"].status == "failed"
    assert "the model looks at future tokens" in checks["words.causal"].message
    perplexity = checks["words.perplexity"]
    assert perplexity.points == 0 and perplexity.message.startswith("no perplexity points: the model is not causal")
    assert perplexity.numbers["perplexity"] < 1.1  # what the cheat would have scored


def test_a_fit_that_forks_is_graded_as_any_other(task, tmp_path):
    """A child process of fit does not disturb the protocol (its CPU counts against the worker's hard limits, not
    against the budget, which measures the worker's own process: see the guide)."""
    forked = ("    import os\n    pid = os.fork()\n    if pid == 0:\n        os._exit(0)\n    os.waitpid(pid, 0)\n"
              "    return model\n")
    code = ANSWER_KEY.replace("    return model\n", forked)
    checks = graded(task, tmp_path, code)
    assert {k: c.status for k, c in checks.items()} == dict.fromkeys(checks, "passed"), \
        {k: c.message for k, c in checks.items()}


def test_a_release_states_the_fit_contract_and_grades_as_live(task, tmp_path):
    from harness.checking import run
    from harness.release import write_release

    folder = tmp_path / "assignment"
    write_release(folder, [task])
    contract = " ".join((folder / "CONTRACT.md").read_text().split())
    assert "you write and train the model in `fit(train, valid, budget)`" in contract
    assert "fit may use 120 CPU seconds" in contract and "the predictor you last kept is scored" in contract
    assert "class indices; train also holds vocab_size and num_classes" in contract  # the task's conventions
    assert "HYPERPARAMETERS" not in contract and "its own recipe" not in contract
    assert "def fit(train, valid, budget)" in (folder / "reviews.py").read_text()  # the starter
    (folder / "reviews.py").write_text(ANSWER_KEY)
    student = {c.id: (c.status, c.points) for c in run(folder, ["reviews"], bundle=folder / ".harness").checks}
    live = {c.id: (c.status, c.points) for c in grade(folder, [task], visibility=("public",)).checks}
    assert student == live and student["reviews.fit"] == ("passed", 1.0)


GOOD_RECORD = {"stopped": "completed", "graded": "returned", "cpu_seconds": 1.5, "seconds": 2.0, "keeps": 0,
               "kept_at": None}


@pytest.mark.parametrize("field, value, words", [
    ("stopped", "finished", "stopped is str 'finished'"),
    ("cpu_seconds", float("nan"), "cpu_seconds is float nan"),
    ("cpu_seconds", "1.5", "cpu_seconds is str '1.5'"),
    ("keeps", 1.5, "keeps is float 1.5"),
    ("keeps", True, "keeps is bool True"),
    ("kept_at", -1.0, "kept_at is float -1.0"),
])
def test_a_forged_report_of_fit_is_refused_naming_the_field(field, value, words):
    """The worker's report is the student's process's: read as untrusted, field by field."""
    from harness.checks import ContractBroken
    from harness.checks.fitted import fit_record

    assert fit_record(GOOD_RECORD) == GOOD_RECORD
    with pytest.raises(ContractBroken, match=re.escape(f"the worker's report of fit could not be read: {words}")):
        fit_record({**GOOD_RECORD, field: value})


def test_a_student_trained_task_may_not_share_its_hidden_split_with_another_task(tmp_path):
    """Same data, same hidden seed: the other task's code would be handed the hidden inputs first, in the same
    worker. Another hidden seed gives the student-trained task rows of its own."""
    from harness.spec import load_tasks

    write_task(tmp_path, 60)
    other = tmp_path / "tasks" / "harness_reviews"
    other.mkdir()
    (other / "task.toml").write_text(SPEC.format(budget=60, cpu_s=600).replace('by = "student"\ncpu_budget_s = 60\n', "")
                                     .replace('"reviews', '"harness_reviews').replace("reviews.fit", "reviews.interface"))
    (other / "hidden.toml").write_text(HIDDEN.replace("reviews.", "harness_reviews."))
    (other / "answer_key.py").write_text(MODEL + "\nbuild_model = Classifier\n")
    with pytest.raises(SpecError, match="the hidden split of reviews is also harness_reviews's: harness_reviews's code "
                                        "would see its inputs before reviews's fit runs"):
        load_tasks(tmp_path / "tasks")
    (other / "hidden.toml").write_text(HIDDEN.replace("reviews.", "harness_reviews.").replace("61403", "61404"))
    assert [s.name for s in load_tasks(tmp_path / "tasks")] == ["harness_reviews", "reviews"]
    # a release's folder holds no hidden.toml: neither task scores a hidden split there, so nothing is refused
    (other / "hidden.toml").write_text(HIDDEN.replace("reviews.", "harness_reviews."))
    (tmp_path / "tasks" / "reviews" / "hidden.toml").unlink()
    assert [s.name for s in load_tasks(tmp_path / "tasks")] == ["harness_reviews", "reviews"]
    (other / "hidden.toml").unlink()
    assert [s.name for s in load_tasks(tmp_path / "tasks")] == ["harness_reviews", "reviews"]


KERAS_FIT = """\
import os

os.environ.setdefault("KERAS_BACKEND", "torch")  # Keras 3 on PyTorch: its models are torch modules
import keras  # noqa: E402


def fit(train, valid, budget):
    model = keras.Sequential([keras.layers.Embedding(train["vocab_size"], 32), keras.layers.LSTM(64),
                              keras.layers.Dense(train["num_classes"])])
    model.compile(optimizer=keras.optimizers.Adam(0.01),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))

    class Keep(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            budget.keep(self.model)

    model.fit(train["x"].numpy(), train["y"].numpy(), epochs=3, batch_size=32, verbose=0,
              validation_data=(valid["x"].numpy(), valid["y"].numpy()), callbacks=[Keep()])
    return model
"""


def test_a_keras_model_trained_by_model_fit_is_a_predictor(task, tmp_path):
    """Keras 3 on the torch backend, trained by model.fit with a callback that keeps the model each epoch: the
    model itself is the predictor (called on the torch ids, it returns torch logits), and it is scored."""
    import importlib.util

    if importlib.util.find_spec("keras") is None:  # the keras extra (pip install 'harness[keras]')
        pytest.skip("keras is not installed")
    checks = graded(task, tmp_path, KERAS_FIT, drawn=True)
    fit = checks["reviews.fit"]
    assert fit.status == "passed" and fit.numbers["keeps"] == 3, fit.message
    assert checks["reviews.accuracy"].numbers["accuracy"] > 0  # scored, whatever its points


def test_the_hidden_inputs_reach_the_worker_only_after_fit_has_returned(task, tmp_path):
    """fit searches every object of the worker for the hidden split's ids and finds none; its predictor, searching
    the same way when it is called, finds them (it answers in the contract's shape only then): the search works,
    and the hidden inputs arrived after fit."""
    hidden = task.data_for("hidden").test.ids
    code = MODEL + textwrap.dedent(f"""
    import gc

    HIDDEN = torch.tensor({hidden.tolist()})


    def seen():
        return any(isinstance(o, torch.Tensor) and o is not HIDDEN and o.shape == HIDDEN.shape and torch.equal(o, HIDDEN)
                   for o in gc.get_objects())


    def fit(train, valid, budget):
        if seen():
            raise RuntimeError("fit saw the hidden inputs")
        model = Classifier(train["vocab_size"], train["num_classes"])

        def predict(ids):
            logits = model(ids)
            return logits if seen() else logits[:, :1]
        return predict
    """)
    checks = graded(task, tmp_path, code, visibility=("public", "after_due_date"))
    assert checks["reviews.fit"].status == "passed", checks["reviews.fit"].message


def test_a_harness_trained_model_does_not_see_the_hidden_inputs_while_it_trains(tmp_path):
    """The same search as above, by a harness-trained model's forward while it trains, finds nothing: the model is
    trained and kept by one program, and the test inputs come in the next (before, one program sent them with the
    training data, and a model could train on them: for a language model the hidden inputs hold its targets)."""
    path = write_task(tmp_path, 60)
    text = path.read_text().replace('by = "student"\ncpu_budget_s = 60\n', "epochs = 8\nlr = 0.01\nbatch_size = 32\n")
    path.write_text(text.replace('reviews.fit"', 'reviews.training"').replace('names = ["fit"]', 'names = ["build_model"]')
                    .replace("fit = '''", "build_model = '''"))
    (path.parent / "answer_key.py").write_text(MODEL + "\nbuild_model = Classifier\n")
    spec = load_spec(path)
    code = MODEL + textwrap.dedent(f"""
    import gc

    HIDDEN = torch.tensor({spec.data_for("hidden").test.ids.tolist()})


    class Spy(Classifier):
        def forward(self, ids):
            if self.training and any(isinstance(o, torch.Tensor) and o is not HIDDEN and o.shape == HIDDEN.shape
                                     and torch.equal(o, HIDDEN) for o in gc.get_objects()):
                raise RuntimeError("the model saw the hidden inputs while it was trained")
            return super().forward(ids)


    def build_model(vocab_size, num_classes):
        return Spy(vocab_size, num_classes)
    """)
    checks = graded(spec, tmp_path, code, visibility=("public", "after_due_date"))
    assert checks["reviews.training"].status == "passed", checks["reviews.training"].message


def test_the_reference_cache_key_covers_the_source_the_answer_keys_fit_comes_from(tmp_path):
    """A student-trained task's reference is its answer key's fit: a change in the module fit comes from changes
    the reference's figures, so it changes the cache key too."""
    from harness.checks.trained import _cache_path
    from harness.spec import load_spec

    folder = write_task(tmp_path, budget=60).parent
    (folder / "fit_source.py").write_text(ANSWER_KEY, encoding="utf-8")
    (folder / "answer_key.py").write_text("import pathlib, sys\nsys.path.insert(0, str(pathlib.Path(__file__).parent))\n"
                                          "from fit_source import fit  # noqa: E402,F401\n", encoding="utf-8")
    spec = load_spec(folder / "task.toml")
    before = _cache_path(spec, spec.data, {})
    assert _cache_path(spec, spec.data, {}) == before
    (folder / "fit_source.py").write_text(ANSWER_KEY.replace("def fit(", "def fit(  "), encoding="utf-8")
    assert _cache_path(spec, spec.data, {}) != before
