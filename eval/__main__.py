"""`python3 -m eval`: see `eval.evaluate`."""

import sys

from .evaluate import main

sys.exit(main())
