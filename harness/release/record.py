"""Recording a public bundle: every value a public check can ask the answer key for, computed once.

Each public check (and figure) is run in this process several times — with the answer key standing in
for the submission, and then with each catalogue variant of the names it tests standing in, so that
the paths a wrong submission takes (diagnosis included) are walked too. Every random input drawn,
every program the answer key evaluates, and every variant's value of those programs is recorded;
for each answer-key program, the variants of the names it calls are evaluated as well, so that
diagnosis works on a case no variant happened to fail — and so are the mistakes derived from the answer
key's code (harness.checks.mutants), whose values are recorded when they differ from the answer key's (one
that gives the answer key's value on a program is never named there, so it needs no record). Programs
never depend on a submission's outputs, only on the check's seeded inputs, which is what makes the record
complete.
"""
from __future__ import annotations

import types
from dataclasses import asdict

import torch

from ..answers import LiveAnswers, VariantFailed, VariantInfo, program_digest
from ..bundle import Contents
from ..cache import figures_digest
from ..checks import Context, load_builtin_checks
from ..checks.compare import close
from ..checks.mutants import KIND
from ..grading import settle_torch, view_of
from ..sandbox import program as interpreter
from ..runtime import wire
from ..spec import TaskSpec, not_run_counts
from ..submission import ModuleSource


class RecordError(Exception):
    """A check does not replay: its inputs differ between runs. A bug of the check, not of the spec."""


class Recorder(LiveAnswers):
    """The live answer key, keeping a copy of everything it is asked."""

    def __init__(self, specs):
        super().__init__(specs)
        self.contents = Contents()

    def draw(self, key, index, make):
        value = make()
        seq = self.contents.draws.setdefault(key, [])
        if index < len(seq):
            if not (seq[index].shape == value.shape and torch.equal(seq[index], value)):
                raise RecordError(f"{key}: random input {index} differs between two runs of the check")
        else:
            seq.append(value.clone())
        return value

    def reference(self, program, namespace=None):
        value = super().reference(program, namespace)
        if namespace is None:  # the answer key's own value (a trained task's reference model goes by computed)
            digest = program_digest(program)
            if digest not in self.contents.references:
                self.contents.references[digest] = value
                for variant in self._called_by(program):
                    try:
                        self.variant(program, variant)
                    except VariantFailed:
                        pass
        return value

    def variant(self, program, variant):
        digest = program_digest(program)
        by_name = self.contents.variants.setdefault(digest, {})
        try:
            value = super().variant(program, variant)
        except VariantFailed:
            if variant.kind != KIND:  # a mutant the bundle does not hold has failed (or matches nothing) there
                by_name[variant.name] = VariantFailed
            raise
        if variant.kind != KIND or not _same(value, self.contents.references.get(digest)):
            by_name[variant.name] = value
        return value

    def computed(self, key, compute):
        if key not in self.contents.computed:
            value = compute()
            if isinstance(value, dict) and "cache_key" in value:  # said to the instructor, never written to the bundle
                self.contents.cache_keys.append(value["cache_key"])
                value = {k: v for k, v in value.items() if k != "cache_key"}
                self.contents.figures_used[key] = figures_digest(value)  # as harness cache list names them
            self.contents.computed[key] = value
        return self.contents.computed[key]

    def _called_by(self, program) -> list:
        """The catalogue's variants, then the derived mistakes, of the names ``program`` calls."""
        called = _called_names(program.to_json())
        variants = [v for module in self.namespace for v in self.catalogue(module) if f"{v.module}.{v.target}" in called]
        return variants + [m for module in self.namespace for name in dir(self.namespace[module])
                           if f"{module}.{name}" in called for m in self.mutants(module, name)]


def _same(value, reference) -> bool:
    """True when a mutant's value is exactly the answer key's (it is then never named, and not recorded)."""
    return reference is not None and close(value, reference, 0.0, 0.0)


def _called_names(tree) -> set[str]:
    """The namespace names (``module.attr``) a program calls or looks up."""
    found = set()
    if isinstance(tree, dict):
        for key in ("call", "lookup"):
            if isinstance(tree.get(key), str):
                found.add(tree[key])
        for value in tree.values():
            found |= _called_names(value)
    elif isinstance(tree, list):
        for value in tree:
            found |= _called_names(value)
    return found


def _in_process_runner(namespace: dict):
    """Run programs on ``namespace`` in this process, values passed through the wire's encoding, as a
    submission's values arrive from the worker."""

    def run(program, timeout=None):
        value = interpreter.run(program.to_json(), program.inputs, namespace)
        tree, tensors = wire.encode(value)
        return types.SimpleNamespace(header={"ok": True}, value=wire.decode(tree, tensors))

    return run


def _stand_ins(answers: LiveAnswers, module: str, needs: tuple[str, ...]):
    """The answer key (as None, namespace), then the answer key with each catalogue variant of ``needs`` swapped in
    (as variant, namespace)."""
    yield None, answers.namespace
    for variant in answers.catalogue(module):
        if variant.target in needs:
            patched = types.SimpleNamespace(**vars(answers.namespace[module]))
            setattr(patched, variant.target, variant.impl)
            yield variant, {**answers.namespace, module: patched}


def record(specs: list[TaskSpec]) -> Contents:
    """Everything the public checks and figures of ``specs`` ask of the answer key, computed as grading computes it:
    on one thread with deterministic algorithms (a release on a busy machine was ten times slower without), and with
    what a task's checks and figures share kept for the next, as grading keeps it for a submission (a trained model's
    run: one per task, not one per check and figure)."""
    load_builtin_checks()
    settle_torch()
    recorder = Recorder(specs)
    modules = list(dict.fromkeys(spec.module for spec in specs))
    for spec in specs:
        public = [c for c in spec.checks if not c.graded_later]
        later = [c for c in spec.checks if c.graded_later]
        shared = _state(spec)  # the answer key's, as a submission's in grading.grade; each variant gets its own
        for check in public:
            definition = spec.definitions[check.definition]
            if definition.prepare is not None:
                definition.prepare(_context(spec, check.id, check.options, spec.seed, None, recorder, view_of(check),
                                            _state(spec)))
                continue
            for variant, namespace in _stand_ins(recorder, spec.module, definition.needs_for(check.options)):
                ctx = _context(spec, check.id, check.options, spec.seed, _in_process_runner(namespace), recorder,
                               view_of(check), shared if variant is None else _state(spec))
                try:
                    definition.func(ctx)
                except RecordError:
                    raise
                except Exception:  # noqa: BLE001 - a stand-in that breaks the check has given what it could
                    pass
        for figure_id in spec.figures:
            figure = spec.figure_definitions[figure_id]
            ctx = _context(spec, figure_id, {}, spec.seed, _in_process_runner(recorder.namespace), recorder, "public",
                           shared)
            try:
                figure.func(ctx)
            except RecordError:
                raise
            except Exception:  # noqa: BLE001 - a trained task's figure needs a trained model; its baselines are in
                pass
        recorder.contents.tasks[spec.name] = {
            "digest": spec.public_digest,  # never spec.digest: it hashes hidden.toml (its seed could be searched)
            "withheld": withheld(later)}
    recorder.contents.catalogue = [_info(variant) for module in modules for variant in recorder.catalogue(module)]
    contract = dict.fromkeys((spec.module, name) for spec in specs for name in spec.names)
    recorder.contents.mutants = [_info(mutant) for module, name in contract for mutant in recorder.mutants(module, name)]
    return recorder.contents


def _info(variant) -> VariantInfo:
    """What the bundle keeps of a variant or a mutant: all but its code."""
    return VariantInfo(**{k: v for k, v in asdict(variant).items() if k != "impl"})


def withheld(later: list) -> dict:
    """What the bundle tells the student of the checks graded after submission: how many, their points,
    and how many of them (and their points) are never shown (visibility "hidden")."""
    counts = not_run_counts(later)
    return {"checks": counts["not_run_checks"], "points": counts["not_run_points"],
            "never_shown_checks": counts["never_shown_checks"], "never_shown_points": counts["never_shown_points"]}


def _state(spec) -> dict:
    """A fresh state for a task's checks and figures to share; it names every view the task's checks score, so that
    one reference training run serves them all (harness.checks.trained)."""
    return {"views": tuple(dict.fromkeys(view_of(c) for c in spec.checks))}


def _context(spec, check_id, options, seed, runner, answers, view, state: dict) -> Context:
    return Context(check_id, options, spec.tolerances, seed, runner, answers, spec, state, view=view,
                   source=ModuleSource(spec.module))
