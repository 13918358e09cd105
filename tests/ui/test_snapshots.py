"""SVG snapshots of every screen and state a person looks at, at the smallest supported size
and a large one. Accept a change only after looking at the SVG: `pytest tests/ui
--snapshot-update`, then open tests/ui/__snapshots__/."""

from __future__ import annotations

import pytest

from tests.ui.scenes import SCENES, SIZES
from tests.ui.ui_helpers import make_app, settle


@pytest.mark.parametrize("size", SIZES, ids=str)
@pytest.mark.parametrize("scene", SCENES, ids=lambda scene: scene.name)
def test_snapshot(snap_compare, scene, size: str) -> None:
    app = make_app(scene.build(), theme=scene.theme)

    async def arrive(pilot) -> None:
        await settle(pilot)
        if scene.press:
            await pilot.press(*scene.press)
            await settle(pilot)

    assert snap_compare(app, terminal_size=SIZES[size], run_before=arrive)
