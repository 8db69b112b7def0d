"""Benchmarks of issue 6: each figure is a ratio against a baseline measured in the same run.

`python -m bench.run_all` runs them all and writes bench/RESULTS.md; each module also runs alone
(`python -m bench.slot_utilisation`, `bench.scale_out`, `bench.history_size`, `bench.memory`).
"""
