"""Blue/green releases for Kubernetes, declared as BlueGreenRelease resources."""
