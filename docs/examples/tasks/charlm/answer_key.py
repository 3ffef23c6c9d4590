"""The answer key of the charlm task: what the checks compare a submission with. Judge side only."""
import torch


def softmax_t(logits, temperature=1.0):
    """Softmax over the last axis of logits / temperature."""
    z = logits / temperature
    z = z - z.max(dim=-1, keepdim=True).values
    e = z.exp()
    return e / e.sum(dim=-1, keepdim=True)


class CharScorer(torch.nn.Module):
    """Logits of the next character: tanh(embed[ids]) @ out + bias."""

    def __init__(self, n_chars, n_hidden):
        super().__init__()
        self.embed = torch.nn.Parameter(torch.randn(n_chars, n_hidden))
        self.out = torch.nn.Parameter(torch.randn(n_hidden, n_chars))
        self.bias = torch.nn.Parameter(torch.zeros(n_chars))

    def forward(self, ids):
        return torch.tanh(self.embed[ids]) @ self.out + self.bias


def greedy_decode(step, bos, eos, max_len):
    """The arg-max token again and again: the tokens after bos, eos included when emitted."""
    tokens = []
    while len(tokens) < max_len:
        tokens.append(int(torch.argmax(torch.as_tensor(step([bos, *tokens])))))
        if tokens[-1] == eos:
            break
    return tokens
