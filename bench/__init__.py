"""Benchmarks: each module's ``run()`` returns figures that land in bench/results/."""
