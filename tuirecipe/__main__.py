"""``python -m tuirecipe`` is the ``tuirecipe`` command."""

import sys

from tuirecipe.cli import main

sys.exit(main())
