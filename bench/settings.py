"""Settings of the web server a benchmark starts: the product's, with the benchmarks' urlconf
(bench/urls.py), so the comparison views are routed there and nowhere else."""

from callops.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
