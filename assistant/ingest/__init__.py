"""Stage 1, ingest: files under corpus/ → text with metadata (load) → tables as typed rows
(tables) and the outline of headings and lists (outline) → token-aware chunks with exact
offsets (chunk)."""
