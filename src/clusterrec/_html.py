"""How result objects show themselves in Jupyter: a caption (the protocol) above a table."""

from __future__ import annotations

import html

import pandas as pd

__all__ = ["frame_html"]


def frame_html(frame: pd.DataFrame, caption: str = "", digits: int = 4) -> str:
    """``frame`` as an HTML table (floats to ``digits`` decimals) under an escaped ``caption``;
    what ``_repr_html_`` of the result types returns, so a notebook shows the numbers with
    the sentence that says how they were obtained."""
    table = frame.to_html(float_format=lambda value: f"{value:.{digits}f}", border=0)
    if not caption:
        return table
    return f"<p><em>{html.escape(caption)}</em></p>\n{table}"
