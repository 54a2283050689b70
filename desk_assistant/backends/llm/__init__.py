"""Local LLM runtimes (llama.cpp, ctransformers) behind one small protocol.

Nothing heavy is imported here: the model picker, the CLI and the tests read model
metadata and choose a runtime long before (or instead of) loading any weights.
"""
