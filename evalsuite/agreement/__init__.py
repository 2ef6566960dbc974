"""How far metrics and judges agree with people: SummEval's experts, the arena's voters.

Owns the data and scores the correlations are computed on (``summeval``), the G-Eval-style
judge whose scores are stored as samples (``geval``), and the arena's agreement (``arena``).
The correlations themselves are pure numbers in :mod:`evalsuite.metrics.agreement`. May import
the layers below (store, tasks, backends, identity, base) and the judged tasks' judge path.
"""
