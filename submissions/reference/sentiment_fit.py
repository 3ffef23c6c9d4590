"""Sentiment analysis trained by my own fit: the LSTM classifier of sentiment.py, Adam, a fixed number of epochs, and
the epoch with the best validation accuracy returned."""
import torch
from torch import nn

from sentiment import SentimentLSTM  # the model of my sentiment.py: here I train it myself


def valid_accuracy(model, valid):
    model.eval()
    with torch.no_grad():
        predicted = model(valid["x"]).argmax(dim=1)
    model.train()
    return (predicted == valid["y"]).float().mean().item()


def fit(train, valid, budget, epochs=6, batch_size=64):
    model = SentimentLSTM(train["vocab_size"], train["num_classes"])
    optimizer = torch.optim.Adam(model.parameters(), lr=0.005)
    loss_fn = nn.CrossEntropyLoss()
    dataset = torch.utils.data.TensorDataset(train["x"], train["y"])
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True)
    best = 0.0
    for epoch in range(epochs):
        for ids, labels in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(ids), labels)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
        accuracy = valid_accuracy(model, valid)
        if accuracy > best:
            best = accuracy
            budget.keep(model)
    return budget.kept
