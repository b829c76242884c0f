"""``python -m vvcjnd``: see `vvcjnd.cli`."""

import sys

from vvcjnd.cli import main

sys.exit(main())
