r"""A batch job: pull one day's floorsheet through the pool into a Parquet (or CSV, JSON-lines) file.

    ray submit cluster.yaml examples/pull_floorsheet.py -- --out day.parquet

or through the Jobs API, with ``ray dashboard cluster.yaml`` (the SSH tunnel to the head) running in another shell::

    RAY_AUTH_MODE=token ray job submit --address http://127.0.0.1:8265 --working-dir . \
        -- python examples/pull_floorsheet.py --out day.parquet

Inside a job ``NepseWorkerAPI()`` joins the job's Ray cluster; workers spread over its nodes. A pool of the same
name that is already running (another job's, a notebook's) is joined, and left running when the job ends. The file
appears only when every trade arrived; the exit status is 0 then, 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nepse_ray import IncompletePullError, NepseWorkerAPI, pull_floorsheet


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", default="https://www.nepalstock.com", help="NEPSE (or simulator) base URL")
    parser.add_argument("--business-date", default=None, help="YYYY-MM-DD (default: the site's current day)")
    parser.add_argument("--max-workers", type=int, default=5)
    parser.add_argument("--out", type=Path, required=True, help="output file: .parquet, .csv or .jsonl")
    args = parser.parse_args()

    with NepseWorkerAPI(base_url=args.base_url, max_workers=args.max_workers) as api:
        try:
            result = pull_floorsheet(api, business_date=args.business_date, out=args.out)
        except IncompletePullError as error:
            print(error, file=sys.stderr)
            return 1
        print(api.get_stats())
    print(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
