"""``python -m clusterrec.cli``: the same as the ``clusterrec`` command."""

import sys

from clusterrec.cli import main

sys.exit(main())
