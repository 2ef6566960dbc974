"""A run's requests computed on a Ray cluster (``--executor ray``): replicas of one model as Ray actors.

``connect`` imports Ray only when asked for and joins (or starts) a cluster; ``resources``
decides what each replica asks the cluster for and refuses a count that cannot be placed;
``replica`` is what runs inside the actors (the backend under the run's request cache);
``pool`` is the driver's side: an lm-eval ``LM`` that splits the pending requests across the
replicas, re-dispatches a lost replica's unfinished share and records what happened.
It sits with the run (``execution/``) and imports the layers below it; the runner imports it.
"""
