"""Reports for people who do not read MLflow: the training report and the scoring report (HTML,
from the Jinja2 templates in `templates/`), and the Markdown model card of a training run.

Owns: turning a training result (metrics, tables, cutoffs, gate decision) or a scoring summary
into a document; the number formats and business words those documents use; the drivers on the
probability scale. May import: every stage package below tracking (io ... serving) and the
foundation; it imports no mlflow and writes nothing itself (pipeline.tracking logs what it
renders, pipeline.jobs writes the files).
"""
