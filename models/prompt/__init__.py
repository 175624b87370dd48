"""Prompt classification backends, one module each, behind one interface: models/prompt_cls.py
(`label_probabilities(spec, texts, backend=...)`, `predict`).  spec.py holds the prompt and its presets."""
