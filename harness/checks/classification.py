"""The classification family (many-to-one: sentiment analysis, and any labelled text): the model maps pre-padded
token ids (B, T) to logits (B, C); it is scored by accuracy and macro-F1 from the majority class (no points) to the
best of a TF-IDF logistic regression, the reference model and, when the data's generator knows it, the Bayes accuracy
(full points)."""
from __future__ import annotations

from .. import metrics
from . import Context, Verdict, register, register_figure
from .trained import (GRADED, Family, baselines, bars_figure, family, graded_figure,
                      scorable, student_figures)


@family
class Classification(Family):
    name = "classification"
    loss = "classes"
    floors = {"accuracy": ("majority class", True), "macro_f1": ("majority class", True)}
    params = ("vocab_size", "num_classes")
    output = "(B, num_classes) logits"
    shape_hint = ("check which axis is time and that the output layer has the right size; inputs are pre-padded "
                  "with 0, so the last time step is the last word")

    def build_args(self, data) -> tuple:
        return len(data.vocab), len(data.class_names)

    def training_data(self, data) -> dict:
        return {"x": data.train.ids, "y": data.train.labels}

    def probe_inputs(self, data, n: int = 4) -> list:
        return [data.train.ids[:n]]

    def expected_shape(self, data, inputs: list) -> tuple:
        return inputs[0].shape[0], len(data.class_names)

    def test_outputs(self, p, model, data) -> dict:
        return {"logits": p.op("predict", model, [data.test.ids])}

    def evaluate(self, data, out: dict) -> dict:
        logits = scorable(out["logits"], (len(data.test.labels), len(data.class_names)), "test logits")
        pred, true = logits.argmax(-1).numpy(), data.test.labels.numpy()
        labels = list(range(len(data.class_names)))
        return {"accuracy": metrics.accuracy(true, pred), "macro_f1": metrics.macro_f1(true, pred, labels),
                "confusion": metrics.confusion_matrix(true, pred, labels).tolist()}

    def classical_baselines(self, data) -> dict:
        from .. import baselines as b

        true, labels = data.test.labels.numpy(), list(range(len(data.class_names)))
        out = {}
        for name, model in (("majority class", b.MajorityClass()), ("TF-IDF logistic regression", b.TfidfLogReg())):
            pred = model.fit(data.train.texts, data.train.labels.numpy()).predict(data.test.texts)
            out[name] = {"accuracy": metrics.accuracy(true, pred), "macro_f1": metrics.macro_f1(true, pred, labels)}
        return out


@register("classification.accuracy", ["build_model"], "test accuracy between the majority class and the target",
          prepare=baselines, **GRADED)
def check_accuracy(ctx: Context) -> Verdict:
    return graded_figure(ctx, "accuracy", "test accuracy", fmt=".3f")


@register("classification.macro_f1", ["build_model"], "macro-F1 between the majority class and the target",
          prepare=baselines, **GRADED)
def check_macro_f1(ctx: Context) -> Verdict:
    return graded_figure(ctx, "macro_f1", "test macro-F1", fmt=".3f")


@register("classification.learns", ["build_model"], "accuracy clearly above the majority class",
          prepare=baselines, margin=0.05)
def check_learns(ctx: Context) -> Verdict:
    acc = student_figures(ctx)["accuracy"]
    majority = baselines(ctx)["classical"]["majority class"]["accuracy"]
    if acc < majority + ctx.options["margin"]:
        return Verdict(False, f"test accuracy {acc:.3f} is at the level of always predicting the majority class "
                       f"({majority:.3f})", "the model is not learning: check that the output depends on the input "
                       "and that the loss goes down", {"accuracy": acc, "majority": majority})
    return Verdict(True, f"test accuracy {acc:.3f} is above the majority class's {majority:.3f}",
                   numbers={"accuracy": acc, "majority": majority})


@register_figure("classification.confusion", ["build_model"], "Confusion matrix on the test split")
def confusion(ctx: Context) -> dict:
    names = ctx.data.class_names
    return {"kind": "matrix", "rows": names, "cols": names, "values": student_figures(ctx)["confusion"],
            "x_label": "predicted", "y_label": "true", "normalise": "rows"}


@register_figure("classification.accuracy", ["build_model"], "Test accuracy next to the baselines and the Bayes accuracy")
def accuracybars_figure(ctx: Context) -> dict:
    return bars_figure(ctx, "accuracy", False, "test accuracy")
