"""``python -m helmmodel``: the same as the ``helmmodel`` command."""

import sys

from helmmodel.cli import main

sys.exit(main())
