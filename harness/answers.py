"""Where a check's expected values come from: the answer key, live or released.

A check asks its Context for three kinds of trusted values: the answer key's value of a program, the
value of a catalogue variant (the answer key with one known mistake) for diagnosis, and values the
judge computes once from the answer key (a trained task's baselines). On the instructor's side they
are computed live (:class:`LiveAnswers`, from each task folder's answer_key.py and catalogue.py: see
harness.course); on a student's machine
they are read from the bundle an instructor released (:class:`BundleAnswers`), which holds the values
and never the code. The random inputs of a check are drawn through the same object, so that a bundle
can hand a student's machine the very tensors the instructor's run drew.

A program is found in a bundle by :func:`program_digest`, a hash of its steps and input tensors.
"""
from __future__ import annotations

import hashlib
import json
import types
from dataclasses import dataclass
from typing import Callable

import torch

from .runtime import wire


@dataclass(frozen=True)
class VariantInfo:
    """What the judge needs to know of a catalogue variant without its code."""

    name: str
    module: str
    target: str
    kind: str          # "variant" (found in the literature), "accepted" (the contract allows it), "mistake", or
                       # "mutant" (derived from the answer key's code: harness.checks.mutants)
    description: str   # the student-facing sentence


class NotInBundle(Exception):
    """A public check asked for an expected value the released bundle does not hold."""


class VariantFailed(Exception):
    """A catalogue variant could not run a program (so it does not match anything)."""


def program_digest(program) -> str:
    """sha256 of a program's steps and of its input tensors' dtypes, shapes and bytes."""
    h = hashlib.sha256(json.dumps(program.to_json(), sort_keys=True, default=repr).encode())
    for name in sorted(program.inputs):
        t = program.inputs[name].detach().contiguous().cpu()
        h.update(f"\0{name}:{t.dtype}:{tuple(t.shape)}\0".encode())
        h.update(t.numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def map_tensors(value, fn: Callable[[torch.Tensor], torch.Tensor], numpy: bool = False):
    """``value`` (nested tuples, lists, dicts) with ``fn`` applied to every tensor in it. With ``numpy``, each numpy
    array or scalar in it is first read by the worker's own rule (wire.from_numpy): a tensor, a number or a list."""
    if numpy:
        value = wire.from_numpy(value)
    if isinstance(value, torch.Tensor):
        return fn(value)
    if isinstance(value, tuple):
        return tuple(map_tensors(v, fn, numpy) for v in value)
    if isinstance(value, list):
        return [map_tensors(v, fn, numpy) for v in value]
    if isinstance(value, dict):
        return {k: map_tensors(v, fn, numpy) for k, v in value.items()}
    return value


def detached(value):
    """The answer key's values as values decoded from the worker are: without autograd graphs, and with numpy's
    arrays and scalars turned into tensors and numbers by the worker's own rule (wire.from_numpy), so that an
    answer key written with numpy gives the judge the same values live as from a release."""
    return map_tensors(value, torch.Tensor.detach, numpy=True)


#: In a process that grades a class (harness.batch's pool and Dask jobs: :func:`keep_references`), the answer key's
#: values of programs, by answer key and program digest, kept for the next submission: a class's submissions ask the
#: same programs of the same answer key (some 250 a submission of the function tasks). A value is kept only when it
#: is plain data (tensors, numbers, strings, containers), and handed out as a copy; the answer key's modules are
#: imported once a process (harness.course), so their ids name them. A variant's namespace is made for one call:
#: its values are never kept.
_KEPT: dict[tuple, object] | None = None
KEPT_MAX, KEPT_MAX_ELEMENTS = 20_000, 1_000_000


def keep_references() -> None:
    """From now on, this process keeps the answer key's values for the next submission it grades."""
    global _KEPT
    if _KEPT is None:
        _KEPT = {}


def _plain(value, budget: list) -> bool:
    """True when ``value`` is tensors, numbers, strings and None in tuples, lists and dicts, with at most
    ``budget[0]`` tensor elements in all."""
    if isinstance(value, torch.Tensor):
        budget[0] -= value.numel()
        return budget[0] >= 0
    if isinstance(value, (tuple, list)):
        return all(_plain(v, budget) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, (str, int)) and _plain(v, budget) for k, v in value.items())
    return value is None or isinstance(value, (bool, int, float, str))


class _VariantModule(types.SimpleNamespace):
    """The answer key's module with one name replaced by a variant, for one program. A module global the program
    sets (a notebook's ``char2idx``: harness.sandbox.program's ``assign``) reaches the functions that read it: the
    answer key's, through its module, and the variant's, through its own globals (a catalogue's module, a derived
    mistake's copy of the key's); :meth:`restore` puts those back as they were."""

    def __init__(self, names: dict, reached: list):
        vars(self).update(names)
        vars(self)["_reached"] = [d for d in reached if isinstance(d, dict)]
        vars(self)["_saved"] = {}

    def __setattr__(self, name: str, value) -> None:
        for d in self._reached:
            self._saved.setdefault((id(d), name), (d, name, d.get(name, _UNSET)))
            d[name] = value
        vars(self)[name] = value

    def restore(self) -> None:
        for d, name, old in self._saved.values():
            if old is _UNSET:
                d.pop(name, None)
            else:
                d[name] = old
        self._saved.clear()


_UNSET = object()


class LiveAnswers:
    """The instructor's side: each task's answer key and catalogue (harness.course), in this process.
    ``specs``: the tasks graded (default: the default tasks folder's)."""

    side = "instructor"

    def __init__(self, specs=None):
        self._specs = specs
        self._namespace: dict | None = None
        self._catalogues: dict | None = None
        self._conventions: dict = {}

    def load(self) -> None:
        """Import every task's answer key and catalogue now (a missing or broken one is a SpecError)."""
        from . import course
        from .errors import SpecError
        from .spec import load_tasks

        specs = self._specs if self._specs is not None else load_tasks()
        self._namespace, self._catalogues = {}, {}
        for spec in specs:
            key = course.answer_key(spec)
            if key is None:
                raise SpecError(spec.path.parent / course.ANSWER_KEY, "file", "missing: the checks compare a "
                                "submission with the task's answer key", "write answer_key.py beside task.toml, e.g. "
                                f"`from reference_models.{spec.module} import *` for the default course's")
            self._namespace.setdefault(spec.module, key)
            self._catalogues.setdefault(spec.module, course.catalogue(spec))
            self._conventions.setdefault(spec.module, spec.conventions)
        for spec in specs:  # through computed, so that a release records them for students' interface maps
            self.signatures(spec)

    @property
    def namespace(self) -> dict:
        """The answer keys as a namespace of modules, in the shape a submission has (module name -> module)."""
        if self._namespace is None:
            self.load()
        return self._namespace

    def catalogue(self, module: str) -> list:
        """The known forms of ``module``'s answers (harness.course.Entry), as its task's catalogue lists them."""
        if self._catalogues is None:
            self.load()
        return self._catalogues.get(module, [])

    def draw(self, key: str, index: int, make: Callable[[], torch.Tensor]) -> torch.Tensor:
        return make()

    def reference(self, program, namespace: dict | None = None):
        from .sandbox import program as interpreter

        if namespace is not None or _KEPT is None:  # a variant's namespace is made for this call: never kept
            return detached(interpreter.run(program.to_json(), program.inputs, namespace or self.namespace))
        key = (tuple((name, id(module)) for name, module in self.namespace.items()), program_digest(program))
        if key in _KEPT:
            return map_tensors(_KEPT[key], torch.Tensor.clone)
        value = detached(interpreter.run(program.to_json(), program.inputs, self.namespace))
        if _plain(value, [KEPT_MAX_ELEMENTS]):
            if len(_KEPT) >= KEPT_MAX:
                _KEPT.clear()
            _KEPT[key] = map_tensors(value, torch.Tensor.clone)
        return value

    def variants(self, module: str, target: str) -> list:
        return [v for v in self.catalogue(module) if v.target == target]

    def mutants(self, module: str, target: str) -> list:
        """The mistakes derived from the answer key's code of ``module.target`` (harness.checks.mutants), described
        in the words of the task's contract; run like catalogue variants by :meth:`variant`."""
        from .checks.mutants import derived

        obj = getattr(self.namespace.get(module), target, None)
        return [] if obj is None else derived(module, target, obj, self._conventions.get(module))

    def variant(self, program, variant):
        namespace = dict(self.namespace)
        key = namespace[variant.module]
        patched = _VariantModule({**vars(key), variant.target: variant.impl},
                                 [vars(key), getattr(variant.impl, "__globals__", None)])
        namespace[variant.module] = patched
        try:
            return self.reference(program, namespace)
        except Exception as exc:  # noqa: BLE001 - a variant that cannot run this program matches nothing
            raise VariantFailed(f"{variant.name}: {type(exc).__name__}: {exc}") from None
        finally:
            patched.restore()

    def computed(self, key: str, compute: Callable[[], object]):
        """A value the judge computes from the answer key (e.g. baselines); ``key`` names it in a bundle."""
        return compute()

    def signatures(self, spec) -> dict:
        """The parameters and methods of the task's contract names, as the answer key has them: what an
        interface map's ``args`` and ``methods`` are checked and bound against (harness.interface)."""
        from . import interface

        names = interface.contract_names(spec.names, spec.training is not None)
        return self.computed(interface.signatures_key(spec),
                             lambda: interface.signatures(self.namespace[spec.module], names))


class BundleAnswers:
    """A student's side: expected values read from a released bundle (see harness.bundle)."""

    side = "student"

    def __init__(self, bundle):
        self.bundle = bundle

    def draw(self, key: str, index: int, make: Callable[[], torch.Tensor]) -> torch.Tensor:
        return self.bundle.draw(key, index)

    def reference(self, program, namespace: dict | None = None):
        return self.bundle.reference(program_digest(program))

    def variants(self, module: str, target: str) -> list[VariantInfo]:
        return self.bundle.variants(module, target)

    def mutants(self, module: str, target: str) -> list[VariantInfo]:
        return self.bundle.mutants(module, target)

    def variant(self, program, variant):
        return self.bundle.variant(program_digest(program), variant.name)

    def computed(self, key: str, compute: Callable[[], object]):
        return self.bundle.computed(key)

    def signatures(self, spec) -> dict | None:
        """The contract's signatures the release recorded (see LiveAnswers.signatures); None if it has none."""
        from .interface import signatures_key

        try:
            return self.bundle.computed(signatures_key(spec))
        except NotInBundle:
            return None
