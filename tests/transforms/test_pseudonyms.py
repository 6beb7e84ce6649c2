import hashlib
import hmac

import polars as pl

from transforms.pseudonyms import keyed_hashes, keyed_token_lists

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
