"""Streaming reads of exports too large for memory: the batch scorer's pyarrow fast path.

Owns: the leads file in record batches and the activities file compacted to the file's leads
(`fastcsv`). May import: pipeline.config, pipeline.errors and pipeline.io (whose rules it keeps
exactly: a file it cannot read as `io.readers` would falls back to them). Apart from `io` because
it serves one caller at scale, the batch scorer, while `io` is what every stage reads through.
"""
