"""Every random stream comes from the master seed by name, and keeps the draws it had."""

import numpy as np
import pytest

from vvcjnd.seeds import STREAMS, rng, stream_seed


def test_streams_keep_the_draws_of_their_numeric_ids():
    expected = np.random.default_rng([2021, 4001]).random(4)
    np.testing.assert_array_equal(rng(2021, "patch_split").random(4), expected)
    keyed = np.random.default_rng([5, 6001, 3_150_104_748]).random(2)  # crc32("img")
    np.testing.assert_array_equal(rng(5, "infer_sign", "img").random(2), keyed)
    assert stream_seed(2021, "train") == 2421


def test_streams_are_distinct_and_unknown_names_fail():
    assert len(set(STREAMS.values())) == len(STREAMS)
    draws = {name: rng(1, name).random() for name in STREAMS}
    assert len(set(draws.values())) == len(draws)
    with pytest.raises(KeyError, match="unknown random stream"):
        rng(1, "no_such_stream")
