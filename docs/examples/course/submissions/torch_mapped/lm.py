"""Character language model decoding, in torch: beam search, greedy and sampled text, perplexity.

char2idx and idx2char are set by the notebook (or by whoever calls these functions) before use."""
import torch


def context_ids(text, window):
    """The last `window` characters of text as ids, left-padded with 0: a (window,) int64 tensor."""
    ids = torch.tensor([char2idx[ch] for ch in text[-window:]], dtype=torch.long)
    return torch.cat([torch.zeros(window - len(ids), dtype=torch.long), ids])


@torch.no_grad()
def next_log_probs(model, rows):
    """Log-probabilities of the next character after each row (B, T) of ids: (B, V) in float64."""
    return torch.log_softmax(model(rows.unsqueeze(-1))[:, -1, :].double(), dim=-1)


def pick_candidates(probs, width, n_chars, scores, paths, temperature, how):
    probs, scores, paths = torch.as_tensor(probs), torch.as_tensor(scores), torch.as_tensor(paths)
    step = torch.log(probs + 1e-10)
    summed = (scores.unsqueeze(1) + step).flatten()
    if how == "det":
        keep = torch.sort(summed, descending=True).indices[:width]
    elif how == "sto":
        keep = torch.multinomial(torch.softmax(step.flatten() / temperature, dim=0), width, replacement=False)
    else:
        raise ValueError(how)
    grown = torch.cat([paths[torch.div(keep, n_chars, rounding_mode="floor")], (keep % n_chars).unsqueeze(1)], dim=1)
    return summed[keep], grown


def beam_decode(model, width, n_chars, prompt, window, temperature=1.0, how="det"):
    model.eval()
    paths, scores = context_ids(prompt, window).unsqueeze(0), torch.zeros(1, dtype=torch.float64)
    for _ in range(n_chars):
        probs = next_log_probs(model, paths[:, -window:]).exp()
        scores, paths = pick_candidates(probs, width, probs.shape[1], scores, paths, temperature, how)
    return paths[:, -(len(prompt) + n_chars):]


def greedy_text(model, prompt, window, n_chars):
    model.eval()
    for _ in range(n_chars):
        prompt += idx2char[int(next_log_probs(model, context_ids(prompt, window).unsqueeze(0)).argmax())]
    return prompt


def sample_text(model, prompt, window, n_chars, temperature=1.0):
    model.eval()
    for _ in range(n_chars):
        logp = next_log_probs(model, context_ids(prompt, window).unsqueeze(0))[0]
        prompt += idx2char[int(torch.multinomial(torch.softmax(logp / temperature, dim=0), 1))]
    return prompt


def perplexity(model, contexts, targets, rows_per_call=256):
    model.eval()
    total = torch.zeros((), dtype=torch.float64)
    for start in range(0, len(contexts), rows_per_call):
        logp = next_log_probs(model, torch.as_tensor(contexts[start:start + rows_per_call]))
        picked = torch.as_tensor(targets[start:start + rows_per_call])
        total += logp[torch.arange(len(picked)), picked].sum()
    return torch.exp(-total / len(contexts))
