"""Other NEPSE clients against the simulator (a package, so its conftest does not shadow tests/conftest.py, which
sorts after this folder, when the doctests of tests/ are collected)."""
