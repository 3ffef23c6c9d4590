"""The public bundle: what a student's machine holds instead of the answer key.

``harness release`` writes it into the assignment folder as ``.harness/``::

    .harness/bundle.json          schema version, harness version, engine digest, content digest, and
                                  per task: the public checks' random inputs (by check), the answer
                                  key's value of every program they run (by program digest), the
                                  catalogue variants' values of the same programs, the values computed
                                  from the answer key (a trained task's baselines), the catalogue's
                                  names and descriptions, the derived mistakes' names and descriptions
                                  (harness.checks.mutants; their values beside the variants'), and how
                                  many checks and points are withheld
    .harness/values.safetensors   every tensor those values hold
    .harness/tasks/<name>/        the public part of each task folder (task.toml and its data files;
                                  never hidden.toml, never Python)

It is plain data: JSON value trees whose tensors live in the safetensors file (the encoding of the
worker's wire). Nothing in it is code, and nothing in it is hidden: no hidden check, no hidden seed, and no
value computed from them or from the answer key's source — a task's digest here is of its released files
only (``TaskSpec.public_digest``), so that a seed cannot be searched for by hashing guesses. Of hidden.toml,
a bundle says only how many checks and points are graded later, which the student is told anyway.
A bundle fits one engine: the check code that rebuilds the programs must be byte-for-byte the one
that recorded them, so :func:`load` refuses a bundle made by another harness, saying which to install.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from . import __version__
from .answers import NotInBundle, VariantFailed, VariantInfo, map_tensors
from .runtime import wire

SCHEMA_VERSION = 1
FOLDER = ".harness"
INDEX = "bundle.json"
VALUES = "values.safetensors"
TASKS = "tasks"
#: The judge's code whose behaviour a bundle's values depend on (programs, inputs, datasets).
ENGINE_FILES = ("checks/*.py", "sandbox/program.py", "runtime/*.py", "data/*.py", "data/synthetic/*.py",
                "answers.py", "metrics.py")


class BundleError(Exception):
    """A bundle is missing, damaged or made for another harness. The message says what to do."""


def engine_digest() -> str:
    """sha256 of the judge's code that a bundle's values depend on (see ENGINE_FILES)."""
    root = Path(__file__).parent
    h = hashlib.sha256()
    for pattern in ENGINE_FILES:
        for path in sorted(root.glob(pattern)):
            h.update(f"\0{path.relative_to(root).as_posix()}\0".encode())
            h.update(path.read_bytes().replace(b"\r\n", b"\n"))
    return h.hexdigest()


def _task_files(folder: Path) -> dict[str, str]:
    """sha256 of each released task file, by its path under ``tasks/``."""
    root = folder / TASKS
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _content_digest(index: dict, values: bytes) -> str:
    body = {k: v for k, v in index.items() if k != "digest"}
    h = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode())
    h.update(hashlib.sha256(values).digest())
    return h.hexdigest()


@dataclass
class Contents:
    """A bundle's values while they are recorded (instructor) or after they are read (student)."""

    draws: dict[str, list] = field(default_factory=dict)          # check key -> its random inputs, in order
    references: dict[str, object] = field(default_factory=dict)   # program digest -> answer key's value
    variants: dict[str, dict] = field(default_factory=dict)       # program digest -> {variant: value | failure}
    computed: dict[str, object] = field(default_factory=dict)     # "task:view:name" -> value
    catalogue: list[VariantInfo] = field(default_factory=list)
    mutants: list[VariantInfo] = field(default_factory=list)       # derived mistakes (values under variants)
    tasks: dict[str, dict] = field(default_factory=dict)          # name -> {"digest", "withheld": {...}}
    engine: str = field(default_factory=lambda: engine_digest())  # of the code that recorded the values
    cache_keys: list[str] = field(default_factory=list)            # cached figures the recording used (not written)
    figures_used: dict[str, str] = field(default_factory=dict)     # "task:view:name" -> figures' digest (written)


FAILED = "$failed"


def write(folder: Path, contents: Contents) -> Path:
    """Write ``contents`` as a bundle into ``folder`` (``.harness/`` of a release); returns bundle.json."""
    from safetensors.torch import save

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, torch.Tensor] = {}

    def enc(value):
        tree, _ = wire.encode(value, tensors)
        return tree

    index = {
        "schema_version": SCHEMA_VERSION,
        "harness_version": __version__,
        "engine": contents.engine,
        "tasks": contents.tasks,
        "catalogue": [asdict(v) for v in contents.catalogue],
        "mutants": [asdict(v) for v in contents.mutants],
        "draws": {key: [enc(t) for t in seq] for key, seq in sorted(contents.draws.items())},
        "references": {d: enc(v) for d, v in sorted(contents.references.items())},
        "variants": {d: {name: ({FAILED: True} if v is VariantFailed else enc(v)) for name, v in sorted(by.items())}
                     for d, by in sorted(contents.variants.items())},
        "computed": {key: enc(v) for key, v in sorted(contents.computed.items())},
        "figures_used": dict(sorted(contents.figures_used.items())),
    }
    index["files"] = _task_files(folder)
    values = save(tensors) if tensors else save({"_": torch.zeros(0)})
    index["digest"] = _content_digest(index, values)
    (folder / VALUES).write_bytes(values)
    path = folder / INDEX
    path.write_text(json.dumps(index, separators=(",", ":"), allow_nan=False) + "\n", encoding="utf-8")
    return path


class Bundle:
    """A released bundle, read and verified (see :func:`load`)."""

    def __init__(self, folder: Path, index: dict, tensors: dict[str, torch.Tensor]):
        self.folder = Path(folder)
        self.index = index
        self._tensors = tensors
        self.catalogue = [VariantInfo(**v) for v in index["catalogue"]]
        self.derived = _mutants(folder, index.get("mutants", []))

    @property
    def tasks_dir(self) -> Path:
        return self.folder / TASKS

    def _decode(self, tree):
        return map_tensors(wire.decode(tree, self._tensors), torch.Tensor.clone)  # checks may change their copy

    def specs(self, names: list[str] | None = None) -> list:
        """The released task specs (all, or the named ones), each knowing what is graded after submission."""
        from .spec import Withheld, load_tasks

        specs = load_tasks(self.tasks_dir, names or None)
        for spec in specs:
            recorded = self.index["tasks"].get(spec.name, {}).get("digest")
            if recorded is not None and recorded != spec.digest:  # the released files alone make the digest here
                raise BundleError(f"{self.tasks_dir / spec.name}: the task's files are not the ones released "
                                  f"(digest {spec.digest}, released {recorded}); take {FOLDER}/ again from the "
                                  "released assignment")
            withheld = self.index["tasks"].get(spec.name, {}).get("withheld", {"checks": 0, "points": 0.0})
            never = withheld.get("never_shown_checks")  # a bundle released before this was recorded: not known
            spec.withheld = Withheld(int(withheld["checks"]), float(withheld["points"]),
                                     None if never is None else int(never), float(withheld.get("never_shown_points", 0.0)))
        return specs

    # what BundleAnswers asks for ---------------------------------------------------------------
    def draw(self, key: str, index: int) -> torch.Tensor:
        seq = self.index["draws"].get(key, [])
        if index >= len(seq):
            raise NotInBundle(f"random input {index} of {key}")
        return self._decode(seq[index])

    def reference(self, digest: str):
        if digest not in self.index["references"]:
            raise NotInBundle(f"the answer key's value of program {digest[:12]}")
        return self._decode(self.index["references"][digest])

    def variants(self, module: str, target: str) -> list[VariantInfo]:
        return [v for v in self.catalogue if v.module == module and v.target == target]

    def mutants(self, module: str, target: str) -> list[VariantInfo]:
        return [v for v in self.derived if v.module == module and v.target == target]

    def variant(self, digest: str, name: str):
        tree = self.index["variants"].get(digest, {}).get(name)
        if tree is None or (isinstance(tree, dict) and tree.get(FAILED)):
            raise VariantFailed(name)
        return self._decode(tree)

    def computed(self, key: str):
        if key not in self.index["computed"]:
            raise NotInBundle(key)
        return self._decode(self.index["computed"][key])


def _mutants(folder: Path, raw) -> list[VariantInfo]:
    """The derived mistakes a bundle lists (harness.checks.mutants), checked: a list of entries with the five string
    fields of VariantInfo, kind "mutant", each name once."""
    fields = ("name", "module", "target", "kind", "description")
    where = f"{Path(folder) / INDEX}: \"mutants\""
    if not isinstance(raw, list):
        raise BundleError(f"{where} must be a list, got {type(raw).__name__}; take {FOLDER}/ again from the "
                          "released assignment")
    out, seen = [], set()
    for i, entry in enumerate(raw):
        if not isinstance(entry, dict) or sorted(entry) != sorted(fields) \
                or not all(isinstance(entry[k], str) for k in fields) or entry["kind"] != "mutant" \
                or entry["name"] in seen:
            raise BundleError(f"{where}[{i}] is not a derived mistake (an object of strings {', '.join(fields)}, kind "
                              f"\"mutant\", each name once): {str(entry)[:120]}; take {FOLDER}/ again from the "
                              "released assignment")
        seen.add(entry["name"])
        out.append(VariantInfo(**entry))
    return out


def find(start: Path) -> Path | None:
    """The ``.harness`` folder of the assignment ``start`` is in: in it or in one of its parents."""
    start = Path(start).resolve()
    for folder in (start, *start.parents):
        if (folder / FOLDER / INDEX).is_file():
            return folder / FOLDER
    return None


def load(folder: Path) -> Bundle:
    """Read and verify a bundle: schema, harness version, engine and content digest."""
    from safetensors import SafetensorError
    from safetensors.torch import load as load_tensors

    folder = Path(folder)
    if folder.name != FOLDER and (folder / FOLDER / INDEX).is_file():
        folder = folder / FOLDER
    path = folder / INDEX
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
        values = (folder / VALUES).read_bytes()
    except FileNotFoundError as exc:
        raise BundleError(f"{exc.filename}: missing — the assignment's {FOLDER}/ folder is incomplete; take it "
                          "again from the released assignment") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BundleError(f"{path}: not a bundle the harness wrote ({exc}); take {FOLDER}/ again from the "
                          "released assignment") from None
    if not isinstance(index, dict) or index.get("schema_version") != SCHEMA_VERSION:
        found = index.get("schema_version") if isinstance(index, dict) else None
        raise BundleError(f"{path}: bundle schema {found!r}, but this harness ({__version__}) reads schema "
                          f"{SCHEMA_VERSION} — install the harness version the assignment names "
                          "(see its README or .github/workflows/harness.yml)")
    if index.get("harness_version") != __version__ or index.get("engine") != engine_digest():
        raise BundleError(f"{path}: this assignment was released for harness {index.get('harness_version')} "
                          f"(engine {str(index.get('engine'))[:12]}), but the installed harness is {__version__} "
                          f"(engine {engine_digest()[:12]}) — install the one the assignment names, e.g. "
                          f"pip install \"harness-student=={index.get('harness_version')}\", or ask for the release "
                          "made for this harness")
    if _content_digest(index, values) != index.get("digest"):
        raise BundleError(f"{path}: the bundle's digest does not match its content (edited or damaged) — take "
                          f"{FOLDER}/ again from the released assignment")
    changed = [name for name, sha in index.get("files", {}).items()
               if not (folder / TASKS / name).is_file()
               or hashlib.sha256((folder / TASKS / name).read_bytes()).hexdigest() != sha]
    if changed:
        raise BundleError(f"{folder / TASKS / changed[0]}: missing or changed since the release — the public checks "
                          f"are recorded for the released task files; take {FOLDER}/ again from the released assignment")
    try:
        tensors = load_tensors(values)
    except SafetensorError as exc:
        raise BundleError(f"{folder / VALUES}: unreadable ({exc})") from None
    return Bundle(folder, index, tensors)
