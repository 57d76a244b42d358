"""Shared fixtures: real servers on free loopback ports, the RDB corpus (tests/corpus), temp dirs."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from servers import FLAVOURS, Server, find_binary, running_server

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "tests" / "corpus"
SAMPLES = REPO / "data" / "samples"


def _server_fixture(flavour: str):  # type: ignore[no-untyped-def]
    @pytest.fixture
    def fixture() -> Iterator[Server]:
        if find_binary(flavour) is None:
            pytest.fail(f"{flavour} binary missing: run .ci/run to install it")
        with running_server(flavour) as server:
            yield server

    return fixture


redis70 = _server_fixture("redis70")
redis62 = _server_fixture("redis62")
valkey81 = _server_fixture("valkey81")
redis82 = _server_fixture("redis82")
valkey91 = _server_fixture("valkey91")


@pytest.fixture(params=sorted(FLAVOURS))
def any_server(request: pytest.FixtureRequest) -> Iterator[Server]:
    """Each of the five flavours in turn."""
    flavour = request.param
    if find_binary(flavour) is None:
        pytest.fail(f"{flavour} binary missing: run .ci/run to install it")
    with running_server(flavour) as server:
        yield server


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not (CORPUS / "MANIFEST.tsv").exists():
        pytest.fail(f"test corpus not found at {CORPUS}")
    return CORPUS


@pytest.fixture(scope="session")
def present_analysis(tmp_path_factory: pytest.TempPathFactory) -> object:
    """Presentation tests: a realistic keyspace written to a real Redis 7.0, saved and analysed."""
    from present_data import analysed_sample

    return analysed_sample(tmp_path_factory.mktemp("present"))
