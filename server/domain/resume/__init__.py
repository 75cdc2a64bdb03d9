"""Resumes: reading uploads, extracting skills and years of experience.

The modules are imported one by one (not re-exported here) so that the PDF
worker process, which imports `pdf_text`, loads pypdf and nothing else.
"""
