"""Sentiment analysis in Keras 3: the reference submission's model (embed, LSTM, classify from the last step),
written as a course's Keras notebook writes it. The harness trains it with its own loop on Keras's torch backend,
with the optimiser and early stopping this submission chooses within the task's bounds."""
import keras
from keras import layers

# as a Keras course trains it: RMSprop, and early stopping on the validation loss (the best epoch's weights kept)
HYPERPARAMETERS = {"optimizer": "rmsprop", "lr": 0.003, "epochs": 10, "batch_size": 64, "patience": 2}


def build_model(vocab_size, num_classes):
    return keras.Sequential([
        layers.Embedding(vocab_size, 32),
        layers.LSTM(64),              # inputs are pre-padded: its last state has read the last word
        layers.Dense(num_classes),    # logits: the harness's loss is cross-entropy, so no softmax
    ])
