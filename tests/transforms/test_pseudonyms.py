import hashlib
import hmac

import polars as pl

from transforms.pseudonyms import keyed_hash_lists, keyed_hashes, keyed_token_lists

KEY = b"k" * 32


def test_keyed_hashes_are_hmac_sha256_and_keep_nulls():
    out = keyed_hashes(pl.Series("r", ["CST/26/1", None]), KEY, "cst:")
    expected = hmac.new(KEY, b"cst:CST/26/1", hashlib.sha256).hexdigest()
    assert out.to_list() == [expected, None]


def test_keyed_hashes_depend_on_the_key_and_namespace():
    values = pl.Series("r", ["M7 4AB"])
    assert keyed_hashes(values, KEY)[0] != keyed_hashes(values, b"x" * 32)[0]
    assert keyed_hashes(values, KEY, "a:")[0] != keyed_hashes(values, KEY, "b:")[0]
    assert keyed_hashes(values, KEY)[0] != hashlib.sha256(b"M7 4AB").hexdigest()


def test_token_lists_keep_their_tag_in_clear():
    out = keyed_token_lists(pl.Series("t", [["x:0101234", "d:010123"], None]), KEY)
    first = out[0].to_list()
    assert [t[:2] for t in first] == ["x:", "d:"]
    assert "0101234" not in "".join(first)
    assert out[1] is None


def test_lists_hash_every_element_as_one_value_would_keeping_nulls_empties_and_repeats():
    def one(value: str) -> str:
        return hmac.new(KEY, value.encode(), hashlib.sha256).hexdigest()

    lists = [["a:1", "b:2", "a:1"], [], None, ["b:2"], ["c:3", "a:1"]]
    tokens = keyed_token_lists(pl.Series("t", lists, dtype=pl.List(pl.String)), KEY, "ns:")
    assert tokens.name == "t" and tokens.dtype == pl.List(pl.String)
    assert tokens.to_list() == [
        None if items is None else [f"{i.split(':')[0]}:{one('ns:' + i.split(':')[1])[:32]}" for i in items]
        for items in lists
    ]
    hashed = keyed_hash_lists(pl.Series("t", lists, dtype=pl.List(pl.String)), KEY, "ns:")
    assert hashed.to_list() == [None if items is None else [one("ns:" + i) for i in items] for items in lists]
    values = pl.Series("r", ["x", None, "y", "x"])
    assert keyed_hashes(values, KEY).to_list() == [one("x"), None, one("y"), one("x")]
    assert keyed_hashes(pl.Series("r", [None, None], dtype=pl.String), KEY).to_list() == [None, None]
    assert keyed_token_lists(pl.Series("t", [], dtype=pl.List(pl.String)), KEY).dtype == pl.List(pl.String)
