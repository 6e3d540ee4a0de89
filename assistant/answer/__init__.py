"""Stage 3, answer: a follow-up made standalone (condense), what the question asks for
(question), the evidence and its features (evidence), the answer composed fact first
(compose) by an answerer (extractive, llm, with prompts), then validated: citations
renumbered, quotes exact, figures grounded (validate)."""
