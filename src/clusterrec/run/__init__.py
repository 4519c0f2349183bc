"""``clusterrec run``: the whole method as cached stages, from a ratings file to a report.

* :mod:`~clusterrec.run.config`: the typed, validated TOML configuration.
* :mod:`~clusterrec.run.cache`: the content-addressed stage cache.
* :mod:`~clusterrec.run.measure`: seconds and peak memory of each stage.
* :mod:`~clusterrec.run.stages`: what each stage computes and how it is read back.
* :mod:`~clusterrec.run.pipeline`: :func:`run_pipeline`, the stages in order.
* :mod:`~clusterrec.run.rundir` and :mod:`~clusterrec.run.manifest`: the run directory.
"""
