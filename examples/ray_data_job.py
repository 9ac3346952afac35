r"""A Ray Data job: one day's floorsheet as a ``ray.data.Dataset``, turnover by symbol, the trades to Parquet.

Through the Jobs API, with ``ray dashboard cluster.yaml`` (the SSH tunnel to the head) running in another shell::

    RAY_AUTH_MODE=token ray job submit --address http://127.0.0.1:8265 --working-dir . \
        -- python examples/ray_data_job.py --out /data/floorsheet-day

Inside a job the driver joins the job's Ray cluster. Without ``--base-url`` the read uses the default pool as it
runs there (a detached pool an operator started, with its own site and TLS settings), or starts it with default
options (``nepse_ray.data.default_pool``); with ``--base-url`` it joins or starts a pool for that site. The read
tasks run on the cluster's nodes and send every request through the pool, so the site's per-token limits hold.
``--out`` is a directory: Ray Data writes one Parquet file per block. The pool is not shut down at the end: a pool
this job started ends with the job, and one it joined goes on serving.
"""

from __future__ import annotations

import argparse
import sys

from ray.data.aggregate import Count, Sum

from nepse_ray import NepseWorkerAPI
from nepse_ray.data import default_pool, read_floorsheet


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", default=None, help="NEPSE (or simulator) base URL (default: the default pool)")
    parser.add_argument("--business-date", default=None, help="YYYY-MM-DD (default: the site's current day)")
    parser.add_argument("--max-workers", type=int, default=5, help="with --base-url: the pool's most workers")
    parser.add_argument("--out", required=True, help="output directory for the day's trades as Parquet files")
    args = parser.parse_args()

    api = NepseWorkerAPI(base_url=args.base_url, max_workers=args.max_workers) if args.base_url else default_pool()
    day = read_floorsheet(args.business_date, api=api)
    announced = day.count()  # exact, from the day's first page: no page is read for it
    day = day.materialize()  # read once; the aggregation and the write below use the same blocks
    rows = day.count()

    # A day is a few MB: a few partitions are plenty (Ray's default of 200 suits far larger data).
    by_symbol = day.groupby("stock_symbol", num_partitions=4)
    turnover = by_symbol.aggregate(Count(), Sum("contract_quantity"), Sum("contract_amount"))
    top = turnover.to_pandas().nlargest(10, "sum(contract_amount)")  # one row per symbol: small enough for pandas
    day.write_parquet(args.out)

    print(f"{rows:,} trades read of {announced:,} announced, written to {args.out}")
    print(top.to_string(index=False))
    print(api.get_stats())
    return 0 if rows == announced else 1


if __name__ == "__main__":
    sys.exit(main())
