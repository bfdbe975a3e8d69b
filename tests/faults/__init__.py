"""The fault campaign: hostile or unlucky inputs the pipeline must survive.

Each case is a function registered with :func:`registry.case`; ``tests/test_faults.py``
runs every case as a test and ``bench/faults.py`` prints the campaign's table. Cases
live in ``cases_*.py`` modules by area; adding one is adding a decorated function.
"""
