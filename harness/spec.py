"""Task specs: ``tasks/<name>/task.toml`` loaded and validated.

A spec is data: which contract module a task grades, the names it must provide, the checks that
count with their points and options, tolerances, limits and the seed. Errors name the file, the
key and what to write instead, because the person reading them is an instructor at midnight.
"""
from __future__ import annotations

import difflib
import hashlib
import re
from dataclasses import dataclass, field, fields
from pathlib import Path

from .definitions import DEFAULT_RUN, read_run
from .errors import SpecError, suggest
from .recipe import read_training
from .trained_by import CHECKS_PREFIX, read_by, refuse_shared_hidden, student_definitions, within_limits
from .runtime.config import Limits

try:
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib

#: Who sees a check's result, as Gradescope has it: "public" checks run on the student's machine from
#: the released bundle and are shown at once; "after_due_date" and "hidden" checks are defined only in
#: the instructor's ``hidden.toml`` and run after submission — the first shown to students after the due
#: date, the second never.
VISIBILITIES = ("public", "after_due_date", "hidden")
GRADED_LATER = ("after_due_date", "hidden")
HIDDEN_FILE = "hidden.toml"  # beside task.toml; the instructor's side only: never released
HIDDEN_KEYS = {"seed", "checks"}
TOP_LEVEL = {"task", "interface", "limits", "tolerances", "checks", "figures", "dataset", "training", "notebook"}
DECLARED = "declared."  # the registered checks a check declared with ``kind`` runs (harness.checks.declared)
TASK_KEYS = {"name", "title", "module", "version", "description", "seed"}
#: [interface.conventions]: the students' contract in words, one entry per name of the interface (and a trained
#: task's HYPERPARAMETERS), and ``shared`` for what holds for every name; harness release writes them into CONTRACT.md.
SHARED_CONVENTIONS = "shared"


@dataclass(frozen=True)
class Tolerance:
    rtol: float
    atol: float


@dataclass
class CheckSpec:
    """One check of a task. ``id`` names its result (unique in the task); ``definition`` is the
    registered check it runs — the same for a public check and its hidden instance, which differ in
    ``id`` (``….hidden``), options and the seed of their inputs."""

    id: str
    points: float
    visibility: str = "public"
    options: dict = field(default_factory=dict)
    definition: str = ""

    def __post_init__(self):
        self.definition = self.definition or self.id

    @property
    def graded_later(self) -> bool:
        return self.visibility in GRADED_LATER


@dataclass(frozen=True)
class Withheld:
    """What a released spec does not hold: how many checks and points are graded after submission, and how
    many of them (and their points) are never shown to students (``None``: a bundle that does not say)."""

    checks: int = 0
    points: float = 0.0
    never_shown_checks: int | None = 0
    never_shown_points: float = 0.0


def not_run_counts(not_run: list, withheld: Withheld = Withheld()) -> dict:
    """What a task's result says of the checks a run left for later: those of the spec not run, and the
    ones a released spec withholds; how many, their points, and how many of them are never shown."""
    never = [c for c in not_run if c.visibility == "hidden"]
    return {"not_run_checks": len(not_run) + withheld.checks,
            "not_run_points": round(sum(c.points for c in not_run) + withheld.points, 6),
            "never_shown_checks": None if withheld.never_shown_checks is None else len(never) + withheld.never_shown_checks,
            "never_shown_points": round(sum(c.points for c in never) + withheld.never_shown_points, 6)}


@dataclass
class TaskSpec:
    name: str
    title: str
    module: str
    version: str
    path: Path
    names: list[str]
    checks: list[CheckSpec]
    limits: Limits
    tolerances: dict[str, Tolerance]
    seed: int = 0
    description: str = ""
    figures: list[str] = field(default_factory=list)
    definitions: dict = field(default_factory=dict)         # CheckSpec.definition -> its CheckDef
    figure_definitions: dict = field(default_factory=dict)  # figure id -> the FigureDef it draws
    digest: str = ""                 # of everything the verdicts depend on, hidden.toml and answer key included
    public_digest: str = ""          # of the released files only (task.toml, checks.py): what a bundle may hold
    dataset: dict | None = None      # the [dataset] table, built by harness.data (trained tasks)
    training: dict | None = None     # the recipe with defaults filled in, and "bounds"
    hidden_seed: int | None = None   # from hidden.toml: inputs of hidden checks, the hidden test split
    withheld: Withheld = Withheld()  # a released spec: what is graded after submission
    interface_map: dict = field(default_factory=dict)  # [interface.map]: contract name -> interface.MapEntry
    conventions: dict = field(default_factory=dict)    # [interface.conventions]: name (or "shared") -> words
    notebook_run: str = DEFAULT_RUN  # [notebook] run: what of a submitted notebook runs (harness.definitions)
    _data: dict = field(default_factory=dict, repr=False)

    def data_for(self, view: str = "public"):
        """The task's dataset as the checks of one visibility see it, built once (trusted side).

        ``"public"``: evaluation on the public validation split, which a student can rebuild from the
        released recipe; ``"hidden"``: evaluation on the test split drawn from the hidden seed."""
        if view not in self._data and self.dataset is not None:
            from .data import build_dataset

            self._data[view] = build_dataset(self.dataset, self.path, view=view, hidden_seed=self.hidden_seed)
        return self._data.get(view)

    @property
    def data(self):
        return self.data_for("public")

    @property
    def max_score(self) -> float:
        return sum(c.points for c in self.checks)

    def seed_for(self, check: CheckSpec) -> int:
        return self.hidden_seed if check.graded_later and self.hidden_seed is not None else self.seed


#: |got − expected| ≤ atol + rtol·|expected|. float64: a float32 constant or intermediate in a correct float64
#: computation errs by ~1e-7 of O(1) values and passes; an error of 1e-5 relative fails (see tasks/cells/task.toml).
DEFAULT_TOLERANCES = {"float64": Tolerance(1e-6, 1e-7), "float32": Tolerance(1e-4, 1e-5)}


def _expect_type(path, key, value, kind, what):
    ok = isinstance(value, kind) and not (kind in (int, float, (int, float)) and isinstance(value, bool))
    if not ok:
        raise SpecError(path, key, f"must be {what}, got {value!r}")
    return value


def _unknown_keys(path, where, table, allowed):
    for key in table:
        if key not in allowed:
            raise SpecError(path, f"{where}{key}", "unknown key", suggest(key, allowed))


def load_spec(path: Path) -> TaskSpec:
    """Read and validate one task spec, the ``hidden.toml`` beside it when there is one, and the checks its
    folder's ``checks.py`` writes (harness.course)."""
    from .checks import FIGURES, REGISTRY, load_builtin_checks
    from .course import CHECKS, task_sources, written_checks

    load_builtin_checks()
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise SpecError(path, "file", "does not exist", "check the path or the task name") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SpecError(path, "syntax", f"not valid TOML ({exc})", "fix the line it names") from None

    _unknown_keys(path, "", data, TOP_LEVEL)
    task = data.get("task")
    if not isinstance(task, dict):
        raise SpecError(path, "[task]", "missing", 'add a [task] table with name, title and module')
    _unknown_keys(path, "[task].", task, TASK_KEYS)
    for key in ("name", "title", "module"):
        if key not in task:
            raise SpecError(path, f"[task].{key}", "missing", f'add {key} = "..." to [task]')
        _expect_type(path, f"[task].{key}", task[key], str, "a string")
    version = str(task.get("version", "1"))
    seed = _expect_type(path, "[task].seed", task.get("seed", 0), int, "an integer")

    interface = data.get("interface", {})
    _unknown_keys(path, "[interface].", interface, {"names", "map", "conventions"})
    names = interface.get("names", [])
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise SpecError(path, "[interface].names", "must be a list of names", 'e.g. names = ["LSTMCell"]')
    conventions = _conventions(path, interface.get("conventions", {}), names, "training" in data)
    interface_map = {}
    if "map" in interface:  # the course's names for the contract's (harness.interface)
        from .course import ANSWER_KEY, task_python
        from .interface import MapError, contract_names, parse, resolve, signatures

        if not names:
            raise SpecError(path, "[interface].names", "missing: a map renames the names listed there",
                            'e.g. names = ["dot_attention"]')
        known = contract_names(names, "training" in data)
        try:
            interface_map = parse(interface["map"], "[interface.map]", "task.toml", known)
            # the instructor's side: parameters and methods are checked against the answer key now
            binds = any(e.args or e.methods for e in interface_map.values())
            answer_key = task_python(path.parent, ANSWER_KEY) if binds else None
            if answer_key is not None:
                resolve(task["module"], interface_map, signatures(answer_key, known), "")
        except MapError as exc:
            raise SpecError(path, exc.key, exc.problem, exc.fix) from None

    limits = Limits()
    limit_fields = {f.name: f for f in fields(Limits)}
    for key, value in data.get("limits", {}).items():
        if key not in limit_fields:
            raise SpecError(path, f"[limits].{key}", "unknown limit", suggest(key, limit_fields))
        _expect_type(path, f"[limits].{key}", value, (int, float), "a number")
        if value <= 0:
            raise SpecError(path, f"[limits].{key}", f"must be positive, got {value}")
        setattr(limits, key, type(getattr(limits, key))(value))

    tolerances = dict(DEFAULT_TOLERANCES)
    for dtype, tol in data.get("tolerances", {}).items():
        if dtype not in DEFAULT_TOLERANCES:
            raise SpecError(path, f"[tolerances].{dtype}", "unknown dtype", suggest(dtype, DEFAULT_TOLERANCES))
        if not isinstance(tol, dict) or set(tol) - {"rtol", "atol"}:
            raise SpecError(path, f"[tolerances].{dtype}", "must be a table with rtol and atol",
                            f"e.g. {dtype} = {{ rtol = 1e-7, atol = 1e-9 }}")
        default = DEFAULT_TOLERANCES[dtype]
        values = {k: _expect_type(path, f"[tolerances].{dtype}.{k}", tol.get(k, getattr(default, k)),
                                  (int, float), "a number") for k in ("rtol", "atol")}
        tolerances[dtype] = Tolerance(float(values["rtol"]), float(values["atol"]))

    notebook_run = read_run(path, data.get("notebook", {})) or DEFAULT_RUN
    training, student = None, False
    if "training" in data:  # [training] by: who trains the model (harness/trained_by.py)
        table, by = read_by(path, data["training"])
        student = by == "student"
        training = {**read_training(path, table), **({"by": by} if student else {})}
    dataset = data.get("dataset")
    prefixes: tuple[str, ...] = ()
    if dataset is not None:
        from .data.build import KINDS, resolve

        if not isinstance(dataset, dict):
            raise SpecError(path, "[dataset]", "must be a table", 'e.g. [dataset] kind = "synthetic-sentiment"')
        resolve(dataset, path)  # validates keys and files now, with errors that name them
        prefixes = (KINDS[dataset["kind"]][0], "trained")  # a trained task's checks: its family's
        if student:
            prefixes += (CHECKS_PREFIX,)  # and its fit's
        if training is None:
            raise SpecError(path, "[training]", "missing", "a task with a [dataset] needs a [training] recipe")

    written, written_figures = written_checks(path.parent)
    for check_id in [*written, *written_figures]:
        if check_id in REGISTRY or check_id in FIGURES:
            raise SpecError(path.parent / CHECKS, check_id, "is an id of the harness's own checks",
                            f"register it under another id, e.g. {task['name']}.{check_id.rpartition('.')[2]}")
    registry, figure_registry = {**REGISTRY, **written}, {**FIGURES, **written_figures}
    table = data.get("checks", {})
    if not isinstance(table, dict) or not table:
        raise SpecError(path, "[checks]", "no checks", f'add a table like [checks."{task["module"]}.NAME.forward"]')
    checks = _checks(path, table, ("public",), "public", prefixes=prefixes, registry=registry, task=task["name"])
    # The released files alone: on a student's machine (no hidden.toml, no answer key) this is the spec's digest.
    public_digest = hashlib.sha256(raw + task_sources(path.parent, (CHECKS,))).hexdigest()[:16]
    hidden_seed = None
    hidden_path = path.parent / HIDDEN_FILE
    if hidden_path.is_file():
        hidden_seed, hidden_checks, hidden_raw = _hidden(hidden_path, prefixes, registry, task["name"])
        raw += b"\0" + hidden_raw
        checks += hidden_checks
    raw += task_sources(path.parent)  # a changed check or answer key is a changed task (resumed runs regrade)

    figures = data.get("figures", [])
    if not isinstance(figures, list) or not all(isinstance(f, str) for f in figures):
        raise SpecError(path, "figures", "must be a list of figure ids")
    figure_definitions = {}
    for fig in figures:
        found = definition_of(fig, prefixes, figure_registry)
        if found is None:
            raise SpecError(path, "figures", f"unknown figure {fig!r}",
                            unknown_id_fix(path, task["name"], fig, prefixes, figure_registry, FIGURES))
        figure_definitions[fig] = figure_registry[found]

    definitions = {c.definition: registry[c.definition] for c in checks}
    if student:
        definitions = student_definitions(path, checks, definitions, prefixes[0] if prefixes else "",
                                          figure_definitions)
        within_limits(path, training, limits.cpu_s)
    spec = TaskSpec(dataset=dataset, training=training, name=task["name"], title=task["title"], module=task["module"], version=version,
                    path=path, names=names, checks=checks, limits=limits, tolerances=tolerances,
                    seed=seed, description=task.get("description", ""), figures=figures,
                    figure_definitions=figure_definitions,
                    definitions=definitions,
                    digest=hashlib.sha256(raw).hexdigest()[:16], public_digest=public_digest, hidden_seed=hidden_seed,
                    interface_map=interface_map, conventions=conventions, notebook_run=notebook_run)
    spec.data  # build the dataset now: a bad file or checksum is an error before any grading starts
    return spec


def _conventions(path: Path, table, names: list[str], trained: bool) -> dict[str, str]:
    """[interface.conventions]: what each name takes and returns, in words a student reads (CONTRACT.md)."""
    from .interface import contract_names

    key = "[interface.conventions]"
    if not isinstance(table, dict):
        raise SpecError(path, key, "must be a table of name = \"what it takes and returns\"",
                        f'e.g. [interface.conventions] {(names or ["name"])[0]} = "returns (h, c), each (B, H)"')
    allowed = [SHARED_CONVENTIONS, *contract_names(names, trained)]
    out = {}
    for name, text in table.items():
        if name not in allowed:
            raise SpecError(path, f"{key}.{name}", "is not a name of [interface].names",
                            f"{suggest(name, allowed)} ({SHARED_CONVENTIONS} = \"...\" says what holds for every name)")
        if not isinstance(text, str) or not text.strip():
            raise SpecError(path, f"{key}.{name}", f"must be a non-empty string, got {text!r}",
                            'write what the checks expect of it in a sentence or two, e.g. "returns (h, c)"')
        paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text.strip())]
        out[name] = "\n\n".join(p for p in paragraphs if p)  # a blank line starts a new paragraph
    return out


def definition_of(check_id: str, prefixes: tuple[str, ...], registry: dict) -> str | None:
    """The registered check (or figure) a task's id runs: the id itself, else, for a trained task, the same
    name under its family or under ``trained`` (``sentiment.accuracy`` runs ``classification.accuracy``)."""
    if check_id in registry:
        return check_id
    rest = check_id.partition(".")[2]
    return next((f"{p}.{rest}" for p in prefixes if f"{p}.{rest}" in registry), None)


def _checks(path: Path, table: dict, allowed: tuple[str, ...], default: str, suffix: str = "",
            prefixes: tuple[str, ...] = (), registry: dict | None = None, task: str = "") -> list[CheckSpec]:
    """The [checks] table of task.toml or hidden.toml: registered ids (the engine's and the task's checks.py),
    points, visibility, options."""
    from .checks import REGISTRY, OptionError, Structured

    registry = REGISTRY if registry is None else registry
    checks = []
    for check_id, body in table.items():
        key = f'[checks."{check_id}"]'
        if not isinstance(body, dict):
            raise SpecError(path, key, "must be a table", "e.g. points = 1")
        body = dict(body)
        if "kind" in body:  # declared in the TOML (harness.checks.declared)
            found = _declared(path, key, body, registry)
        else:
            found = definition_of(check_id, prefixes, registry)
            if found is None or found.startswith(DECLARED):
                raise SpecError(path, key, "unknown check id",
                                unknown_id_fix(path, task or path.parent.name, check_id, prefixes, registry))
        definition = registry[found]
        points = _expect_type(path, f"{key}.points", body.pop("points", None), (int, float), "a number ≥ 0")
        if points < 0:
            raise SpecError(path, f"{key}.points", f"must be ≥ 0, got {points}")
        visibility = body.pop("visibility", default)
        if visibility not in allowed:
            fix = (f"in {path.name} a check is one of {allowed}" + (
                f"; checks graded after submission go in {HIDDEN_FILE} beside it, which is never released"
                if "public" in allowed else "; public checks go in task.toml"))
            raise SpecError(path, f"{key}.visibility", f"must be one of {allowed}, got {visibility!r}", fix)
        options = definition.defaults()
        for name, value in body.items():
            if name not in definition.options:
                allowed_options = definition.options or {"(this check has no options)": None}
                raise SpecError(path, f"{key}.{name}", "unknown option", suggest(name, allowed_options))
            default_value = definition.options[name]
            if isinstance(default_value, Structured):  # a value with a shape of its own, checked by the check's code
                try:
                    default_value.validate(value)
                except OptionError as exc:
                    raise SpecError(path, f"{key}.{name}{exc.where}", exc.what, exc.fix) from None
                options[name] = value
                continue
            if isinstance(default_value, tuple):  # one of named choices
                if value not in default_value:
                    raise SpecError(path, f"{key}.{name}", f"must be one of {', '.join(map(repr, default_value))}, "
                                    f"got {value!r}", suggest(str(value), default_value))
                options[name] = value
                continue
            kind = ((int, float) if isinstance(default_value, (int, float)) and not isinstance(default_value, bool)
                    else type(default_value))
            options[name] = _expect_type(path, f"{key}.{name}", value, kind, f"like {default_value!r}")
        if definition.consistent is not None:
            try:
                definition.consistent(options)
            except OptionError as exc:
                raise SpecError(path, f"{key}.{exc.where}", exc.what, exc.fix) from None
        checks.append(CheckSpec(check_id + suffix, float(points), visibility, options, definition=found))
    return checks


def task_ids(task: str, prefixes: tuple[str, ...], registry: dict, engine: dict | None = None) -> dict[str, list[str]]:
    """The check (or figure) ids a task's spec may name, by where they come from: its family's (a trained task's
    ``<task>.accuracy`` runs ``classification.accuracy``, ``<task>.interface`` runs ``trained.interface``) and its
    own ``checks.py``'s (every id of ``registry`` that is not the engine's). ``engine``: the engine's registry
    (default: its checks; ``FIGURES`` for figures)."""
    from .checks import REGISTRY

    engine = REGISTRY if engine is None else engine
    family = [f"{task}.{k.partition('.')[2]}" for p in prefixes for k in sorted(engine) if k.startswith(f"{p}.")]
    return {"family": list(dict.fromkeys(family)), "checks.py": sorted(k for k in registry if k not in engine)}


def unknown_id_fix(path: Path, task: str, word: str, prefixes: tuple[str, ...], registry: dict,
                   engine: dict | None = None) -> str:
    """What to write instead of an unknown check (or figure) id: the nearest of *this task's* ids (never another
    family's), all of them when none is near; for a check, how to declare one instead."""
    from .course import CHECKS

    ids = task_ids(task, prefixes, registry, engine)
    every = [*ids["family"], *ids["checks.py"]]
    # compared after the task's name, which every id shares (else "sentiment.zzz" is near them all)
    rest = {i.removeprefix(f"{task}."): i for i in every}
    close = [rest[r] for r in difflib.get_close_matches(word.removeprefix(f"{task}."), rest, n=3, cutoff=0.6)]
    if close:
        words = "did you mean " + " or ".join(map(repr, close)) + "?"
    else:
        kinds = ([f"its {prefixes[0]} family's: " + ", ".join(ids["family"])] if ids["family"] else []) + (
            [f"its {CHECKS}'s: " + ", ".join(ids["checks.py"])] if ids["checks.py"] else [])
        words = ("this task's ids are " + "; ".join(kinds)) if kinds else (
            f"this task has no registered ids ({'no ' + prefixes[0] + ' family, ' if prefixes else 'no dataset, '}"
            f"no {CHECKS} beside {path.name} registering one)")
    if engine is not None:
        return words
    return (f"{words}; or declare the check: kind = one of {', '.join(_kinds(registry))}, with a target and cases "
            f"(docs/WRITING_TASKS.md, section 2), or register {word!r} in the task's {CHECKS} (section 3)")


def _kinds(registry: dict) -> list[str]:
    return sorted(k.partition(".")[2] for k in registry if k.startswith(DECLARED))


def _declared(path: Path, key: str, body: dict, registry: dict) -> str:
    """The registered check a declared one runs (``kind = "equals"`` runs ``declared.equals``), its required
    options present and its target one the task's answer key defines (where the answer key is here)."""
    kind = body.pop("kind")
    if f"{DECLARED}{kind}" not in registry:
        raise SpecError(path, f"{key}.kind", f"unknown kind {kind!r}", suggest(str(kind), _kinds(registry)))
    for option in ("target", "cases"):
        if option in registry[f"{DECLARED}{kind}"].options and option not in body:
            raise SpecError(path, f"{key}.{option}", "missing", "a declared check names its target (a function or "
                            "class of the task's module) and its cases, e.g. cases = [{ args = [{ randn = [3, 4] }] }]")
    from .course import ANSWER_KEY, task_python

    key_module = task_python(path.parent, ANSWER_KEY)
    if key_module is not None and isinstance(body["target"], str) and not hasattr(key_module, body["target"]):
        raise SpecError(path, f"{key}.target", f"the task's {ANSWER_KEY} defines no {body['target']!r}",
                        suggest(body["target"], [n for n in vars(key_module) if not n.startswith("_")]))
    return f"{DECLARED}{kind}"


def _hidden(path: Path, prefixes: tuple[str, ...] = (), registry: dict | None = None,
            task: str = "") -> tuple[int, list[CheckSpec], bytes]:
    """``hidden.toml``: the seed of the hidden inputs and the checks graded after submission."""
    raw = path.read_bytes()
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SpecError(path, "syntax", f"not valid TOML ({exc})", "fix the line it names") from None
    _unknown_keys(path, "", data, HIDDEN_KEYS)
    if "seed" not in data:
        raise SpecError(path, "seed", "missing", "add seed = <an integer no student knows>; it draws the hidden inputs")
    seed = _expect_type(path, "seed", data["seed"], int, "an integer")
    table = data.get("checks", {})
    if not isinstance(table, dict):
        raise SpecError(path, "[checks]", "must be a table", 'e.g. [checks."cells.LSTMCell.forward"] points = 2')
    return seed, _checks(path, table, GRADED_LATER, "after_due_date", suffix=".hidden", prefixes=prefixes,
                         registry=registry, task=task), raw


def default_tasks_dir() -> Path:
    """The default task specs: the repository's ``tasks/``, installed with the instructor's package as
    the data-only package ``harness_tasks`` (editable or not); else ``tasks/`` of a source checkout
    installed before that mapping existed; else ``tasks/`` in the working directory."""
    import importlib.util

    try:
        found = importlib.util.find_spec("harness_tasks")
    except (ImportError, ValueError):
        found = None
    # a namespace package (tasks/ holds no Python): an editable install also lists a path-hook placeholder
    for location in (found.submodule_search_locations or []) if found else []:
        if Path(location).is_dir():
            return Path(location)
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "pyproject.toml").is_file() and (checkout / "tasks").is_dir():
        return checkout / "tasks"
    return Path.cwd() / "tasks"


def load_tasks(tasks_dir: Path | None = None, names: list[str] | None = None) -> list[TaskSpec]:
    """Every ``task.toml`` under ``tasks_dir`` (sorted by name), or only the named ones."""
    tasks_dir = Path(tasks_dir) if tasks_dir else default_tasks_dir()
    if not tasks_dir.is_dir():
        raise SpecError(tasks_dir, "tasks folder", "does not exist", "pass --tasks-dir DIR")
    available = {p.parent.name: p for p in sorted(tasks_dir.glob("*/task.toml"))}
    if names:
        for name in names:
            if name not in available:
                raise SpecError(tasks_dir, f"task {name!r}", "not found", suggest(name, available))
        available = {n: available[n] for n in names}
    specs = [load_spec(p) for p in available.values()]
    for spec in specs:
        if spec.name != spec.path.parent.name:
            raise SpecError(spec.path, "[task].name", f"is {spec.name!r} but the folder is {spec.path.parent.name!r}",
                            "make them the same")
    refuse_shared_hidden(specs)
    return specs
