"""Live labs: the example model served for real, with traffic, for the canary, A/B,
monitoring and image tests, the demo and the benches."""
