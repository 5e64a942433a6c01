"""`make bench`: time the nightly pipeline at several demo scales (issue 9); see benchmarks/README.md."""
