"""A second driver for the stream tests, in a process of its own: ``python stream_driver.py ADDRESS POOL NAMESPACE
BASE_URL FEED INTERVAL TICKS OUT`` joins the running pool as another notebook would, subscribes to ``FEED`` every
``INTERVAL`` seconds, pickles its first ``TICKS`` ticks to ``OUT`` and exits (leaving the pool running)."""

from __future__ import annotations

import itertools
import pickle
import sys
from pathlib import Path

from nepse_ray import NepseWorkerAPI


def main(argv: list[str]) -> None:
    address, pool, namespace, base_url, feed, interval, ticks, out = argv
    api = NepseWorkerAPI(address=address, pool_name=pool, namespace=namespace, base_url=base_url)
    stream = api.stream(feed, float(interval))
    received = list(itertools.islice(stream, int(ticks)))
    stream.close()
    Path(out).write_bytes(pickle.dumps(received))


if __name__ == "__main__":
    main(sys.argv[1:])
