"""``kubectl bluegreen dashboard``: a read-only page of releases, served on loopback.

``timeline``, ``svg`` and ``snapshot`` are pure (what the page shows, from the
objects and a ``now``); ``feed`` keeps the objects current from watches with the
caller's credentials; ``server`` serves the page and its live updates.
"""
