"""The answer key of charlm_course, written in numpy as the course's notebook is. Judge side only.

char2idx, idx2char and device are notebook globals: the checks set them before each call."""
import numpy as np
import torch
import torch.nn.functional as F
from scipy.special import softmax


def encode(text, max_length):
    """The ids of text's last max_length characters, padded on the left with 0 up to max_length."""
    ids = [char2idx[ch] for ch in text][-max_length:]
    return np.array([0] * (max_length - len(ids)) + ids, dtype=np.int64)


def next_char_probs(model, contexts):
    """Next-character probabilities (B, V) after each row of contexts (B, T): the model's last position."""
    x = torch.as_tensor(np.asarray(contexts), dtype=torch.long).unsqueeze(-1)  # (B, T, 1)
    with torch.no_grad():
        logits = model(x)[:, -1, :]
    return softmax(logits.double().cpu().numpy(), axis=-1)


def select_candidates(pred, num_beams, vocab_size, history_probs, history_tokens, temp, mode):
    step = np.log(np.asarray(pred) + 1e-10)                      # (B, V): log p(next | hypothesis)
    total = (np.asarray(history_probs)[:, None] + step).ravel()  # (B * V,): candidate b * V + v
    if mode == "det":
        chosen = np.argsort(total)[::-1][:num_beams]
    elif mode == "sto":
        chosen = np.random.choice(total.size, num_beams, replace=False, p=softmax(step.ravel() / temp))
    else:
        raise ValueError(f"mode must be 'det' or 'sto', got {mode!r}")
    parents, tokens = chosen // vocab_size, chosen % vocab_size
    return total[chosen], np.concatenate([np.asarray(history_tokens)[parents], tokens[:, None]], axis=1)


def beam_search(model, num_beams, num_words, input_text, max_length, temp=1.0, mode="det"):
    model.eval()
    history_tokens = encode(input_text, max_length)[None, :]  # one hypothesis: the padded seed
    history_probs = np.zeros(1)
    for _ in range(num_words):
        pred = next_char_probs(model, history_tokens[:, -max_length:])
        history_probs, history_tokens = select_candidates(pred, num_beams, pred.shape[1], history_probs,
                                                          history_tokens, temp, mode)
    return history_tokens[:, -(len(input_text) + num_words):]


def generate_seq(model, seed_text, max_length, n_words):
    model.eval()
    output_text = seed_text
    for _ in range(n_words):
        probs = next_char_probs(model, encode(output_text, max_length)[None, :])[0]
        output_text += idx2char[int(np.argmax(probs))]
    return output_text


def sample_seq(model, seed_text, max_length, n_words, temp=1.0):
    model.eval()
    output_text = seed_text
    for _ in range(n_words):
        probs = next_char_probs(model, encode(output_text, max_length)[None, :])[0]
        p = softmax(np.log(probs + 1e-10) / temp)
        output_text += idx2char[int(np.random.choice(p.size, p=p))]
    return output_text


def compute_perplexity(model, val_inputs, val_targets, batch_size=256):
    model.eval()
    chosen = []
    for i in range(0, len(val_inputs), batch_size):
        x = torch.as_tensor(val_inputs[i:i + batch_size]).to(device).unsqueeze(-1)  # (B, T, 1)
        y = torch.as_tensor(val_targets[i:i + batch_size]).to(device)
        with torch.no_grad():
            log_probs = F.log_softmax(model(x)[:, -1, :].double(), dim=-1)
        chosen.append(log_probs[torch.arange(len(y)), y].cpu().numpy())
    return float(np.exp(-np.concatenate(chosen).mean()))
