from __future__ import annotations

import pytest

from tests.ui.scenario_engine import ScenarioEngine


@pytest.fixture
def engine() -> ScenarioEngine:
    return ScenarioEngine()
