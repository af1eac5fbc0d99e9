"""Concurrency checking: real threads against the kernel, judged against the sequential model.

:mod:`~helmmodel.concurrency.history` records what threads did; :mod:`.linearizability`
decides whether it could have happened one operation at a time; :mod:`.programs` generates and
runs concurrent programs; :mod:`.storm` is scenario 4's storm of 1000 calls.
"""
