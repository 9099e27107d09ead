"""`python -m sae_kit`: execute every notebook headless and print the replicated figures (see sae_kit.report.replicate)."""

import sys

from sae_kit.report import main

sys.exit(main())
