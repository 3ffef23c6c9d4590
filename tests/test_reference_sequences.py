"""pad_sequences follows Keras (worked examples from its documentation and more); make_windows."""

import pytest
import torch

from reference_models.sequences import make_windows, pad_sequences

KERAS_DOC = [[1], [2, 3], [4, 5, 6]]


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        ({}, [[0, 0, 1], [0, 2, 3], [4, 5, 6]]),
        ({"value": -1}, [[-1, -1, 1], [-1, 2, 3], [4, 5, 6]]),
        ({"padding": "post"}, [[1, 0, 0], [2, 3, 0], [4, 5, 6]]),
        ({"maxlen": 2}, [[0, 1], [2, 3], [5, 6]]),
        ({"maxlen": 2, "truncating": "post"}, [[0, 1], [2, 3], [4, 5]]),
        ({"maxlen": 2, "padding": "post", "truncating": "post"}, [[1, 0], [2, 3], [4, 5]]),
        ({"maxlen": 2, "padding": "post"}, [[1, 0], [2, 3], [5, 6]]),
        ({"maxlen": 5}, [[0, 0, 0, 0, 1], [0, 0, 0, 2, 3], [0, 0, 4, 5, 6]]),
        ({"maxlen": 5, "padding": "post"}, [[1, 0, 0, 0, 0], [2, 3, 0, 0, 0], [4, 5, 6, 0, 0]]),
        ({"maxlen": 0}, [[], [], []]),
    ],
)
def test_pad_sequences_keras_examples(kwargs, expected):
    out = pad_sequences(KERAS_DOC, **kwargs)
    assert out.dtype == torch.long
    assert out.shape == (3, kwargs.get("maxlen", 3))
    assert out.tolist() == expected


def test_maxlen_is_positional():
    assert pad_sequences([[7, 8, 9]], 2).tolist() == [[8, 9]]


def test_empty_sequences_become_padding_rows():
    assert pad_sequences([[], [1, 2]]).tolist() == [[0, 0], [1, 2]]
    assert pad_sequences([[], [1, 2]], padding="post", value=9).tolist() == [[9, 9], [1, 2]]
    assert pad_sequences([[], []]).shape == (2, 0)
    assert pad_sequences([]).shape == (0, 0)
    assert pad_sequences([], maxlen=4).shape == (0, 4)


def test_accepts_tensors_and_tuples():
    out = pad_sequences([torch.tensor([1, 2]), (3,)], maxlen=3)
    assert out.tolist() == [[0, 1, 2], [0, 0, 3]]


@pytest.mark.parametrize("kwargs", [{"padding": "middle"}, {"truncating": "both"}, {"maxlen": -1}])
def test_pad_sequences_rejects_bad_options(kwargs):
    with pytest.raises(ValueError):
        pad_sequences(KERAS_DOC, **kwargs)


def test_make_windows_every_window_and_the_next_id():
    inputs, targets = make_windows([5, 6, 7, 8, 9], 2)
    assert inputs.dtype == targets.dtype == torch.long
    assert inputs.tolist() == [[5, 6], [6, 7], [7, 8]]
    assert targets.tolist() == [7, 8, 9]


def test_make_windows_window_one_and_tensor_input():
    inputs, targets = make_windows(torch.tensor([1, 2, 3]), 1)
    assert inputs.tolist() == [[1], [2]] and targets.tolist() == [2, 3]


@pytest.mark.parametrize("ids, window", [([1, 2, 3], 3), ([1, 2], 5), ([], 4)])
def test_make_windows_empty_when_too_short(ids, window):
    inputs, targets = make_windows(ids, window)
    assert inputs.shape == (0, window) and targets.shape == (0,)
    assert inputs.dtype == targets.dtype == torch.long


def test_make_windows_rejects_empty_window():
    with pytest.raises(ValueError):
        make_windows([1, 2, 3], 0)
