"""llm-lineage: a knowledge graph of the open-source LLM ecosystem."""
