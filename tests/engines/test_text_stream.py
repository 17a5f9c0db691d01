from app.core.events import TokenOrigin
from app.engines.text_stream import TokenTextStream

M, D = TokenOrigin.MAIN, TokenOrigin.DRAFT


def feed(stream: TokenTextStream, pieces: list[tuple[bytes, TokenOrigin]]):
    out = []
    for i, (piece, origin) in enumerate(pieces):
        out += stream.push(i, piece, origin)
    return out + stream.finish()


def test_character_split_over_tokens_goes_to_the_completing_token_with_origins_kept():
    events = feed(TokenTextStream(), [(b"caf", M), (b"\xc3", D), (b"\xa9", M), (b"!", D)])
    assert [e.text for e in events] == ["caf", "", "é", "!"]
    assert [e.origin for e in events] == [M, D, M, D]
    assert all("\ufffd" not in e.text for e in events)


def test_four_byte_character_over_four_tokens():
    emoji = "😀".encode()
    events = feed(TokenTextStream(), [(bytes([b]), D) for b in emoji])
    assert [e.text for e in events] == ["", "", "", "😀"]


def test_invalid_bytes_become_replacement_characters_not_held_forever():
    events = feed(TokenTextStream(), [(b"\xff", M), (b"ok", M)])
    assert "".join(e.text for e in events) == "\ufffdok"


def test_dangling_partial_character_is_flushed_at_the_end():
    events = feed(TokenTextStream(), [(b"a", M), (b"\xc3", M)])
    assert "".join(e.text for e in events) == "a\ufffd"


def test_stop_string_across_tokens_is_cut_and_later_tokens_dropped():
    stream = TokenTextStream(stop=["END"])
    events = feed(stream, [(b"hello E", M), (b"N", D), (b"D and more", M), (b"x", M)])
    assert stream.stopped
    assert "".join(e.text for e in events) == "hello "
    assert [e.token_id for e in events] == [0]


def test_possible_stop_prefix_is_held_then_released_when_it_is_not_a_stop():
    stream = TokenTextStream(stop=["END"])
    assert [e.text for e in stream.push(0, b"ab E", M)] == []
    released = stream.push(1, b"ND", M)  # "ab END" -> stop found
    assert stream.stopped
    assert "".join(e.text for e in released) == "ab "

    stream = TokenTextStream(stop=["END"])
    assert stream.push(0, b"ab E", M) == []
    released = stream.push(1, b"x", D)
    assert [(e.text, e.origin) for e in released] == [("ab E", M), ("x", D)]


def test_stop_string_at_the_very_start_gives_empty_text():
    stream = TokenTextStream(stop=["\n\n"])
    events = feed(stream, [(b"\n", M), (b"\n", M), (b"more", M)])
    assert stream.stopped
    assert events == []


def test_no_stop_strings_releases_every_token_at_once():
    stream = TokenTextStream()
    assert [e.text for e in stream.push(0, b"hi", M)] == ["hi"]
