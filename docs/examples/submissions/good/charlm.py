# A correct submission written differently from the answer key: log-sum-exp, embedding(), einsum.
import torch


def softmax_t(logits, temperature=1.0):
    z = logits / temperature
    return torch.exp(z - torch.logsumexp(z, dim=-1, keepdim=True))


class CharScorer(torch.nn.Module):
    def __init__(self, n_chars, n_hidden):
        super().__init__()
        self.embed = torch.nn.Parameter(torch.empty(n_chars, n_hidden).uniform_(-0.1, 0.1))
        self.out = torch.nn.Parameter(torch.empty(n_hidden, n_chars).uniform_(-0.1, 0.1))
        self.bias = torch.nn.Parameter(torch.zeros(n_chars))

    def forward(self, ids):
        hidden = torch.nn.functional.embedding(ids, self.embed).tanh()
        return torch.einsum("bth,hc->btc", hidden, self.out) + self.bias


def greedy_decode(step, bos, eos, max_len):
    out = []
    for _ in range(max_len):
        token = int(torch.as_tensor(step([bos] + out)).argmax())
        out.append(token)
        if token == eos:
            return out
    return out
