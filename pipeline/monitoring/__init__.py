"""After training: drift of what is scored, and promises checked against outcomes.

Owns: the drift reference kept with the model and the PSI counters of a scoring run, and the
realised-against-promised tables of `leadscore monitor` (per stage and per grade). May import:
pipeline.io and the foundation. Logging these to MLflow is pipeline.tracking's job.
"""
