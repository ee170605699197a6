"""Engineers' lab: the synthetic city, the simulator, evaluation, benchmarks and the demo."""
