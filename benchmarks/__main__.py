"""``python -m benchmarks [--quick] [--json FILE] ...`` is ``nepse-ray bench``: the harness in ``nepse_ray/bench``."""

import sys

from nepse_ray.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
