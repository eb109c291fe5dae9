"""Scoring new leads: files in, scores out, with rejected rows and spreadsheet-safe cells.

Owns: the scoring request (`request.py`: one `ScoreRequest`, checked once, passed down), the
rows a model needs and the rows it rejects, the streamed batch scorer (chunked, three
chunks in flight, atomic), the output columns and formatting, the REST answer record by record
(`rest.py`), scores appended to a database (`database.py`, SQLAlchemy) and scoring on Spark. May
import: io, features, explain, evaluation, monitoring, modeling and the foundation. Not mlflow: the
Spark UDF of the registered model is made in pipeline.tracking and passed in by pipeline.jobs.
"""
