"""`python -m soberharness.cloud_move`: see the package's docstring."""

from soberharness.cloud_move import main

raise SystemExit(main())
