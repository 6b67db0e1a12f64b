"""Benchmarks: each project figure beside a bare baseline measured in the same run."""
