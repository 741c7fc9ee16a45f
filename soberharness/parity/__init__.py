"""Parity across targets: compare the run folders of the same suites on several targets.

`python -m soberharness.parity RUN_DIR...` (see compare.py for what is compared and
`__main__` for the command). Exit 0: identical behaviour, 1: behaviour differs, 2: not
comparable.
"""
