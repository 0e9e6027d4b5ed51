"""Shared pytest configuration."""
import pytest


# -- the `slow` tier -----------------------------------------------------------------------------
# The marker is registered in pyproject.toml. Tests marked `slow` (larger shapes, more
# combinations, end-to-end runs) are skipped unless asked for with `--runslow` or selected with
# `-m slow`, so a plain `pytest` / `make test` runs the quick tier.

def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False,
                     help="also run the tests marked slow")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow") or "slow" in (config.getoption("-m") or ""):
        return
    skip = pytest.mark.skip(reason="slow tier: run with --runslow (or -m slow)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
