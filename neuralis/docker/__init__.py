"""Kernels in Docker: image specs, Dockerfile rendering, builds and containers.

This package manages images and containers and hands out Kernel Gateway endpoints; it never
speaks the kernel protocol itself (that is :mod:`neuralis.kernels.gateway`). ``docker``
(docker-py) is imported only here, and only inside the functions that use it.
"""
