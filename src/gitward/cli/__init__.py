"""The ``gitward`` command line: thin commands over the engine's functions."""
