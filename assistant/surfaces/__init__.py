"""Where people and tools reach the assistant: the `assistant` command (cli), the Gradio chat
(ui, with its HTML in chatview), the REST service (api), the MCP server (mcp_server), and
answers rendered for a terminal (render)."""
