"""The importer function: recording tarballs dropped in the spool bucket (reserved concurrency 1)."""
