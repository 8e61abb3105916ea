"""``python -m sandbox`` is the ``sandbox`` command."""

import sys

from sandbox.apps.cli import main

sys.exit(main())
