"""The course's character model in Keras 3 (on PyTorch): Embedding, GRU and Dense, trained by model.fit with RMSprop,
stopped by EarlyStopping on the validation loss (the log of the validation perplexity) with the best weights put
back, and a callback that prints the validation perplexity and keeps the best model for the grader's budget."""
import math
import os

os.environ.setdefault("KERAS_BACKEND", "torch")
import keras  # noqa: E402


class Perplexity(keras.callbacks.Callback):
    """After each epoch: the validation perplexity, exp of the validation loss; the model kept when it improves."""

    def __init__(self, budget):
        super().__init__()
        self.budget, self.best, self.history = budget, math.inf, []

    def on_epoch_end(self, epoch, logs=None):
        ppl = math.exp(logs["val_loss"])
        self.history.append(ppl)
        print(f"epoch {epoch + 1}: validation perplexity {ppl:.3f}")
        if ppl < self.best:
            self.best = ppl
            self.budget.keep(self.model)


def build(vocab_size: int) -> keras.Model:
    return keras.Sequential([
        keras.layers.Embedding(vocab_size, 16),
        keras.layers.GRU(64, return_sequences=True),
        keras.layers.Dense(vocab_size),  # logits: no softmax
    ])


def fit(train, valid, budget):
    model = build(train["vocab_size"])
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=0.01),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x, y = train["x"].numpy(), train["y"].numpy()
    vx, vy = valid["x"].numpy(), valid["y"].numpy()
    # padding (id 0) is never a target: weight it 0, so that the loss is the mean over real characters
    model.fit(x, y, sample_weight=(y != 0).astype("float32"), batch_size=32, epochs=8, verbose=0,
              validation_data=(vx, vy, (vy != 0).astype("float32")),
              callbacks=[keras.callbacks.EarlyStopping(monitor="val_loss", patience=1, min_delta=0.02,
                                                       restore_best_weights=True), Perplexity(budget)])
    return model
