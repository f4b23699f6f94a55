"""Lineage building blocks: content digests, the code version, and the chain records every stage writes."""
