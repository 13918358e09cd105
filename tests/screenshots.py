"""Regenerate screenshots/*.svg: `.venv/bin/python -m tests.screenshots`.

Each scene of tests/ui/scenes.py is drawn by the real app over the scenario engine (frozen
clock), at 160x48 and at the smallest supported size, 100x30.
"""

from __future__ import annotations

import sys
from pathlib import Path

from textual._doc import take_svg_screenshot

from tests.ui.scenes import SCENES, SIZES, Scene
from tests.ui.ui_helpers import make_app, settle

OUT = Path(__file__).resolve().parent.parent / "screenshots"


def shoot(scene: Scene, size: tuple[int, int]) -> str:
    async def arrive(pilot) -> None:
        await settle(pilot)
        if scene.press:
            await pilot.press(*scene.press)
            await settle(pilot)

    return take_svg_screenshot(make_app(scene.build(), theme=scene.theme), terminal_size=size,
                               run_before=arrive, title=f"orch-tui · {scene.description}")


def main() -> int:
    OUT.mkdir(exist_ok=True)
    for scene in SCENES:
        for label, size in SIZES.items():
            name = scene.name if label == "large" else f"{scene.name}_{size[0]}x{size[1]}"
            (OUT / f"{name}.svg").write_text(shoot(scene, size), encoding="utf-8")
            print(f"screenshots/{name}.svg")
    return 0


if __name__ == "__main__":
    sys.exit(main())
