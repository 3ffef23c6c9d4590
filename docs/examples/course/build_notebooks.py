"""Writes the two notebook submissions of the charlm_course example, as a student of the course leaves them:
imports (one of a framework the grader lacks), a corpus downloaded, a model trained and plotted at top level, and
the graded functions in numpy over the model, reading char2idx and idx2char as globals.

    python docs/examples/course/build_notebooks.py

notebook/ draws its stochastic beam the textbook's way (the task's convention); template_sto/ is the same notebook
with the course template's stochastic mode (with replacement, from summed scores). tests/test_course_assignment.py
checks that the committed notebooks are what this script writes.

It also writes training/submissions/torch_loop/, the notebook of the trained part (charlm_course_model): the
student's own training loop in fit, stopped on the validation perplexity, with the corpus read, the model trained and
its curve plotted at top level; tests/test_course_training.py checks it.
"""
from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
MODULE = "charlm_course.ipynb"

TEXTBOOK_DRAW = """\
    elif mode == 'sto':
        # textbook: distinct candidates, weighed by this step's log-probability
        step_scores = np.log(np.array(pred) + 1e-10).ravel()
        idx_select = np.random.choice(np.arange(len(pred_large)), num_beams, replace=False,
                                      p=softmax(step_scores / temp))"""

TEMPLATE_DRAW = """\
    elif mode == 'sto':
        # draw num_beams candidates from the summed scores, as in class
        idx_select = np.random.choice(np.arange(len(pred_large)), num_beams, p=softmax(pred_large / temp))"""

CELLS = [
    ("markdown", "# Desafío 3: modelo de lenguaje por caracteres\n\nCorpus: a novel from Project Gutenberg."),
    ("code", """\
import urllib.request
import numpy as np
import matplotlib.pyplot as plt
import torch
import torch.nn as nn
import torch.nn.functional as F
from scipy.special import softmax
from tensorflow.keras.utils import pad_sequences"""),
    ("code", "!pip install -q gradio\n!wget -q https://www.gutenberg.org/cache/epub/2000/pg2000.txt -O corpus.txt"),
    ("code", """\
url = 'https://www.gutenberg.org/cache/epub/2000/pg2000.txt'
raw_text = urllib.request.urlopen(url).read().decode('utf-8')
text = raw_text[5000:300000].lower()
print(len(text))"""),
    ("code", "max_context_size = 100"),
    ("code", """\
chars_vocab = sorted(set(text))
char2idx = {ch: i for i, ch in enumerate(chars_vocab)}
idx2char = {i: ch for ch, i in char2idx.items()}
vocab_size = len(chars_vocab)
tokenized_text = [char2idx[ch] for ch in text]"""),
    ("code", """\
num_val = len(tokenized_text) // 10 // max_context_size
train_text = tokenized_text[:-num_val * max_context_size]
val_text = tokenized_text[-num_val * max_context_size:]
windows = [train_text[i:i + max_context_size + 1] for i in range(0, len(train_text) - max_context_size, 3)]
X = torch.tensor([w[:-1] for w in windows])
y = torch.tensor([w[1:] for w in windows])"""),
    ("code", """\
class RNNModel(nn.Module):
    def __init__(self, vocab_size, hidden_size=200):
        super().__init__()
        self.vocab_size = vocab_size
        self.rnn = nn.GRU(vocab_size, hidden_size, batch_first=True)
        self.fc = nn.Linear(hidden_size, vocab_size)

    def forward(self, x):
        x = F.one_hot(x.squeeze(-1).long(), self.vocab_size).float()  # (batch, seq_len, vocab_size)
        out, _ = self.rnn(x)
        return self.fc(out)                                          # logits (batch, seq_len, vocab_size)


device = 'cuda' if torch.cuda.is_available() else 'cpu'
model = RNNModel(vocab_size).to(device)"""),
    ("code", """\
def compute_perplexity(model, val_inputs, val_targets, batch_size=256):
    model.eval()
    log_likelihoods = []
    with torch.no_grad():
        for start in range(0, len(val_inputs), batch_size):
            xb = val_inputs[start:start + batch_size].to(device)
            yb = val_targets[start:start + batch_size].to(device)
            logits = model(xb.unsqueeze(-1))
            log_probs = F.log_softmax(logits[:, -1, :], dim=-1)
            log_likelihoods.extend(log_probs[range(len(yb)), yb].cpu().numpy())
    return float(np.exp(-np.mean(log_likelihoods)))"""),
    ("code", """\
optimizer = torch.optim.RMSprop(model.parameters(), lr=0.001)
history_ppl = []
for epoch in range(15):
    model.train()
    for i in range(0, len(X), 256):
        xb, yb = X[i:i + 256].to(device), y[i:i + 256].to(device)
        optimizer.zero_grad()
        loss = F.cross_entropy(model(xb.unsqueeze(-1)).transpose(1, 2), yb)
        loss.backward()
        optimizer.step()
    history_ppl.append(compute_perplexity(model, X[:512, :-1], X[:512, -1]))
    print(epoch, history_ppl[-1])"""),
    ("code", "plt.plot(history_ppl)\nplt.xlabel('epoch')\nplt.ylabel('validation perplexity')\nplt.show()"),
    ("markdown", "## Generación"),
    ("code", """\
def encode(text, max_length=max_context_size):
    ids = [char2idx[ch] for ch in text][-max_length:]
    return [0] * (max_length - len(ids)) + ids


def decode(ids):
    return ''.join(idx2char[int(i)] for i in ids)


def generate_seq(model, seed_text, max_length, n_words):
    model.eval()
    device = next(model.parameters()).device
    output_text = seed_text
    for _ in range(n_words):
        x = torch.tensor(encode(output_text, max_length)).view(1, -1, 1).to(device)
        with torch.no_grad():
            probs = F.softmax(model(x)[0, -1, :], dim=-1)
        output_text += idx2char[torch.argmax(probs).item()]
    return output_text


generate_seq(model, 'en un lugar de la mancha', max_context_size, 50)"""),
    ("code", """\
def select_candidates(pred, num_beams, vocab_size, history_probs, history_tokens, temp, mode):
    pred_large = []
    for idx, pp in enumerate(pred):
        pred_large.extend(np.log(pp + 1e-10) + history_probs[idx])
    pred_large = np.array(pred_large)
    if mode == 'det':
        idx_select = np.argsort(pred_large)[::-1][:num_beams]
{draw}
    else:
        raise ValueError(f'unknown mode {mode}')
    new_history_tokens = np.concatenate((np.array(history_tokens)[idx_select // vocab_size],
                                         np.array([idx_select % vocab_size]).T), axis=1)
    return pred_large[idx_select], new_history_tokens.astype(int)


def beam_search(model, num_beams, num_words, input_text, max_length, temp=1.0, mode='det'):
    model.eval()
    device = next(model.parameters()).device
    encoded = encode(input_text, max_length)
    with torch.no_grad():
        logits = model(torch.tensor(encoded).view(1, -1, 1).to(device))
    probs = F.softmax(logits[0, -1, :], dim=-1).cpu().numpy()
    vocab_size = probs.shape[0]
    history_probs, history_tokens = select_candidates([probs], num_beams, vocab_size, [0], [encoded], temp, mode)
    for _ in range(num_words - 1):
        preds = []
        for hist in history_tokens:
            x = torch.tensor(hist[-max_length:]).view(1, -1, 1).to(device)
            with torch.no_grad():
                preds.append(F.softmax(model(x)[0, -1, :], dim=-1).cpu().numpy())
        history_probs, history_tokens = select_candidates(preds, num_beams, vocab_size, history_probs,
                                                          history_tokens, temp, mode)
    return history_tokens[:, -(len(input_text) + num_words):]"""),
    ("code", """\
salidas = beam_search(model, num_beams=10, num_words=100, input_text='en un lugar de la mancha',
                      max_length=max_context_size, temp=1.0, mode='sto')
for s in salidas[:3]:
    print(decode(s))"""),
    ("code", """\
def sample_seq(model, seed_text, max_length, n_words, temp=1.0):
    model.eval()
    output_text = seed_text
    for _ in range(n_words):
        x = torch.tensor(encode(output_text, max_length)).view(1, -1, 1)
        with torch.no_grad():
            p = F.softmax(model(x)[0, -1, :].double() / temp, dim=-1).numpy()
        output_text += idx2char[np.random.choice(len(p), p=p / p.sum())]
    return output_text


for temp in [0.2, 0.5, 1.0, 1.5]:
    print(temp, sample_seq(model, 'en un lugar de la mancha', max_context_size, 80, temp))"""),
]


TRAINING_CELLS = [
    ("markdown", "# Desafío 3, segunda parte: entrenar el modelo\n\nEl corpus es `corpus.txt`, el texto de la cátedra."),
    ("code", """\
import math
import numpy as np
import matplotlib.pyplot as plt
import torch
import torch.nn as nn
import torch.nn.functional as F"""),
    ("code", """\
with open('corpus.txt') as f:
    text = f.read()
chars_vocab = sorted(set(text))
char2idx = {ch: i + 1 for i, ch in enumerate(chars_vocab)}  # 0 is padding
vocab_size = len(chars_vocab) + 1
max_context_size = 100
history_ppl = []                     # the validation perplexity of each epoch, for the plot"""),
    ("code", """\
class CharRNN(nn.Module):
    def __init__(self, vocab_size, embedding_dim=16, hidden_size=64):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.rnn = nn.GRU(embedding_dim, hidden_size, batch_first=True)
        self.fc = nn.Linear(hidden_size, vocab_size)

    def forward(self, x):
        if x.dim() == 3:            # (batch, seq_len, 1), as in class
            x = x.squeeze(-1)
        out, _ = self.rnn(self.embedding(x))
        return self.fc(out)         # logits (batch, seq_len, vocab_size)"""),
    ("code", """\
def val_perplexity(model, x, y, batch_size=256):
    # every character of the validation text counts once: sum the NLL, divide by the count, exponentiate once
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            logits = model(x[i:i + batch_size])
            yb = y[i:i + batch_size]
            total += F.cross_entropy(logits.transpose(1, 2), yb, ignore_index=0, reduction='sum').item()
            count += (yb != 0).sum().item()
    model.train()
    return math.exp(total / count)"""),
    ("code", """\
def fit(train, valid, budget, num_epochs=8, patience=2, batch_size=32):
    model = CharRNN(train['vocab_size'])
    optimizer = torch.optim.RMSprop(model.parameters(), lr=0.01)
    X, y = train['x'], train['y']
    min_score, patience_counter = float('inf'), 0
    for epoch in range(num_epochs):
        for i in torch.randperm(len(X)).split(batch_size):
            optimizer.zero_grad()
            loss = F.cross_entropy(model(X[i]).transpose(1, 2), y[i], ignore_index=0)
            loss.backward()
            optimizer.step()
        current_ppl = val_perplexity(model, valid['x'], valid['y'])
        history_ppl.append(current_ppl)
        print(f'epoch {epoch + 1}: val ppl {current_ppl:.3f}')
        if current_ppl < min_score:
            min_score, patience_counter = current_ppl, 0
            budget.keep(model)          # the best model so far: what is graded
        else:
            patience_counter += 1
            if patience_counter >= patience:
                break
    return budget.kept"""),
    ("code", """\
class NoBudget:
    kept = None
    def keep(self, model):
        self.kept = model

ids = torch.tensor([char2idx[ch] for ch in text])
cut = int(len(ids) * 0.9)
windows = lambda t: t[:len(t) - 1 - (len(t) - 1) % max_context_size]
train_ids, valid_ids = windows(ids[:cut + 1]), windows(ids[cut:])
train = {'x': train_ids[:-1].view(-1, max_context_size), 'y': train_ids[1:].view(-1, max_context_size),
         'vocab_size': vocab_size}
valid = {'x': valid_ids[:-1].view(-1, max_context_size), 'y': valid_ids[1:].view(-1, max_context_size)}
model = fit(train, valid, NoBudget())"""),
    ("code", "plt.plot(history_ppl)\nplt.xlabel('epoch')\nplt.ylabel('val perplexity')\nplt.show()"),
]


def notebook(draw: str, cells: list = CELLS) -> nbformat.NotebookNode:
    cells = [new_markdown_cell(text) if kind == "markdown" else new_code_cell(text.replace("{draw}", draw))
             for kind, text in cells]
    nb = new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"},
                                             "language_info": {"name": "python"}})
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i}"
    return nb


def write(root: Path = HERE / "submissions") -> list[Path]:
    written = []
    for folder, draw in (("notebook", TEXTBOOK_DRAW), ("template_sto", TEMPLATE_DRAW)):
        path = root / folder / MODULE
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook(draw), path)
        written.append(path)
    return written


TRAINED_MODULE = "charlm_course_model.ipynb"


def write_trained(root: Path = HERE / "training" / "submissions") -> Path:
    """The notebook of the trained part, in ``root``/torch_loop/."""
    path = root / "torch_loop" / TRAINED_MODULE
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook("", TRAINING_CELLS), path)
    return path


if __name__ == "__main__":
    for path in write(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "submissions"):
        print(path)
    print(write_trained(Path(sys.argv[2]) if len(sys.argv) > 2 else HERE / "training" / "submissions"))
