"""The worker's runtime: what runs in the worker process, all of it, and nothing else.

The launcher (``harness/sandbox/launcher.py``) copies this folder whole into each worker's scratch
directory, as the package ``_harness_runtime``; the worker never imports it from the checkout. So a
module here imports only the standard library, torch, numpy, safetensors and its siblings (relatively),
never the rest of the harness (``tests/test_runtime_boundary.py`` holds it to that).

- ``worker.py``: the worker's main loop, the import blocker and the tripwire (worker only);
- ``failures.py``: an error of the submission's code described for the student (both sides);
- ``confine.py``: the worker confines itself (worker only);
- ``config.py``: the limits and the confinement the judge sends (both sides);
- ``wire.py``: the framed, pickle-free protocol (both sides);
- ``interpreter.py``, ``ops.py``, ``table_model.py``, ``training.py``, ``fitting.py``: programs and the ops they call
  (a student's ``fit`` under its budget, and trained models kept between two programs in ``fitting.py``; next-token
  tables as a ``step`` or as a course's model in ``table_model.py``), evaluated in the worker against a submission
  and in the judge against the answer key (both sides); ``contract.py``: the error they raise when a submission
  does not have the contract's shape;
- ``tokens.py``, ``forbidden.py``: facts both sides must agree on, said once (special token ids, the
  built-ins the implement-it-yourself rule forbids).
"""
