"""Helpers shared by the tests: tiny problems, readers of saved files, worker processes.

Tests import them as ``support.<module>`` (pytest puts tests/ on ``sys.path``). The
worker scripts in here run as separate processes with the environment of
`support.processes.environment`, which puts the repository and tests/ on PYTHONPATH.
"""
