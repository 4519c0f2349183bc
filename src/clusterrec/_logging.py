"""The library's logger: clusterrec logs, it never prints."""

from __future__ import annotations

import logging

logger = logging.getLogger("clusterrec")
logger.addHandler(logging.NullHandler())
