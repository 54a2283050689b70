"""Model backends: embedding models and LLM runtimes behind small protocols."""
