"""Run Python Workers offline: Pyodide inside workerd under stock `wrangler dev` (see README.md)."""
