"""The benchmark workload of ../shared/bench/WORKLOAD.md: generator, loader and runner."""
