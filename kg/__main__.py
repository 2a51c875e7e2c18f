"""`python -m kg`: the `kg` command, for an environment whose scripts are not on PATH."""

import sys

from kg.cli import main

sys.exit(main())
