"""Demo data for `make run` (filled in by the seed-demo work)."""


def seed_demo(only_if_empty: bool = False) -> bool:
    raise RuntimeError("seed_demo is being written")
