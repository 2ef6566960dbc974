"""Running evaluations on rented GPUs (RunPod): launching and managing pods, the pod-side entrypoint, results transports."""
