"""``python -m bluegreen`` runs the operator."""

from bluegreen.main import main

raise SystemExit(main())
