"""Where committed entries reach the index (exchange.index.CommitHook): the rows a commit added
and removed are in the index before anything is woken, so a follower woken by a commit finds
its signals matchable."""

from __future__ import annotations

import numpy as np

from exchange.index import CommitHook, SignalIndex
from exchange.ledger import Applied
from signalhub.v1 import exchange_pb2

HASH = bytes(range(32))


def test_a_commit_reaches_the_index_before_the_tail_is_called() -> None:
    index = SignalIndex()
    seen: list[int] = []
    hook = CommitHook(index, lambda: seen.append(len(index)))
    hook([Applied(exchange_pb2.SubmitSignalsResponse(), pdq_rows=[(7, HASH)])])
    assert seen == [1]
    _, rows, distances = index.search(np.frombuffer(HASH, dtype=np.uint8).reshape(1, 32), 0)
    assert rows.tolist() == [7] and distances.tolist() == [0]

    hook.then = lambda: seen.append(-len(index))  # the server sets the feed tail later
    hook([Applied(exchange_pb2.RetractSubmissionResponse(), pdq_removed=[7])])
    assert seen == [1, 0]
