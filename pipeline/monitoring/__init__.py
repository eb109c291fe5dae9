"""After training: drift of what is scored, and promises checked against outcomes.

Owns: the drift reference kept with the model and the PSI counters of a scoring run, and the
realised-against-promised table of `leadscore monitor`. May import: pipeline.io and the
foundation. Logging these to MLflow is pipeline.tracking's job.
"""
