"""Reading a CRM export and drafting its config: everything that knows the user's file formats.

Owns: readers (csv/parquet, encodings, delimiters, dates, numbers, flags), the canonical leads and
events frames, the one rule for dates, numbers and echoed text (`rules`), the pyarrow fast path
for large files, the one atomic writer, the sample generator, the data checks of `leadscore
validate` and the config drafting of `leadscore init`.
May import: pipeline.config and pipeline.errors only. Every stage above reads data through here,
so the user's column names end at this package.
"""
