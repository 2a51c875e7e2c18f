"""Regenerate the README's screenshots of the lineage page from the current page.

Renders the bundled catalog's page (`kg.html.render_html`, as `kg build`
writes it), opens it offline in Debian's headless Chromium with Playwright
(every request but the page's own file:// URL aborted), and writes four
PNGs into docs/, reduced to a 256-colour palette to stay small:

- lineage-first-view.png: the first view at 1600 x 1000;
- lineage-selection.png: LLaMA-7B selected (its family opened alone);
- lineage-time-axis.png: the time axis, families folded;
- lineage-phone.png: a phone (390 x 844) with Alpaca 7B selected.

    .venv/bin/python docs/screenshots.py

Chinese names need a CJK font in Chromium (Debian's fonts-noto-cjk); without
one they are drawn as boxes.
"""

from __future__ import annotations

import io
import sys
import tempfile
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kg.catalog import load_catalog  # noqa: E402
from kg.graph import build_graph  # noqa: E402
from kg.html import render_html  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
COLOURS = 256


def save_small(png: bytes, path: Path) -> None:
    """`png` written to `path` with a palette of COLOURS colours."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    image.quantize(colors=COLOURS, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE).save(path, optimize=True)


def open_page(browser, url: str, size: tuple[int, int]):  # noqa: ANN001, ANN201
    page = browser.new_page(viewport={"width": size[0], "height": size[1]})
    page.route("**/*", lambda route: route.continue_() if route.request.url.split("#")[0] == url else route.abort())
    page.goto(url)
    page.wait_for_function("window.lineageReady === true", timeout=30000)
    return page


def pick(page, text: str) -> None:  # noqa: ANN001
    page.fill("#search", text)
    page.press("#search", "Enter")
    page.evaluate("document.activeElement.blur()")


def take_screenshots(folder: Path) -> list[Path]:
    catalog = load_catalog()
    with tempfile.TemporaryDirectory() as work:
        source = Path(work) / "lineage.html"
        source.write_bytes(render_html(build_graph(catalog), licenses=catalog.licenses))
        url = source.as_uri()
        written = []
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = open_page(browser, url, (1600, 1000))
            shots = [("lineage-first-view.png", None)]
            shots.append(("lineage-selection.png", lambda p: pick(p, "LLaMA-7B")))
            shots.append(("lineage-time-axis.png", lambda p: (p.keyboard.press("Escape"), p.check("#time-axis"))))
            for name, action in shots:
                if action:
                    action(page)
                save_small(page.screenshot(), folder / name)
                written.append(folder / name)
            page.close()
            phone = open_page(browser, url, (390, 844))
            pick(phone, "Alpaca 7B")
            save_small(phone.screenshot(), folder / "lineage-phone.png")
            written.append(folder / "lineage-phone.png")
            browser.close()
    return written


if __name__ == "__main__":
    for path in take_screenshots(ROOT / "docs"):
        print(f"wrote {path.relative_to(ROOT)}: {path.stat().st_size // 1024} KiB")
