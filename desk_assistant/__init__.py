"""Desk Assistant engine: settings, storage, retrieval, answering and the CLI.

Importing this package is cheap on purpose: heavy libraries (torch, chromadb,
llama_cpp, ctransformers, llama_index) load inside the module that wraps them, on first use.
"""

__version__ = "0.1.0"
