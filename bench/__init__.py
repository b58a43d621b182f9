"""Benchmarks of resumer: the real CLI against the simulator on loopback (`python -m bench.run`)."""
