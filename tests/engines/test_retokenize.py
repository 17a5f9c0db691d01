"""Exact text <-> token round trips, the ground drafting through translation stands on."""

from __future__ import annotations

import pytest

from app.engines.llamacpp import LlamaCppModel
from app.engines.retokenize import TokenCodec, utf8_complete, whole_chars


@pytest.mark.parametrize(
    ("data", "complete"),
    [
        (b"", True),
        (b"abc", True),
        ("é".encode(), True),
        ("é".encode()[:1], False),
        ("東".encode()[:2], False),
        ("🙂".encode()[:3], False),
        ("a🙂".encode(), True),
        (b"\x80", False),
    ],
)
def test_utf8_complete(data, complete):
    assert utf8_complete(data) is complete


def test_whole_chars_cuts_a_split_character():
    assert whole_chars("café".encode()[:-1]) == b"caf"
    assert whole_chars("東京".encode()[:-2]) == "東".encode()
    assert whole_chars(b"plain") == b"plain"


@pytest.fixture(scope="module")
def codec(tiny_main):
    model = LlamaCppModel(tiny_main)
    yield TokenCodec(model)
    model.close()


def test_the_space_prefix_of_a_sentencepiece_vocabulary_is_undone(codec):
    assert codec.adds_space  # llama-type vocabularies put a space before the text
    for text in [" the cat", "café", " café x", "\n東京"]:
        tokens = codec.encode(text.encode())
        assert tokens is not None, text
        assert codec.join(tokens) == text.encode(), text
    assert codec.encode("café".encode()[:-1]) is None  # not whole characters


def test_a_continuation_keeps_what_follows_the_seam(codec):
    fixed = codec.encode(b" the cat")
    assert fixed is not None
    for data in [b" sat on", b"s", " é".encode()]:
        more = codec.continuation(fixed, data)
        assert more is not None, data
        assert codec.join(more) == data, data
