"""Pure logic shared by the API and processor workers (standard library only)."""
