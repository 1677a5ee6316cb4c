"""I/O adapters: they act and observe, and make no decisions."""
