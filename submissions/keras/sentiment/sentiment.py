"""Sentiment analysis in Keras 3: the reference submission's model (embed, LSTM, classify from the last step),
written as a course's Keras notebook writes it. The harness trains it with its own recipe on Keras's torch backend."""
import keras
from keras import layers

HYPERPARAMETERS = {"lr": 0.005, "epochs": 6, "batch_size": 64}


def build_model(vocab_size, num_classes):
    return keras.Sequential([
        layers.Embedding(vocab_size, 32),
        layers.LSTM(64),              # inputs are pre-padded: its last state has read the last word
        layers.Dense(num_classes),    # logits: the harness's loss is cross-entropy, so no softmax
    ])
