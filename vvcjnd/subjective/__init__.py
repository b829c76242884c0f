"""The subjective JND test: stimuli from the ladder, a browser test server, its export.

Sits between the quality and the labels stage in pipeline order: it reads the sources
manifest and the ladder records, and the labels stage reads its database
(``labels.source: test``). Submodules: ``procedures`` (pure state machines), ``schedule``
(seeded trial order), ``stimuli``, ``store`` (SQLite), ``server`` (FastAPI), ``export``.
This package's ``__init__`` imports nothing, so that the labels stage can read the
database without the web framework installed.
"""
