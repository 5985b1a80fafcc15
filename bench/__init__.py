"""Benchmarks (`make bench`): figures are medians of several runs, reported with ratios."""
