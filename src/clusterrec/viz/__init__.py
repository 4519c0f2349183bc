"""Every figure, drawn with matplotlib's object API (no pyplot, no display) from saved results.

* :mod:`~clusterrec.viz.data`: the histograms of the data; :func:`save_figure`.
* :mod:`~clusterrec.viz.clusters`: choosing L, the users in 2-D coloured by cluster.
* :mod:`~clusterrec.viz.results`: learning curves, errors per cluster, the k-fold comparison.
"""
