"""Running evaluations on rented GPUs: clouds behind one ``Provider`` protocol (``provider``; RunPod its one
implementation), the pod-side entrypoint, results transports.

May import formats, board, tasks, backends, identity, store and the base modules; the pod entry is an entry point
and may import the run.
"""
