"""CONTRACT.md: what the checks of each released task expect, written into the folder students receive.

One section per task, named after it (the hints point to "CONTRACT.md, section <task>"): the module to
write, each name of ``[interface].names`` with its signature and, for a class, the parameters the checks
load weights into; the words of the task's ``[interface.conventions]`` (what each name takes and
returns, orders, defaults); the public checks with their points, and how many are graded later.

Instructor-only (it reads the answer key, as ``harness init`` does): of the answer key only signatures
and parameter shapes are taken, never a docstring or a line of code. The conventions are the task
author's words for students; a check's id, points and one-line description are already public in the
released ``task.toml`` and the registry. Nothing of hidden.toml is named: graded-later checks are counted.
"""
from __future__ import annotations

import inspect
from pathlib import Path

from .. import __version__, course
from ..checks import load_builtin_checks
from ..checks.compare import IN_WORDS
from ..checks.declared import array_words
from ..checks.trained import family_of
from ..trained_by import by_student, fit_words
from ..results import points_phrase
from ..recipe import STUDENT_SETTABLE, bound_text, current
from ..runtime.recipe import OPTIMIZERS, TORCH_OPTIMIZERS
from ..spec import SHARED_CONVENTIONS, TaskSpec
from ..starter import format_signature, parameter_shapes, starter_module

FILENAME = "CONTRACT.md"

INTRO = """# The contract of this assignment

What the checks expect of your code, one section per task: the names to define, their signatures and
defaults, and the conventions the checks test. The starter files define the same names with the same
signatures. Where this page says nothing, the checks do not care: the choice is yours.
"""


def section_of(spec: TaskSpec) -> str:
    """How a hint names a task's section of CONTRACT.md."""
    return f"{FILENAME}, section {spec.name}"


def contract_text(specs: list[TaskSpec]) -> str:
    """The whole document, for these tasks."""
    load_builtin_checks()
    toc = ", ".join(f"[{s.name}](#{s.name})" for s in specs)
    footer = f"\n---\nWritten by `harness release` (harness {__version__}) from the task specs.\n"
    return INTRO + f"\n{IN_WORDS}\n\nSections: {toc}.\n" + "".join("\n" + task_section(s) for s in specs) + footer


def write_contract(directory: Path, specs: list[TaskSpec]) -> Path:
    """Write CONTRACT.md into ``directory``; its path."""
    path = Path(directory) / FILENAME
    path.write_text(contract_text(specs), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- one task


def task_section(spec: TaskSpec) -> str:
    """``## <task>``: the module, the shared conventions, each name, the checks."""
    trained = spec.dataset is not None
    parts = [f"## {spec.name}\n\n**{spec.title}.** Write `{spec.module}.py`, or a notebook `{spec.module}.ipynb` "
             f'(a `harness.toml` beside it may name another file: `[modules]` then `{spec.module} = "my_file.ipynb"`).']
    if trained and by_student(spec):
        parts.append(fit_words(spec))
    elif trained:
        parts.append("The harness owns the data, the vocabulary, the training loop and the metrics; you write the "
                     "model. It builds your model, trains it with its own recipe and scores it on a test split that "
                     "is not in this folder.")
    if SHARED_CONVENTIONS in spec.conventions:
        parts.append(spec.conventions[SHARED_CONVENTIONS])
    renamed = _renames(spec)
    if renamed:
        parts.append("This course uses its own names: " + "; ".join(renamed) + ".")
    aliases = starter_module(spec).aliases
    if aliases:
        parts.append("Types used in the signatures below:\n\n```python\n" + "\n".join(aliases) + "\n```")
    for name in spec.names:
        parts.append(name_section(spec, name, trained))
    if trained and not by_student(spec):
        parts.append(hyperparameters_section(spec))
    parts.append(checks_section(spec))
    return "\n\n".join(parts) + "\n"


def _renames(spec: TaskSpec) -> list[str]:
    """The course's names for the contract's, from [interface.map]."""
    out = []
    for contract, entry in spec.interface_map.items():
        words = f"`{contract}` is `{entry.name}`"
        words += "".join(f", its parameter `{a}` is `{b}`" for a, b in entry.args.items())
        words += "".join(f", its method `{a}` is `{b}`" for a, b in entry.methods.items())
        out.append(words)
    return out


def name_section(spec: TaskSpec, name: str, trained: bool) -> str:
    """``### `name```: its signature, its parameters (a class) and its conventions (under the course's name for it,
    when [interface.map] gives one)."""
    entry = spec.interface_map.get(name)
    shown = entry.name if entry is not None else name
    lines = [f"### `{shown}`" + (f" (the checks call it `{name}`)" if shown != name else "")]
    if trained and name == "build_model":
        family = family_of(spec)
        lines.append(f"```python\ndef {family.signature} -> nn.Module\n```")
        lines.append(f"Your model's output: {family.output}.")
    else:
        lines += signature_block(spec, name, shown)
    if name in spec.conventions:
        lines.append(spec.conventions[name])
    return "\n\n".join(lines)


def _renamed(sig: inspect.Signature, args: dict) -> str:
    """A signature as code, with the course's names for its parameters."""
    return format_signature(sig.replace(parameters=[p.replace(name=args.get(p.name, p.name))
                                                    for p in sig.parameters.values()]))


def signature_block(spec: TaskSpec, name: str, shown: str) -> list[str]:
    """The answer key's signature of ``name``, in the course's names ([interface.map]) where it has its own, as
    code (and, for a class, its parameters' names and shapes)."""
    obj = getattr(course.answer_key(spec), name, None)
    entry = spec.interface_map.get(name)
    args, methods = (entry.args, entry.methods) if entry is not None else ({}, {})
    if isinstance(obj, type):
        init = inspect.signature(obj.__init__)
        code = [f"class {shown}(nn.Module):", f"    def __init__{_renamed(init, args)}"]
        forward = obj.__dict__.get("forward") or getattr(obj, "forward", None)
        if forward is not None:
            code.append(f"    def {methods.get('forward', 'forward')}{format_signature(inspect.signature(forward))}")
        out = ["```python\n" + "\n".join(code) + "\n```"]
        shapes = parameter_shapes(obj, init)
        if shapes:
            out.append("Parameters (exactly these names and shapes): "
                       + ", ".join(f"`{p}` {shape}" for p, shape in shapes) + ".")
        return out
    if callable(obj):
        return [f"```python\ndef {shown}{_renamed(inspect.signature(obj), args)}\n```"]
    return ["(see the assignment for its signature)"]


def hyperparameters_section(spec: TaskSpec) -> str:
    """``HYPERPARAMETERS``: what a student may set, the task's own values and bounds, from [training]."""
    training = spec.training or {}
    bounds = training.get("bounds", {})
    keys = [k for k in STUDENT_SETTABLE if k in bounds]
    lines = ["### `HYPERPARAMETERS` (optional)"]
    if keys:
        lines.append(f"A dict in `{spec.module}.py` that may set " + ", ".join(f"`{k}`" for k in keys)
                     + ". Without it the harness uses the task's own values: "
                     + ", ".join(f"{k} = {_shown(current(training, k))}" for k in keys) + ". Bounds: "
                     + ", ".join(bound_text(k, bounds[k]) for k in keys)
                     + ". A value outside its bounds is clamped and reported by the interface check; "
                     "any other key is ignored and reported.")
    else:
        lines.append("This task's recipe cannot be changed: the harness ignores HYPERPARAMETERS.")
    lines.append(f"Training: {_optimiser(training)}, gradients clipped at norm {training.get('clip', 1.0):g}, seeded"
                 f"{_stopping(training)}. A model that "
                 "needs far more CPU time than the reference model is stopped, and a model that did not finish "
                 "the recipe is not scored.")
    if "HYPERPARAMETERS" in spec.conventions:
        lines.append(spec.conventions["HYPERPARAMETERS"])
    return "\n\n".join(lines)


def _shown(value) -> str:
    """A recipe's value in words; None (patience without early stopping, momentum of Adam) is "unset"."""
    if value is None:
        return "unset"
    return f"{value:g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


def _optimiser(training: dict) -> str:
    """The recipe's optimiser and schedule in words, with the parameters that differ from their defaults:
    "RMSprop (alpha 0.9)", "SGD (momentum 0.9), the learning rate on the step schedule (step_size 2)"."""
    chosen = dict(training.get("optimizer") or {"kind": "adam"})
    kind = chosen.pop("kind")
    changed = [f"{k} {_shown(v)}" for k, v in chosen.items() if v != OPTIMIZERS[kind].get(k)]
    words = TORCH_OPTIMIZERS[kind] + (f" ({', '.join(changed)})" if changed else "")
    schedule = dict(training.get("schedule") or {"kind": "none"})
    kind = schedule.pop("kind")
    if kind != "none":
        said = ", ".join(f"{k} {_shown(v)}" for k, v in schedule.items())
        words += f", the learning rate on the {kind} schedule ({said})"
    return words


def _stopping(training: dict) -> str:
    stopping = training.get("early_stopping")
    if not stopping:
        return ""
    return (f", stopped early when the validation loss has not improved by more than {stopping['min_delta']:g} for "
            f"{stopping['patience']} epochs (validation rows: {training['validation_fraction']:g} of the training "
            "split), the best epoch's weights kept")


def checks_section(spec: TaskSpec) -> str:
    """The public checks as a table, the figures, and how much is graded after submission."""
    public = [c for c in spec.checks if not c.graded_later]
    rows = ["| check | points | what it tests |", "|---|---|---|"]
    for c in public:
        definition = spec.definitions.get(c.definition)
        about = definition.description if definition is not None else ""
        if c.options.get("forbidden"):
            about += " (not allowed: " + ", ".join(f"`{name}`" for name in c.options["forbidden"]) + ")"
        if array_words(c.options):
            about += f" ({array_words(c.options)})"
        rows.append(f"| `{c.id}` | {c.points:g} | {about} |")
    lines = [f"**Public checks** ({points_phrase(sum(c.points for c in public))}; `harness check .` runs them here):",
             "\n".join(rows)]
    if spec.figures:
        titles = [spec.figure_definitions[f].title if f in spec.figure_definitions else f for f in spec.figures]
        lines.append("Figures in the report (not scored): " + "; ".join(titles) + ".")
    later = [c for c in spec.checks if c.graded_later]
    if later:
        never = sum(c.visibility == "hidden" for c in later)
        lines.append(f"**Graded after you submit:** {len(later)} more {'check' if len(later) == 1 else 'checks'} "
                     f"worth {points_phrase(sum(c.points for c in later))}, on inputs that are "
                     "not in this folder" + (f"; the results of {never} of them are never shown" if never else "")
                     + ". Passing every public check is a good sign, not yet the grade.")
    return "\n\n".join(lines)
