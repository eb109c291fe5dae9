"""Reports for people who do not read MLflow: the model card of a training run.

Owns: turning a training result (metrics, tables, cutoffs, gate decision) into a document.
May import: every stage package below tracking (io ... serving) and the foundation; it writes
nothing itself (pipeline.tracking logs what it renders).
"""
