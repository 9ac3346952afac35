r"""A batch job: keep a local NEPSE dataset (partitioned Parquet) up to date; schedule it once a trading day.

    ray submit cluster.yaml examples/sync_dataset.py -- /data/nepse --since 2026-01-01

or through the Jobs API, with ``ray dashboard cluster.yaml`` (the SSH tunnel to the head) running in another shell::

    RAY_AUTH_MODE=token ray job submit --address http://127.0.0.1:8265 --working-dir . \
        -- python examples/sync_dataset.py /data/nepse

Only what the dataset lacks is fetched; a run that was killed is finished by the next one. The same as
``nepse-ray sync DIR``, from inside a job. A pool of the same name that is already running is joined, and left
running when the job ends.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nepse_ray import NepseWorkerAPI, dataset


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("directory", type=Path, help="the dataset's directory")
    parser.add_argument("--base-url", default="https://www.nepalstock.com", help="NEPSE (or simulator) base URL")
    parser.add_argument("--since", default=None, help="first day to keep, YYYY-MM-DD (default: 30 days back)")
    parser.add_argument("--tables", nargs="+", default=list(dataset.TABLES), choices=dataset.TABLES)
    parser.add_argument("--max-workers", type=int, default=5)
    args = parser.parse_args()

    with NepseWorkerAPI(base_url=args.base_url, max_workers=args.max_workers) as api:
        report = dataset.sync(api, args.directory, since=args.since, tables=args.tables, on_step=print)
    print(f"{args.directory}: {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
