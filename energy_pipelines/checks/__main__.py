"""`python -m energy_pipelines.checks sync|check [--prune]`: keep expectations/*.json in line with the catalogue."""

import sys

from energy_pipelines.checks.suites import main

sys.exit(main())
