"""Kernel environments: what a notebook ran in, and the kernel images that hold it.

``record`` is pure (the ``metadata.neuralis.environment`` record, drift, the spec that rebuilds
it, ``%pip install`` spotting); ``engine`` does the Docker side (record a kernel, find or build
a record's kernel); ``jobs`` runs image builds in background threads for the pages.
"""
