#!/usr/bin/env python3
"""Check a clusterrec report.html as a reader would see it: in a real (headless) browser.

    python scripts/check_report.py runs/NAME/report.html [--screenshot first-screen.png]

Three checks, each must pass (exit status 0; 1 when one fails, 2 when the check cannot run):

1. Self-contained: every <img> is an embedded ``data:image/png;base64`` PNG, and nothing
   (image, script, style sheet, frame) is loaded from elsewhere, so the file opens offline.
2. Every embedded PNG decodes: chunk CRCs are right and the pixel data inflates to exactly
   height x (1 + width x bytes per pixel) bytes (standard library only, no Pillow).
3. In headless Chromium the page loads, every image has a decoded width (the report's inline
   script writes ``naturalWidth`` into ``data-natural-width`` and the count of broken images
   into ``<body data-broken-images>``), and the tables are in the rendered DOM.

``--screenshot`` also saves the first screen (1366 x 900, a laptop) as PNG.
Chromium runs with a fresh profile and no network features:
``--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
--disable-background-networking --disable-component-update --disable-sync``.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Bytes per pixel of each PNG colour type at 8 bits per sample.
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


@dataclass
class Page:
    """What a report's HTML holds: images, tables and anything loaded from outside."""

    images: list[dict] = field(default_factory=list)
    tables: int = 0
    table_rows: list[int] = field(default_factory=list)
    external: list[str] = field(default_factory=list)
    body: dict = field(default_factory=dict)


class _PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.page = Page()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "img":
            self.page.images.append(values)
        elif tag == "table":
            self.page.tables += 1
            self.page.table_rows.append(0)
        elif tag == "tr" and self.page.table_rows:
            self.page.table_rows[-1] += 1
        elif tag == "body":
            self.page.body = values
        source = values.get("src") or (values.get("href") if tag == "link" else "")
        if tag in ("img", "script", "link", "iframe", "embed", "object") and source:
            if not source.startswith("data:"):
                self.page.external.append(f"<{tag}> {source[:80]}")


def parse_page(text: str) -> Page:
    parser = _PageParser()
    parser.feed(text)
    parser.close()
    return parser.page


# -- static checks --------------------------------------------------------------------------------


def decode_png(data: bytes) -> tuple[int, int]:
    """(width, height) of a PNG after checking every chunk's CRC and inflating its pixels."""
    if not data.startswith(PNG_SIGNATURE):
        raise ValueError("not a PNG (bad signature)")
    position, header, pixels = len(PNG_SIGNATURE), None, []
    while position < len(data):
        if position + 8 > len(data):
            raise ValueError("truncated chunk header")
        length, kind = struct.unpack(">I4s", data[position : position + 8])
        body = data[position + 8 : position + 8 + length]
        stored = data[position + 8 + length : position + 12 + length]
        crc = struct.unpack(">I", stored)[0] if len(stored) == 4 else None
        if len(body) != length or zlib.crc32(kind + body) != crc:
            raise ValueError(f"bad CRC or truncated {kind.decode(errors='replace')} chunk")
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            pixels.append(body)
        elif kind == b"IEND":
            break
        position += 12 + length
    if header is None or not pixels:
        raise ValueError("no IHDR or no IDAT chunk")
    width, height, depth, colour, _, _, interlace = header
    raw = zlib.decompress(b"".join(pixels))
    if depth == 8 and colour in _CHANNELS and interlace == 0:
        expected = height * (1 + width * _CHANNELS[colour])
        if len(raw) != expected:
            raise ValueError(f"pixel data is {len(raw)} bytes, expected {expected}")
    if width == 0 or height == 0:
        raise ValueError("zero-sized image")
    return width, height


def static_problems(page: Page) -> list[str]:
    """Everything wrong with the HTML itself: external resources, undecodable images, no
    tables."""
    problems = [f"loads an external resource: {item}" for item in page.external]
    if not page.images:
        problems.append("no <img> in the report")
    for number, image in enumerate(page.images, start=1):
        name = image.get("data-name") or f"image {number}"
        source = image.get("src", "")
        prefix = "data:image/png;base64,"
        if not source.startswith(prefix):
            problems.append(f"{name}: not an embedded PNG ({source[:40]!r})")
            continue
        try:
            decode_png(base64.b64decode(source[len(prefix) :], validate=True))
        except (ValueError, binascii.Error, zlib.error) as error:
            problems.append(f"{name}: the embedded PNG does not decode ({error})")
    if page.tables == 0:
        problems.append("no <table> in the report")
    empty = [i + 1 for i, rows in enumerate(page.table_rows) if rows < 2]
    if empty:
        problems.append(f"tables without data rows: numbers {empty}")
    return problems


# -- the browser ----------------------------------------------------------------------------------


def chromium_command(chromium: str, profile: Path, *extra: str) -> list[str]:
    return [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra]


def rendered_dom(report: Path, chromium: str, timeout: float) -> str:
    """The DOM after load, as headless Chromium serialises it (scripts have run)."""
    with tempfile.TemporaryDirectory(prefix="check-report-") as profile:
        command = chromium_command(
            chromium,
            Path(profile),
            "--run-all-compositor-stages-before-draw",
            "--virtual-time-budget=20000",
            "--dump-dom",
            report.resolve().as_uri(),
        )
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0 or not done.stdout.strip():
        tail = done.stderr.strip().splitlines()[-3:]
        raise RuntimeError(f"chromium exited with {done.returncode}: {' | '.join(tail)}")
    return done.stdout


def browser_problems(static: Page, dom: Page) -> list[str]:
    """What the rendered page shows wrong: broken images, missing tables, no load event."""
    problems = []
    if "data-broken-images" not in dom.body:
        problems.append("the page's load check did not run (no data-broken-images on <body>)")
    elif dom.body["data-broken-images"] != "0":
        problems.append(f"{dom.body['data-broken-images']} images did not load in the browser")
    for number, image in enumerate(dom.images, start=1):
        width = image.get("data-natural-width", "")
        if not width.isdigit() or int(width) == 0:
            name = image.get("data-name") or f"image {number}"
            problems.append(f"{name}: no decoded width in the browser ({width or 'missing'})")
    if len(dom.images) != len(static.images):
        problems.append(f"{len(static.images)} images in the file, {len(dom.images)} rendered")
    if dom.tables < static.tables:
        problems.append(f"{static.tables} tables in the file, {dom.tables} rendered")
    return problems


def screenshot(report: Path, out: Path, chromium: str, timeout: float, size: str) -> None:
    """The first screen of the report as PNG."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="check-report-") as profile:
        command = chromium_command(
            chromium,
            Path(profile),
            "--run-all-compositor-stages-before-draw",
            "--virtual-time-budget=20000",
            f"--window-size={size}",
            f"--screenshot={out.resolve()}",
            report.resolve().as_uri(),
        )
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0 or not out.is_file():
        raise RuntimeError(f"chromium could not take the screenshot (exit {done.returncode})")
    decode_png(out.read_bytes())


# -- command line ---------------------------------------------------------------------------------


def check(
    report: Path,
    *,
    chromium: str = CHROMIUM,
    shot: Path | None = None,
    timeout: float = 120.0,
    size: str = "1366,900",
) -> tuple[list[str], dict]:
    """(problems, facts) for one report; no problems means it passed."""
    static = parse_page(report.read_text(encoding="utf-8"))
    problems = static_problems(static)
    facts = {"images": len(static.images), "tables": static.tables}
    dom = parse_page(rendered_dom(report, chromium, timeout))
    problems += browser_problems(static, dom)
    facts["rendered_images"] = len(dom.images)
    facts["rendered_tables"] = dom.tables
    if shot is not None:
        screenshot(report, shot, chromium, timeout, size)
        facts["screenshot"] = str(shot)
    return problems, facts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("report", type=Path, help="report.html written by clusterrec run")
    parser.add_argument("--screenshot", type=Path, metavar="OUT.png", help="save the first screen")
    parser.add_argument("--chromium", default=CHROMIUM, help=f"browser binary (default {CHROMIUM})")
    parser.add_argument("--window-size", default="1366,900", help="screenshot size W,H")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per browser run")
    args = parser.parse_args(argv)
    if not args.report.is_file():
        print(f"check_report: {args.report}: no such file", file=sys.stderr)
        return 2
    if shutil.which(args.chromium) is None:
        print(
            f"check_report: {args.chromium} not found; install it with "
            "'apt-get install -y chromium'",
            file=sys.stderr,
        )
        return 2
    try:
        problems, facts = check(
            args.report,
            chromium=args.chromium,
            shot=args.screenshot,
            timeout=args.timeout,
            size=args.window_size,
        )
    except (RuntimeError, subprocess.TimeoutExpired, ValueError) as error:
        print(f"check_report: {args.report}: {error}", file=sys.stderr)
        return 2
    for problem in problems:
        print(f"check_report: {args.report}: {problem}", file=sys.stderr)
    summary = ", ".join(f"{key} {value}" for key, value in facts.items())
    print(f"{'FAILED' if problems else 'ok'}: {args.report}: {summary}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
