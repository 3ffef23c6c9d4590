"""Notebooks as students leave them (harness/definitions.py): under ``[notebook] run = "definitions"`` the grader
runs a notebook's imports, definitions and constants, skips what downloads, trains, plots and installs, and
lists each statement it skipped; cell markers decide a cell; a missing framework says what the grader runs.

The course-style notebooks here are written for these tests in the style of a character language-model
assignment (a corpus fetched at top level, ``!pip``, a tensorflow import, training and a plot beside the graded
functions), graded against the worked example task (docs/examples/tasks/charlm).
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest

from harness.definitions import Selector
from harness.errors import SpecError
from harness.grading import grade
from harness.report import render_report
from harness.spec import load_tasks
from harness.submission import SubmissionError, locate, notebook_runs

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "docs" / "examples"
ALL = ("public", "after_due_date", "hidden")

IMPORTS = """import numpy as np
import torch
import torch.nn as nn
import matplotlib.pyplot as plt
import urllib.request
from tensorflow.keras.utils import pad_sequences"""

DOWNLOAD = """respuesta = urllib.request.urlopen("https://example.org/cuentos.txt")
texto = respuesta.read().decode("utf-8").lower()"""

VOCAB = """vocab = sorted(set(texto))
char2idx = {c: i for i, c in enumerate(vocab)}
tam_contexto = 50
ALFABETO = "".join(chr(ord("a") + i) for i in range(26))"""

SOFTMAX = '''def softmax_t(logits, temperature=1.0):
    """Softmax con temperatura sobre el último eje."""
    z = logits / temperature
    z = z - z.max(dim=-1, keepdim=True).values
    return z.exp() / z.exp().sum(dim=-1, keepdim=True)'''

SCORER = """class CharScorer(nn.Module):
    def __init__(self, n_chars, n_hidden):
        super().__init__()
        self.embed = nn.Parameter(torch.randn(n_chars, n_hidden) * 0.1)
        self.out = nn.Parameter(torch.randn(n_hidden, n_chars) * 0.1)
        self.bias = nn.Parameter(torch.zeros(n_chars))

    def forward(self, ids):
        return torch.tanh(self.embed[ids]) @ self.out + self.bias


modelo = CharScorer(len(vocab), 32)
print(modelo)"""

TRAINING = """optimizador = torch.optim.RMSprop(modelo.parameters(), lr=1e-3)
historia = []
for epoca in range(40):
    x = torch.randint(0, len(vocab), (8, tam_contexto))
    perdida = modelo(x).logsumexp(-1).mean()
    optimizador.zero_grad(); perdida.backward(); optimizador.step()
    historia.append(perdida.item())"""

PLOT = """plt.plot(historia)
plt.title("perplejidad")
plt.show()"""

GREEDY = """def greedy_decode(step, bos, eos, max_len):
    salida = []
    while len(salida) < max_len:
        siguiente = int(np.argmax(np.asarray(step([bos] + salida))))
        salida.append(siguiente)
        if siguiente == eos:
            break
    return salida"""

TRY_IT = """greedy_decode(lambda prefijo: torch.randn(5), 0, 1, 10)"""

#: The notebook, cell by cell (code cells, numbered from 1 as the report numbers them).
COURSE_CELLS = ["!pip install -q gradio", IMPORTS, DOWNLOAD, "texto[:300]", VOCAB, SOFTMAX, SCORER, TRAINING, PLOT,
                GREEDY, TRY_IT]


def write_notebook(path: Path, cells: list, tags: dict[int, list[str]] | None = None) -> Path:
    """A notebook of a markdown title and these code cells; ``tags``: code cell number -> its tags."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Modelo de lenguaje por caracteres")]
    for number, code in enumerate(cells, start=1):
        cell = nbformat.v4.new_code_cell(code)
        if tags and number in tags:
            cell.metadata["tags"] = tags[number]
        nb.cells.append(cell)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


@pytest.fixture(scope="module")
def tasks(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("course") / "tasks"
    shutil.copytree(EXAMPLE / "tasks", folder)
    return folder


def with_run(tasks: Path, tmp_path: Path, run: str) -> Path:
    """A copy of the example task whose task.toml says ``[notebook] run = run``."""
    folder = tmp_path / f"tasks-{run}"
    shutil.copytree(tasks, folder)
    toml = folder / "charlm" / "task.toml"
    toml.write_text(toml.read_text() + f'\n[notebook]\nrun = "{run}"\n')
    return folder


def skipped_at(source) -> dict[tuple[int, int], str]:
    return {(s.cell, s.line): s.why for s in source.skipped}


# ------------------------------------------------------------------------------------------ the rule, on the source

def test_the_rule_keeps_definitions_and_lists_every_statement_it_skips(tmp_path):
    write_notebook(tmp_path / "charlm.ipynb", COURSE_CELLS)
    source = locate(tmp_path, ["charlm"]).modules["charlm"]
    assert source.problem is None and source.run == "definitions"
    why = skipped_at(source)
    assert why[(1, 1)] == "shell command"
    assert why[(2, 6)] == "tensorflow is not installed where this is graded"
    assert why[(3, 1)] == "it calls urllib.request.urlopen(…), not a definition"
    assert why[(3, 2)] == "it calls respuesta.read(…), not a definition"
    assert why[(4, 1)] == "an expression shown as output, not a definition"
    assert why[(5, 1)] == "it reads texto, which skipped cell 3, line 2 defines"
    assert why[(5, 2)] == "it reads vocab, which skipped cell 5, line 1 defines"
    assert why[(7, 12)] == "it calls CharScorer(…), not a definition"
    assert why[(7, 13)] == "a call, not a definition"
    assert why[(8, 3)] == "a for loop, not a definition"
    assert why[(9, 1)] == "a call, not a definition"
    assert why[(11, 1)] == "a call, not a definition"
    assert (5, 3) not in why and (5, 4) not in why and (6, 1) not in why and (10, 1) not in why
    # what is kept runs as a module, with no network, no training and no figure
    namespace: dict = {}
    exec(compile(source.python, "charlm.py", "exec"), namespace)
    assert {"softmax_t", "CharScorer", "greedy_decode", "tam_contexto", "ALFABETO"} <= set(namespace)
    assert namespace["ALFABETO"] == "abcdefghijklmnopqrstuvwxyz" and namespace["historia"] == []  # a constant
    assert "optimizador" not in namespace and "perdida" not in namespace
    assert "modelo" not in namespace and "texto" not in namespace and "pad_sequences" not in namespace
    # each kept line keeps its place: cell 10, line 1 is still where greedy_decode is defined
    line = source.python.splitlines().index("def greedy_decode(step, bos, eos, max_len):") + 1
    assert source.locate_line(line) == "charlm.ipynb, cell 10, line 1"


def test_definitions_depend_on_what_was_kept_not_on_what_was_skipped():
    """A definition whose decorator, default or base needs a skipped name is skipped too, saying which; one that
    needs only kept names stays. ``if __name__ == "__main__":`` never runs on import: it is listed as skipped."""
    selector = Selector(installed=lambda top: top != "tensorflow")
    cells = ["import torch\nimport tensorflow as tf\nMAXIMO = 30",
             "@torch.no_grad()\ndef muestrear(modelo, n=MAXIMO):\n    return modelo(n)",
             "class Capa(tf.keras.layers.Layer):\n    pass",
             "def codificar(texto, tope=len(corpus)):\n    return texto[:tope]",
             'if __name__ == "__main__":\n    muestrear(print)',
             "try:\n    import google.colab\n    EN_COLAB = True\nexcept ImportError:\n    EN_COLAB = False",
             "if torch.cuda.is_available():\n    DISPOSITIVO = 'cuda'\nelse:\n    DISPOSITIVO = 'cpu'",
             "try:\n    from google.colab import drive\n    drive.mount('/content/drive')\n"
             "except ImportError:\n    pass",
             "x = 1; entrenar(x)"]
    decided = [selector.cell(n, code.splitlines(), None) for n, code in enumerate(cells, start=1)]
    why = {(s.cell, s.line): s.why for _, skipped in decided for s in skipped}
    assert why == {
        (1, 2): "tensorflow is not installed where this is graded",
        (3, 1): "its definition reads tf, which skipped cell 1, line 2 defines",
        (4, 1): "its definition reads corpus, which no earlier kept statement defines",
        (5, 1): 'if __name__ == "__main__": runs only when the notebook runs as a script',
        (8, 1): "line 3 inside: a call, not a definition",
        (9, 1): "a call, not a definition",
    }
    assert {"muestrear", "MAXIMO", "EN_COLAB", "DISPOSITIVO"} <= selector.defined
    assert selector.lost["Capa"].cell == 3 and selector.lost["x"].cell == 9
    assert decided[1][0] == cells[1].splitlines()  # kept as written, line for line
    assert decided[2][0] == ["# skipped by the grader: class Capa(tf.keras.layers.Layer):", "#"]


def test_markers_and_tags_decide_a_cell_and_skip_wins(tmp_path):
    cells = ["import torch\nSEMILLA = 0",
             "# harness: keep\ntorch.manual_seed(SEMILLA)\nPESOS = torch.randn(3)",  # kept whole: a call runs
             "# harness: skip\nUMBRAL = 0.5",                                        # skipped whole: a constant
             "TEMPERATURA = 0.7",                                                     # tagged skip
             "pasos = [1, 2]\nprint(pasos)",                                          # tagged keep
             "#   Harness:KEEP\n# harness: skip\nLIMITE = 3"]                         # both: skipped
    write_notebook(tmp_path / "charlm.ipynb", cells, tags={4: ["harness:skip"], 5: ["harness:keep", "otro"]})
    source = locate(tmp_path, ["charlm"]).modules["charlm"]
    namespace: dict = {}
    exec(compile(source.python, "charlm.py", "exec"), namespace)
    assert namespace["PESOS"].shape == (3,) and namespace["pasos"] == [1, 2]
    assert not {"UMBRAL", "TEMPERATURA", "LIMITE"} & set(namespace)
    assert [(s.cell, s.why) for s in source.skipped] == [
        (3, "marked '# harness: skip': the whole cell is skipped"),
        (4, "marked '# harness: skip': the whole cell is skipped"),
        (6, "marked '# harness: skip': the whole cell is skipped")]
    # the markers hold when every cell runs too: skip still skips, keep changes nothing
    (tmp_path / "harness.toml").write_text('[notebook]\nrun = "all"\n')
    source = locate(tmp_path, ["charlm"]).modules["charlm"]
    assert source.run == "all" and source.run_from == "harness.toml"
    assert [s.cell for s in source.skipped] == [3, 4, 6] and "print(pasos)" in source.python


def test_syntax_errors_in_a_skipped_cell_an_unmarked_cell_and_a_kept_cell(tmp_path):
    cells = ["def bien(x):\n    return x", "# harness: skip\nprint 'hola'", "def mal(x:\n    return x",
             "# harness: keep\nprint 'chau'"]
    write_notebook(tmp_path / "charlm.ipynb", cells)
    source = locate(tmp_path, ["charlm"]).modules["charlm"]
    why = skipped_at(source)
    assert why[(2, 1)] == "marked '# harness: skip': the whole cell is skipped"
    assert why[(3, 1)].startswith("the cell does not parse (SyntaxError: ") and "whole cell is skipped" in why[(3, 1)]
    assert source.lost["mal"].cell == 3  # a NameError for mal will point at cell 3
    assert "print 'chau'" in source.python  # the student asked for it: it fails at import, at its place
    with pytest.raises(SyntaxError) as raised:
        compile(source.python, "charlm.py", "exec")
    assert source.locate_line(raised.value.lineno) == "charlm.ipynb, cell 4, line 2"


def test_hostile_cells_are_read_not_run(tmp_path):
    """A kept cell that would run forever is only written out (the worker's limits hold it); a huge cell, a cell
    nested past the parser's depth and text with a lone surrogate are decided without a crash."""
    huge = "\n".join(f"C{i} = {i}" for i in range(20_000)) + "\nentrenar()"
    deep = "x = " + "(" * 5000 + "1" + ")" * 5000
    ifs = "".join(f"{' ' * i}if True:\n" for i in range(1500)) + " " * 1500 + "Z = 1"
    cells = ["# harness: keep\nwhile True:\n    pass", huge, deep, "texto = 'caf\udce9'\ny = 2", ifs]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    (tmp_path / "charlm.ipynb").write_text(json.dumps(nb, ensure_ascii=True))  # the surrogate escaped: "\udce9"
    source = locate(tmp_path, ["charlm"]).modules["charlm"]
    why = skipped_at(source)
    assert source.problem is None and "while True:" in source.python and (1, 1) not in why
    assert why[(2, 20_001)] == "a call, not a definition" and "C19999 = 19999" in source.python
    assert "does not parse" in why[(3, 1)] and "does not parse (UnicodeEncodeError" in why[(4, 1)]
    assert "does not parse (IndentationError: too many levels of indentation" in why[(5, 1)]
    # kept, that text cannot become a Python file: the notebook is not graded, and the student is told where
    nb.cells[3].source = "# harness: keep\n" + cells[3]
    (tmp_path / "charlm.ipynb").write_text(json.dumps(nb, ensure_ascii=True))
    source = locate(tmp_path, ["charlm"]).modules["charlm"]
    assert source.python is None and source.problem.startswith("charlm.ipynb, cell 4, line 2 holds '\\udce9'")
    # and the raw bytes of a surrogate are no UTF-8 at all: refused whole, as before
    (tmp_path / "charlm.ipynb").write_text(nbformat.writes(nb), encoding="utf-8", errors="surrogatepass")
    assert locate(tmp_path, ["charlm"]).modules["charlm"].problem == "charlm.ipynb is not UTF-8 text"


# ------------------------------------------------------------------------------------------ where the mode comes from

def test_the_task_sets_the_default_and_refuses_a_wrong_value(tasks, tmp_path):
    assert load_tasks(tasks, ["charlm"])[0].notebook_run == "definitions"  # the harness's default
    assert load_tasks(with_run(tasks, tmp_path, "all"), ["charlm"])[0].notebook_run == "all"
    wrong = with_run(tasks, tmp_path, "definitons")
    with pytest.raises(SpecError) as raised:
        load_tasks(wrong, ["charlm"])
    assert raised.value.key == "[notebook].run" and "'definitions', 'all'" in raised.value.problem
    toml = wrong / "charlm" / "task.toml"
    toml.write_text(toml.read_text().replace('run = "definitons"', 'runs = "all"'))
    with pytest.raises(SpecError) as raised:
        load_tasks(wrong, ["charlm"])
    assert raised.value.key == "[notebook].runs" and "did you mean 'run'" in str(raised.value)
    toml.write_text(toml.read_text().replace('runs = "all"', f'run = "{"x" * 5000}"'))
    with pytest.raises(SpecError) as raised:
        load_tasks(wrong, ["charlm"])
    assert raised.value.key == "[notebook].run" and len(raised.value.problem) < 200  # cut, as harness.toml's


def test_tasks_that_grade_one_module_and_disagree_get_the_default():
    from types import SimpleNamespace as Spec

    runs = notebook_runs([Spec(module="charlm", notebook_run="all"), Spec(module="charlm", notebook_run="all"),
                          Spec(module="otro", notebook_run="all"), Spec(module="otro", notebook_run="definitions")])
    assert runs == {"charlm": ("all", "task.toml"),
                    "otro": ("definitions", "the default: the tasks that grade otro disagree")}


# the same reader as task.toml's [notebook] (definitions.read_run): the key, what is wrong, the fix
@pytest.mark.parametrize("toml, phrase", [
    ('[notebook]\nrun = "everything"\n', "[notebook].run: must be one of 'definitions', 'all', got 'everything'"),
    ('[notebook]\nrun = 1e308\n', "must be one of 'definitions', 'all', got 1e+308"),
    (f'[notebook]\nrun = "{"x" * 5000}"\n', "got 'xxxxxxxx"),
    ('notebook = "all"\n', '[notebook]: must be a table — e.g. [notebook] then run = "definitions"'),
    ('[notebook]\nrun = "all"\ncells = [1]\n', "[notebook].cells: unknown key: [notebook] holds one key, run"),
    ('[notebook]\nruns = "all"\n', "did you mean 'run'")])
def test_a_wrong_override_in_harness_toml_is_refused(tmp_path, toml, phrase):
    write_notebook(tmp_path / "charlm.ipynb", ["X = 1"])
    (tmp_path / "harness.toml").write_text(toml)
    with pytest.raises(SubmissionError) as raised:
        locate(tmp_path, ["charlm"])
    assert phrase in str(raised.value) and "harness.toml" in str(raised.value)
    assert len(str(raised.value)) < 400  # a long value is cut, not echoed whole


# ------------------------------------------------------------------------------------------ graded in the worker

def test_a_course_notebook_gets_every_point_its_functions_deserve(tasks, tmp_path):
    write_notebook(tmp_path / "alumna" / "charlm.ipynb", COURSE_CELLS)
    results = grade(tmp_path / "alumna", load_tasks(tasks, ["charlm"]), visibility=ALL)
    failed = {c.id: c.message for c in results.checks if c.status != "passed"}
    assert not failed, failed
    assert results.tasks[0].score == results.tasks[0].max_score > 0
    notes = "\n".join(results.notes)
    assert "charlm.ipynb: definitions only were run" in notes and 'run = "definitions", from task.toml' in notes
    for place, text in [("cell 1, line 1", "!pip install -q gradio"),
                        ("cell 3, line 1", 'respuesta = urllib.request.urlopen("https://example.org/cuentos.txt")'),
                        ("cell 7, line 12", "modelo = CharScorer(len(vocab), 32)"),
                        ("cell 8, line 3", "for epoca in range(40):…"),
                        ("cell 9, line 1", "plt.plot(historia)")]:
        assert f"charlm.ipynb, {place}: skipped {text} (" in notes, (place, notes)
    # the report lists them apart from the other notes, place first
    html = render_report(results)
    listed, notes_section = html.split('id="skipped-title"')[1].split('id="notes-title"')
    assert "<strong>charlm.ipynb, cell 8, line 3</strong>: skipped for epoca in range(40):… (a for loop, not a " \
           "definition)" in listed
    assert listed.count("<li>") == len(results.notes) - 1 and ": skipped " not in notes_section.split("</section>")[0]
    assert "definitions only were run" in notes_section


def test_every_cell_run_costs_the_notebook_with_the_missing_framework_named(tasks, tmp_path):
    """The same notebook under run = "all" (the task's choice here): its tensorflow import stops the import, and
    every check says what is missing, what the grader runs, and the cell and line."""
    write_notebook(tmp_path / "alumna" / "charlm.ipynb", COURSE_CELLS)
    results = grade(tmp_path / "alumna", load_tasks(with_run(tasks, tmp_path, "all"), ["charlm"]))
    assert results.tasks[0].score == 0 and results.checks
    message = results.checks[0].message
    assert ("No module named 'tensorflow' (charlm.ipynb, cell 2, line 6); tensorflow is not installed where this "
            "is graded; the grader runs PyTorch") in message, message
    assert message.endswith("code — ask your instructor")
    assert all(c.message == message for c in results.checks)
    # the student's harness.toml asks for definitions only, over the task's choice: every point comes back
    (tmp_path / "alumna" / "harness.toml").write_text('[notebook]\nrun = "definitions"\n')
    results = grade(tmp_path / "alumna", load_tasks(with_run(tasks, tmp_path / "again", "all"), ["charlm"]))
    assert results.tasks[0].score == results.tasks[0].max_score
    assert any('from harness.toml' in n for n in results.notes)


def test_a_correct_notebook_written_otherwise_keeps_every_point(tasks, tmp_path):
    """Definitions the rule keeps however they are written: a try/except import, a decorated function, globals
    built from constants with pure calls, a cell the student kept whole, an ``if __name__`` block, a ``.py``
    helper module of the submission imported by name; and top-level statements of all kinds around them."""
    helper = tmp_path / "alumno" / "utilidades.py"
    helper.parent.mkdir(parents=True)
    helper.write_text("def argmax(valores):\n    return max(range(len(valores)), key=lambda i: valores[i])\n")
    cells = ["try:\n    import google.colab\n    EN_COLAB = True\nexcept ImportError:\n    EN_COLAB = False",
             "import torch\nfrom torch import nn\nimport torch.nn.functional as F\nfrom utilidades import argmax",
             'ALFABETO = list("abcdefghij")\nINDICE = {c: i for i, c in enumerate(ALFABETO)}\nESCALA = 0.1',
             "# harness: keep\ntorch.manual_seed(0)\nBASE = torch.randn(1) * 0  # a call: kept by the marker only",
             "def softmax_t(logits, temperature=1.0):\n    z = logits / temperature + BASE\n"
             "    return (z - torch.logsumexp(z, dim=-1, keepdim=True)).exp()",
             "class CharScorer(nn.Module):\n    def __init__(self, n_chars, n_hidden):\n        super().__init__()\n"
             "        self.embed = nn.Parameter(torch.randn(n_chars, n_hidden) * ESCALA)\n"
             "        self.out = nn.Parameter(torch.randn(n_hidden, n_chars) * ESCALA)\n"
             "        self.bias = nn.Parameter(torch.zeros(n_chars))\n\n    def forward(self, ids):\n"
             "        return F.embedding(ids, self.embed).tanh() @ self.out + self.bias",
             "@torch.no_grad()\ndef greedy_decode(step, bos, eos, max_len):\n    ids = []\n"
             "    for _ in range(max_len):\n        ids.append(argmax(list(step([bos, *ids]))))\n"
             "        if ids[-1] == eos:\n            break\n    return ids",
             'if __name__ == "__main__":\n    print(greedy_decode(lambda p: torch.randn(4), 0, 1, 5))']
    write_notebook(tmp_path / "alumno" / "charlm.ipynb", cells)
    results = grade(tmp_path / "alumno", load_tasks(tasks, ["charlm"]), visibility=ALL)
    failed = {c.id: c.message for c in results.checks if c.status != "passed"}
    assert not failed and results.tasks[0].score == results.tasks[0].max_score, failed
    skipped = [n for n in results.notes if ": skipped " in n]
    assert skipped == ['charlm.ipynb, cell 8, line 1: skipped if __name__ == "__main__":… '
                       '(if __name__ == "__main__": runs only when the notebook runs as a script)'], skipped


def test_a_name_a_skipped_statement_defines_is_explained_where_it_is_used(tasks, tmp_path):
    """greedy_decode reads vocab, which the notebook built from the download: its checks fail pointing at the
    statement the grader skipped and why; the other functions keep their points."""
    reads_vocab = GREEDY.replace("    salida = []", "    salida = []\n    max_len = min(max_len, len(vocab))")
    cells = [reads_vocab if c == GREEDY else c for c in COURSE_CELLS]
    write_notebook(tmp_path / "alumno" / "charlm.ipynb", cells)
    results = grade(tmp_path / "alumno", load_tasks(tasks, ["charlm"]))
    failed = {c.id: c.message for c in results.checks if c.status != "passed"}
    assert failed and all("greedy" in check for check in failed), failed
    message = next(iter(failed.values()))
    assert ("vocab is defined only by vocab = sorted(set(texto)) (charlm.ipynb, cell 5, line 1), which the grader "
            "skipped: it reads texto, which skipped cell 3, line 2 defines") in message, message
    assert "mark that cell '# harness: keep'" in message


def test_a_kept_cell_that_never_ends_is_stopped_by_the_workers_limits(tasks, tmp_path):
    """The markers change what the worker imports, never what the judge runs: a cell the student kept that loops
    forever costs the import, stopped at the task's load_timeout_s, and the judge returns its results."""
    folder = tmp_path / "tasks"
    shutil.copytree(tasks, folder)
    toml = folder / "charlm" / "task.toml"
    toml.write_text(toml.read_text().replace("[limits]\n", "[limits]\nload_timeout_s = 3\n", 1))
    write_notebook(tmp_path / "alumna" / "charlm.ipynb", [*COURSE_CELLS, "# harness: keep\nwhile True:\n    pass"])
    results = grade(tmp_path / "alumna", load_tasks(folder, ["charlm"]), visibility=("public",))
    assert results.checks and results.tasks[0].score == 0
    assert all(c.status == "error" and c.message.startswith("importing charlm.ipynb failed")
               and "took longer than 3 s and was stopped" in c.message for c in results.checks), \
        {c.id: c.message for c in results.checks}
