"""`python -m arvideo_hf.demo`: see `arvideo_hf.demo.run`."""

import sys

from .run import main


sys.exit(main())
