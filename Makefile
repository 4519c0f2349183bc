# Benchmarks (not run in CI). Each writes benchmarks/results/<name>.md and .json and prints its
# table; run them one at a time on a quiet machine. `make bench` runs the three side-by-side
# benchmarks in turn (over an hour on this project's 2-core machine, most of it the accuracy
# comparison: 41 min for ML-100K alone).

PYTHON ?= .venv/bin/python

.PHONY: bench bench-accuracy bench-speed bench-scaling \
	bench-read bench-distances bench-clustering bench-tune bench-all

bench: bench-accuracy bench-speed bench-scaling

# clusterrec next to scikit-surprise and myFM on MovieLens-100K and MovieLens latest-small
# (benchmarks/accuracy.py --data seed adds the generated seed-size data), the same 5 folds for
# every system; creates
# benchmarks/data/venv-surprise and venv-myfm (pip install) on first use.
bench-accuracy:
	$(PYTHON) benchmarks/accuracy.py --data ml100k,ml-latest-small

# Each stage of the method against the notebook's approach, seed-size generated data.
bench-speed:
	$(PYTHON) benchmarks/speed_vs_notebook.py

# Time and memory with 1k, 5k, 20k users; the full-size generated set.
bench-scaling:
	$(PYTHON) benchmarks/scaling.py

bench-read:
	$(PYTHON) benchmarks/bench_read.py

bench-distances:
	$(PYTHON) benchmarks/bench_distances.py

bench-clustering:
	$(PYTHON) benchmarks/bench_clustering.py

bench-tune:
	$(PYTHON) benchmarks/tune_default_preset.py

# Every benchmark, one after the other (over an hour).
bench-all: bench bench-read bench-distances bench-clustering bench-tune
