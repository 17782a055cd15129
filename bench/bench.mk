# bench/ - benchmarks; each prints ratios measured side by side in one run.
bench: all
	@perl bench/run
