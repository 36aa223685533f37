"""`harness promote`: publish exactly the files a report passed, to PyPI and to an S3 mirror.

gate.py reads report.json and decides per file; pypi.py uploads with twine's library;
s3.py uploads with boto3 and writes a PEP 503 index last; journal.py records what went
where; cli.py is the command.
"""
