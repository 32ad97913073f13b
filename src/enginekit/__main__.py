"""`python -m enginekit` is the `enginekit` command."""

import sys

from .cli import main

sys.exit(main())
