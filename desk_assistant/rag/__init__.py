"""Retrieval-augmented answering: find passages, pack them, prompt, cite."""
