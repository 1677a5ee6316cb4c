"""``python -m bluegreen`` runs the operator."""

from bluegreen.entry import main

raise SystemExit(main())
