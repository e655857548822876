"""`python -m signalhub` runs the `signalhub` command."""

import sys

from signalhub.cli import main

sys.exit(main())
