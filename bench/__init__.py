"""Benchmarks and large-data generators (not part of the test suite): `make bench`."""
