"""Slips seen in this assignment: a wrong output that matches one is named in the student's hint. Each variant
builds on the answer key (loaded from this folder, judge side only), changing the one thing it names."""
from pathlib import Path

import numpy as np
import torch

from harness.course import ANSWER_KEY, task_python

KEY = task_python(Path(__file__).parent, ANSWER_KEY)


def without_history(pred, num_beams, vocab_size, history_probs, history_tokens, temp, mode):
    return KEY.select_candidates(pred, num_beams, vocab_size, np.zeros(len(pred)), history_tokens, temp, mode)


def keeps_the_worst(pred, num_beams, vocab_size, history_probs, history_tokens, temp, mode):
    total = (np.asarray(history_probs)[:, None] + np.log(np.asarray(pred) + 1e-10)).ravel()
    chosen = np.argsort(total)[:num_beams]
    return total[chosen], np.concatenate([np.asarray(history_tokens)[chosen // vocab_size],
                                          (chosen % vocab_size)[:, None]], axis=1)


def parent_by_num_beams(pred, num_beams, vocab_size, history_probs, history_tokens, temp, mode):
    total = (np.asarray(history_probs)[:, None] + np.log(np.asarray(pred) + 1e-10)).ravel()
    chosen = np.argsort(total)[::-1][:num_beams]
    parents = np.minimum(chosen // num_beams, len(history_tokens) - 1)
    return total[chosen], np.concatenate([np.asarray(history_tokens)[parents], (chosen % num_beams)[:, None]],
                                         axis=1)


def first_step_from_every_copy(model, num_beams, num_words, input_text, max_length, temp=1.0, mode="det"):
    history_tokens = np.repeat(KEY.encode(input_text, max_length)[None, :], num_beams, axis=0)
    history_probs = np.zeros(num_beams)
    for _ in range(num_words):
        pred = KEY.next_char_probs(model, history_tokens[:, -max_length:])
        history_probs, history_tokens = KEY.select_candidates(pred, num_beams, pred.shape[1], history_probs,
                                                              history_tokens, temp, mode)
    return history_tokens[:, -(len(input_text) + num_words):]


def first_position(model, seed_text, max_length, n_words):
    text = seed_text
    for _ in range(n_words):
        x = torch.as_tensor(KEY.encode(text, max_length)).view(1, -1, 1)
        with torch.no_grad():
            text += KEY.idx2char[int(model(x)[0, 0].argmax())]
    return text


def logits_as_log_probs(model, val_inputs, val_targets, batch_size=256):
    with torch.no_grad():
        logits = model(torch.as_tensor(val_inputs).unsqueeze(-1))[:, -1, :].double()
    targets = torch.as_tensor(val_targets)
    return float(torch.exp(-logits[torch.arange(len(targets)), targets].mean()))


CATALOGUE = [
    {"name": "without_history", "target": "select_candidates", "kind": "mistake",
     "description": "the candidates are ranked by this step's log-probability alone; add each hypothesis's "
                    "history_probs, so that a candidate's score is the summed log-probability of its whole text",
     "impl": without_history},
    {"name": "keeps_the_worst", "target": "select_candidates", "kind": "mistake",
     "description": "np.argsort sorts from the smallest score up, so the beam keeps the least probable candidates; "
                    "reverse it (np.argsort(scores)[::-1]) before taking num_beams",
     "impl": keeps_the_worst},
    {"name": "parent_by_num_beams", "target": "select_candidates", "kind": "mistake",
     "description": "candidate i is hypothesis i // vocab_size extended by character i % vocab_size (each "
                    "hypothesis has vocab_size candidates in a row); the code divides by num_beams",
     "impl": parent_by_num_beams},
    {"name": "first_step_from_every_copy", "target": "beam_search", "kind": "mistake",
     "description": "the first step extends num_beams copies of input_text, so the beam fills with copies of one "
                    "hypothesis; the first step extends input_text once, and the beam holds distinct candidates",
     "impl": first_step_from_every_copy},
    {"name": "first_position", "target": "generate_seq", "kind": "mistake",
     "description": "the next character is read from the model's first position (logits[0, 0]), which has seen "
                    "only padding; read the last one, logits[0, -1], which has seen the whole context",
     "impl": first_position},
    {"name": "logits_as_log_probs", "target": "compute_perplexity", "kind": "mistake",
     "description": "the targets' logits are used as log-probabilities; take F.log_softmax of the last position's "
                    "logits first (logits are unnormalised)",
     "impl": logits_as_log_probs},
]
