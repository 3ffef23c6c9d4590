"""harness.data.vocab and harness.data.text: special ids, frequency order, padding conventions."""
import pytest
import torch

from harness.data.text import (detokenize, get_tokenizer, lm_sequences, pad, split_sentences, tokenize_chars,
                               tokenize_words)
from harness.data.vocab import BOS, EOS, PAD, SPECIALS, UNK, Vocabulary


def test_special_ids_are_the_contracts():
    assert (PAD, BOS, EOS, UNK) == (0, 1, 2, 3)
    vocab = Vocabulary.build([["a"]])
    assert vocab.tokens[:4] == ["<pad>", "<bos>", "<eos>", "<unk>"] == list(SPECIALS)


def test_frequency_order_with_ties_broken_by_text():
    vocab = Vocabulary.build([["b", "a", "c", "b"], ["c", "d", "b"]])
    # b ×3, c ×2, then a and d (×1) in text order
    assert vocab.tokens[4:] == ["b", "c", "a", "d"]
    again = Vocabulary.build([["c", "d", "b"], ["b", "a", "c", "b"]])
    assert again.tokens == vocab.tokens


def test_size_limit_counts_specials_and_min_count():
    seqs = [["x"] * 5 + ["y"] * 3 + ["z"] * 2 + ["w"]]
    assert Vocabulary.build(seqs, max_size=6).tokens[4:] == ["x", "y"]
    assert len(Vocabulary.build(seqs, max_size=6)) == 6
    assert Vocabulary.build(seqs, min_count=2).tokens[4:] == ["x", "y", "z"]
    with pytest.raises(ValueError):
        Vocabulary.build(seqs, max_size=3)


def test_encode_decode_and_unknown():
    vocab = Vocabulary.build([["the", "cat", "sat"]])
    ids = vocab.encode(["the", "dog", "sat"], bos=True, eos=True)
    assert ids[0] == BOS and ids[-1] == EOS and ids[2] == UNK
    assert vocab.decode(ids) == ["the", "<unk>", "sat"]
    assert vocab.decode([PAD, PAD] + ids + [vocab.id("cat")]) == ["the", "<unk>", "sat"]  # stops at <eos>
    assert vocab.decode(ids, stop_at_eos=False, keep_special=True)[-1] == "<eos>"


def test_to_dict_round_trip_and_validation():
    vocab = Vocabulary.build([["a", "b", "a"]])
    assert Vocabulary.from_dict(vocab.to_dict()).tokens == vocab.tokens
    with pytest.raises(ValueError):
        Vocabulary(["a", "<pad>", "<bos>", "<eos>"])


def test_word_and_char_tokenisers():
    assert tokenize_words("Not good, but GREAT!") == ["not", "good", ",", "but", "great", "!"]
    assert tokenize_words("Don't stop", lowercase=False) == ["Don't", "stop"]
    assert tokenize_words("el niño pequeño.") == ["el", "niño", "pequeño", "."]
    assert tokenize_chars("Ab c") == ["A", "b", " ", "c"]
    assert get_tokenizer("char", lowercase=True)("Ab") == ["a", "b"]
    with pytest.raises(ValueError):
        get_tokenizer("bpe")


def test_detokenize_inverts_the_word_tokeniser_on_plain_sentences():
    for text in ("ella no ve al niño.", "we saw it, twice!", "yo veo un coche rojo."):
        assert detokenize(tokenize_words(text)) == text
    assert detokenize(list("a b"), tokenizer="char") == "a b"


def test_split_sentences():
    assert split_sentences("One. Two!  Three?\nFour") == ["One.", "Two!", "Three?", "Four"]


def test_padding_pre_and_post_with_truncation():
    seqs = [[5, 6, 7], [8]]
    assert pad(seqs).tolist() == [[5, 6, 7], [0, 0, 8]]
    assert pad(seqs, padding="post").tolist() == [[5, 6, 7], [8, 0, 0]]
    assert pad(seqs, maxlen=2).tolist() == [[6, 7], [0, 8]]  # Keras default: cut at the front
    assert pad(seqs, maxlen=2, truncating="post").tolist() == [[5, 6], [0, 8]]


def test_lm_sequences_shift_by_one_and_pad_at_the_end():
    inputs, targets = lm_sequences([[5, 6, 7], [8]])
    assert inputs.tolist() == [[BOS, 5, 6, 7], [BOS, 8, PAD, PAD]]
    assert targets.tolist() == [[5, 6, 7, EOS], [8, EOS, PAD, PAD]]
    real = inputs[:, 1:] != PAD  # the input at t+1 is the target at t
    assert torch.equal(inputs[:, 1:][real], targets[:, :-1][real])
    inputs, targets = lm_sequences([[5, 6, 7]], maxlen=2)  # truncated: keeps the first targets
    assert inputs.tolist() == [[BOS, 5]] and targets.tolist() == [[5, 6]]


def test_the_pipelines_padding_is_the_contracts_pad_sequences():
    """The judge's own padding (it runs on students' machines too) against the answer key's, on random cases."""
    from reference_models.sequences import pad_sequences

    gen = torch.Generator().manual_seed(0)
    for _ in range(300):
        n, maxlen, sides = (int(v) for v in torch.randint(0, 12, (3,), generator=gen))
        seqs = [torch.randint(1, 50, (int(torch.randint(0, 9, (1,), generator=gen)),), generator=gen).tolist()
                for _ in range(n % 5)]
        maxlen = None if maxlen % 4 == 0 else maxlen % 9
        padding, truncating = ("pre", "post")[sides % 2], ("pre", "post")[sides // 2 % 2]
        assert torch.equal(pad(seqs, maxlen, padding, truncating),
                           pad_sequences(seqs, maxlen, padding, truncating, PAD)), (seqs, maxlen, padding, truncating)
