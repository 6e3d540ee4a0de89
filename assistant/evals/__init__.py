"""Evals of known facts: cases and pure scorers (scoring), the run behind `assistant eval`
(runner), and the report folder with its charts (report)."""
