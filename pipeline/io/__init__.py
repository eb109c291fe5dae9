"""Reading and writing a CRM export, and nothing else: everything that knows the user's file formats.

Owns: readers (csv/parquet, encodings, delimiters), the pyarrow streaming readers of large files
(`fastcsv`: the leads file in record batches, activities compacted to the file's leads), the
activities file block by block by the same rules (`blocks`, read by a Dask engine's workers) and
the numbers about events the checks report (`eventfacts`), some leads of a large file read in
batches by the whole-file rules (`subset`: the gate's champion inputs), the one
rule for dates, numbers, yes/no flags, missing values and echoed text (`rules`), the canonical
leads and events frames, id lookups (`keys`), the one atomic writer and the scores csv writer
(`csvwrite`). May import: pipeline.config and pipeline.errors only. Every stage above reads data
through here, so the user's column names end at this package; checks, drafting and the sample
generator live in their own packages.
"""
