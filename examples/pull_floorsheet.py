r"""A batch job: pull one day's floorsheet through the pool and write it to CSV.

    ray submit cluster.yaml examples/pull_floorsheet.py -- --out fs.csv

or through the Jobs API, with ``ray dashboard cluster.yaml`` (the SSH tunnel to the head) running in another shell::

    RAY_AUTH_MODE=token ray job submit --address http://127.0.0.1:8265 --working-dir . \
        -- python examples/pull_floorsheet.py --out fs.csv

Inside a job ``NepseWorkerAPI()`` joins the job's Ray cluster; workers spread over its nodes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nepse_ray import NepseWorkerAPI, pull_floorsheet


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", default="https://www.nepalstock.com", help="NEPSE (or simulator) base URL")
    parser.add_argument("--business-date", default=None, help="YYYY-MM-DD (default: the site's current day)")
    parser.add_argument("--max-workers", type=int, default=5)
    parser.add_argument("--out", type=Path, required=True, help="CSV file to write")
    args = parser.parse_args()

    with NepseWorkerAPI(base_url=args.base_url, max_workers=args.max_workers) as api:
        pull = pull_floorsheet(api, business_date=args.business_date)
        print(api.get_stats())
    pull.to_csv(args.out)
    print(f"{len(pull.rows)} of {pull.total_elements} trades from {pull.pages} pages -> {args.out}")
    return 0 if pull.complete else 1


if __name__ == "__main__":
    sys.exit(main())
