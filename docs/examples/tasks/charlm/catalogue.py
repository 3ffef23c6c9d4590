"""Known forms of an answer: a wrong output that matches one is named in the student's hint."""


def multiplied_by_temperature(logits, temperature=1.0):
    z = logits * temperature
    e = (z - z.max(dim=-1, keepdim=True).values).exp()
    return e / e.sum(dim=-1, keepdim=True)


CATALOGUE = [
    {"name": "multiplied_by_temperature", "target": "softmax_t", "kind": "mistake",
     "description": "the logits are multiplied by the temperature; divide them by it, so that a low "
                    "temperature sharpens the distribution",
     "impl": multiplied_by_temperature},
]
