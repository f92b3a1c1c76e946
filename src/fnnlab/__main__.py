"""``python -m fnnlab`` runs the ``fnnlab`` command."""

import sys

from fnnlab.cli import main

sys.exit(main())
