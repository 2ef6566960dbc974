"""Developer tools shared by the test suite and the benchmarks (not part of the public API).

``reference_requests`` builds lm-eval requests from the real task data in
``../shared/data``; ``tiny_models`` saves randomly initialised Llamas with a real
BPE tokenizer. Tests and benches both import them from here, so a bench scores
exactly what the fidelity tests check and ``bench/`` never imports ``tests/``.
"""
