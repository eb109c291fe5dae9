"""Segment models with a pooled fallback (`segments:` in the config).

Owns: which values of the segment column get a model of their own (enough won and lost training
leads), the paired test on each segment's validation leads that decides whether that model
serves (it must beat the pooled model there), the `SegmentedScorer` that routes each lead to the
model that serves its segment, and the segment table of the report and the card. May import:
pipeline.modeling (the fitted `LeadScorer`, `TrainingRows`), pipeline.evaluation (the paired
test, metrics) and the foundation. Training (pipeline.training.train) calls it with its own way of
fitting one scorer, so the segment models are made exactly as the pooled one.
"""
