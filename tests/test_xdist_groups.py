"""`make test` runs pytest-xdist with --dist loadgroup so that the tests sharing the
tiny pipeline run (xdist_group "tiny_run") land on one worker, which runs it once. On
pytest 9.2 that grouping silently stopped (pytest-xdist#1386: the group suffix no longer
reaches the node id) and each worker ran the pipeline: this test says so instead."""

import pytest

pytestmark = pytest.mark.xdist_group("tiny_run")


def test_the_tiny_run_group_reaches_the_scheduler(request):
    if not getattr(request.config.option, "loadgroup", False):
        pytest.skip("not under pytest-xdist --dist loadgroup")
    assert request.node.nodeid.endswith("@tiny_run"), (
        f"{request.node.nodeid}: xdist_group was not applied (pytest {pytest.__version__}); "
        "see the pytest pin in pyproject.toml")
