"""``python -m handgrad``: the ``handgrad`` command."""
import sys

from handgrad.cli import main

sys.exit(main())
