"""The answer key of the course: reference implementations of the student contract.

Used only in the trusted judge process, never handed to students' code. One module per contract
module (`cells`, `attention`, `sequences`, `generation`), plus `variants`: a catalogue of known
variants and common mistakes, which the judge uses to say *what* a wrong answer got wrong.
"""
